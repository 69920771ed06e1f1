"""A real MCP server written with the SDK's `MCPServer`, for tests: run over stdio
(`python -m tests.fakes.mcp_app stdio`) or Streamable HTTP on 127.0.0.1
(`python -m tests.fakes.mcp_app http PORT`).

Tools: `add`, `count` (appends a line to $MCP_RUNS_FILE so tests can count real runs),
`secret_env` (echoes $MCP_SECRET, proving env references reach the server), `slow`,
`fail` (raises), `grow` (adds the tool `extra` and announces the changed list), and
`exit` (the process dies, to test restarts). `MCP_EXIT_AT_START=3` exits at once with
code 3 after writing to stderr.
"""

from __future__ import annotations

import asyncio
import os
import sys

from mcp.server.mcpserver import Context, MCPServer

server = MCPServer("test-tools")


@server.tool()
async def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
async def count(label: str = "") -> str:
    """Record one run in the runs file; returns how many runs there were."""
    path = os.environ.get("MCP_RUNS_FILE")
    if not path:
        return "no runs file"
    with open(path, "a", encoding="utf-8") as f:
        f.write(label + "\n")
    with open(path, encoding="utf-8") as f:
        return f"run {len(f.readlines())}"


@server.tool()
async def secret_env() -> str:
    """What the MCP_SECRET variable holds."""
    return os.environ.get("MCP_SECRET", "(unset)")


@server.tool()
async def slow(seconds: float) -> str:
    """Sleep, then answer."""
    await asyncio.sleep(seconds)
    return "slept"


@server.tool()
async def fail() -> str:
    """Always fails."""
    raise ValueError("no luck")


@server.tool()
async def grow(ctx: Context) -> str:
    """Add the tool `extra` and tell clients the list changed."""

    async def extra() -> str:
        """A tool that appeared later."""
        return "extra!"

    server.add_tool(extra, name="extra")
    await ctx.notify_tools_changed()
    return "grown"


@server.tool()
async def exit() -> str:
    """The server process dies."""
    os._exit(9)


def main() -> None:
    code = os.environ.get("MCP_EXIT_AT_START")
    if code:
        print("fatal: cannot open the notes directory", file=sys.stderr, flush=True)
        sys.exit(int(code))
    if sys.argv[1] == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))


if __name__ == "__main__":
    main()
