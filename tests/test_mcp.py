"""MCP servers through the SDK's client: a real server (tests/fakes/mcp_app.py, written with
`MCPServer`) over stdio and over Streamable HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant_cli.config.models import McpServerConfig
from assistant_cli.domain.events import EventBus
from assistant_cli.errors import ToolError
from assistant_cli.tools.mcp_client import McpHub, McpServer
from assistant_cli.tools.registry import ToolRegistry

ROOT = Path(__file__).resolve().parent.parent
APP = ["-m", "tests.fakes.mcp_app"]


def stdio(**env: str) -> McpServerConfig:
    return McpServerConfig(command=sys.executable, args=[*APP, "stdio"], cwd=str(ROOT),
                           env=env, start_timeout=20)


def resolver(ref: str, key: str) -> str:
    secrets = {"keyring:mcp_secret": "s3cret-value"}
    return secrets[ref]


async def wait_until(check: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_stdio_server_tools_calls_secrets_and_list_changes(tmp_path: Path) -> None:
    registry = ToolRegistry()
    events = EventBus()
    sub = events.subscribe()
    runs = tmp_path / "runs"
    hub = McpHub({"t": stdio(MCP_SECRET="keyring:mcp_secret", MCP_RUNS_FILE=str(runs))},
                 resolver, registry, events)
    await hub.start()
    try:
        [server] = hub.servers
        assert server.state == "ready" and server.started_ms is not None
        names = [t.name for t in registry.all()]
        assert {"t.add", "t.count", "t.fail"} <= set(names)
        add = registry.get("t.add")
        assert add is not None and add.source == "mcp"
        assert add.parameters["required"] == ["a", "b"]
        assert await add.run({"a": 2, "b": 3}) == "5"
        secret = registry.get("t.secret_env")
        assert secret is not None and await secret.run({}) == "s3cret-value"
        fail = registry.get("t.fail")
        assert fail is not None
        with pytest.raises(ToolError, match="Error executing tool fail"):
            await fail.run({})
        grow = registry.get("t.grow")
        assert grow is not None and registry.get("t.extra") is None
        await grow.run({})
        await wait_until(lambda: registry.get("t.extra") is not None)
        assert sub.queue.qsize() > 0
        seen = [sub.queue.get_nowait().name for _ in range(sub.queue.qsize())]
        assert "mcp.ready" in seen and seen.count("mcp.tools") >= 2
    finally:
        await hub.stop()
    assert registry.all() == []


async def test_server_that_exits_at_start_says_why() -> None:
    registry = ToolRegistry()
    server = McpServer("notes", stdio(MCP_EXIT_AT_START="3"), resolver, registry,
                       backoff=(30.0,))
    try:
        assert not await server.start()
        assert server.state == "failed"
        assert server.error is not None
        assert "fatal: cannot open the notes directory" in server.error
        assert registry.failures["notes"] == server.error
    finally:
        await server.stop()


async def test_missing_command_is_named() -> None:
    registry = ToolRegistry()
    server = McpServer("x", McpServerConfig(command="no-such-mcp-server-cmd"), resolver,
                       registry, backoff=(30.0,))
    try:
        assert not await server.start()
        assert server.error is not None and "command not found: no-such-mcp-server-cmd" in (
            server.error)
    finally:
        await server.stop()


async def test_server_that_dies_is_restarted_with_its_tools(tmp_path: Path) -> None:
    registry = ToolRegistry()
    server = McpServer("t", stdio(), resolver, registry, backoff=(0.1,))
    try:
        assert await server.start()
        die = registry.get("t.exit")
        assert die is not None
        with pytest.raises(ToolError):
            await die.run({})
        await wait_until(lambda: server.restarts >= 1 and server.state == "ready")
        add = registry.get("t.add")
        assert add is not None and await add.run({"a": 1, "b": 1}) == "2"
    finally:
        await server.stop()


@pytest.fixture
def http_server() -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, *APP, "http", str(port)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(10)


async def test_streamable_http_server(http_server: str) -> None:
    registry = ToolRegistry()
    config = McpServerConfig(url=http_server, headers={"X-Token": "keyring:mcp_secret"})
    server = McpServer("web", config, resolver, registry, backoff=(30.0,))
    try:
        assert await server.start(), server.error
        add = registry.get("web.add")
        assert add is not None and await add.run({"a": 20, "b": 22}) == "42"
        assert server.transport == "http"
    finally:
        await server.stop()


async def test_unreachable_http_server_fails_with_reason() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    registry = ToolRegistry()
    server = McpServer("gone", McpServerConfig(url=f"http://127.0.0.1:{port}/mcp",
                                               start_timeout=5), resolver, registry,
                       backoff=(30.0,))
    try:
        assert not await server.start()
        assert server.error and "gone" in registry.failures
    finally:
        await server.stop()
