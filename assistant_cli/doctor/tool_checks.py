"""Doctor checks of MCP servers: each starts (or connects), lists its tools, in time.

`assistant_cli.tools.mcp_client` (and with it the `mcp` SDK) is imported inside functions:
the other doctor checks, and configs without MCP servers, never pay for it."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from assistant_cli.doctor.base import Check, DoctorContext, Result, fail, in_thread, ok
from assistant_cli.errors import SecretError
from assistant_cli.tools.registry import ToolRegistry

if TYPE_CHECKING:
    from assistant_cli.config.models import Config, McpServerConfig


def mcp_checks(config: Config) -> list[Check]:
    """One check per enabled MCP server; servers reached over HTTP are network checks."""
    return [Check(f"tools.mcp.{name}", f"MCP server {name}: starts or connects, lists tools",
                  functools.partial(check_mcp_server, name=name), network=bool(cfg.url),
                  timeout=cfg.start_timeout + 10)
            for name, cfg in config.tools.mcp_servers.items() if cfg.enabled]


def _resolved(ctx: DoctorContext, name: str, cfg: McpServerConfig) -> dict[str, str]:
    """Secret references in env and headers, resolved off the event loop."""
    from assistant_cli.tools.mcp_client import is_reference

    out: dict[str, str] = {}
    for part, values in (("env", cfg.env), ("headers", cfg.headers)):
        for key, value in values.items():
            if is_reference(value):
                out[value] = ctx.resolve(value, f"tools.mcp_servers.{name}.{part}.{key}")
    return out


async def check_mcp_server(ctx: DoctorContext, *, name: str) -> Result:
    from assistant_cli.tools.mcp_client import McpServer

    cfg = ctx.config().tools.mcp_servers[name]
    try:
        resolved = await in_thread(_resolved, ctx, name, cfg)
    except SecretError as exc:
        return fail(exc.message, exc.hint or "store the secret")
    server = McpServer(name, cfg, lambda ref, key: resolved[ref], ToolRegistry(),
                       backoff=(3600.0,))
    try:
        ready = await server.start()
        tools = server.tool_names
    finally:
        await server.stop()
    where = cfg.url or cfg.command
    if not ready:
        return fail(f"{where}: {server.error}",
                    f"check tools.mcp_servers.{name} (command, args, env / url, headers); "
                    "`assistant-cli tools list` shows the same reason", transport=server.transport)
    return ok(f"{where}: {len(tools)} tool(s) in {server.started_ms:.0f} ms",
              tools=tools, started_ms=server.started_ms, transport=server.transport)
