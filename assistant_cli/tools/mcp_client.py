"""MCP servers as tool sources, through the official `mcp` SDK's client (stdio and
Streamable HTTP): started with `serve` concurrently, each within its time limit, kept
connected (restarted with backoff when they die), tool lists refreshed when a server says
they changed. Their tools appear as `server.tool`. The SDK is imported inside functions:
it is heavy, and only a serve with MCP servers configured needs it.

Secrets in `env` and `headers` are keyring:/env: references resolved here, at the edge;
their values are blanked out of every error text we keep or log.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import tempfile
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, TextIO

from assistant_cli.config.models import McpServerConfig
from assistant_cli.domain.events import Event, McpFailed, McpReady, McpToolsChanged
from assistant_cli.errors import AssistantError, ToolError
from assistant_cli.tools.base import Tool
from assistant_cli.tools.registry import ToolRegistry

if TYPE_CHECKING:
    from mcp import Client

    from assistant_cli.domain.events import EventBus

log = logging.getLogger("assistant_cli.tools.mcp")

BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0)
Resolver = Callable[[str, str], str]


def is_reference(value: str) -> bool:
    return value.startswith(("keyring:", "env:"))


class McpServer:
    """One configured server, kept connected by a supervising task."""

    def __init__(self, name: str, config: McpServerConfig, resolve: Resolver,
                 registry: ToolRegistry, events: EventBus | None = None, *,
                 backoff: tuple[float, ...] = BACKOFF) -> None:
        self.name = name
        self.config = config
        self.resolve = resolve
        self.registry = registry
        self.events = events
        self.backoff = backoff
        self.state = "stopped"  # starting, ready, failed, stopped
        self.error: str | None = None
        self.started_ms: float | None = None  # time to connect and list tools
        self.restarts = 0
        self._client: Client | None = None
        self._ready = asyncio.Event()
        self._lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._secrets: set[str] = set()
        self._refreshing: set[asyncio.Task[None]] = set()

    @property
    def transport(self) -> str:
        return "stdio" if self.config.command else "http"

    @property
    def tool_names(self) -> list[str]:
        return [t.name for t in self.registry.all() if t.name.startswith(self.name + ".")]

    async def start(self) -> bool:
        """Connect (or start the process) within `start_timeout`; True when ready. A server
        that is not ready keeps being retried in the background."""
        self.state = "starting"
        self._task = asyncio.create_task(self._supervise(), name=f"mcp-{self.name}")
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout=self.config.start_timeout)
        if self.state == "starting":
            self._fail(f"did not start within {self.config.start_timeout:g} s")
        return self.state == "ready"

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self.state = "stopped"
        self.registry.replace_prefix(self.name, [])

    async def _supervise(self) -> None:
        failures = 0
        while True:
            started = time.monotonic()
            try:
                await self._connect()
                reason = "the connection ended"
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # anyio wraps failures in exception groups
                reason = self._reason(exc)
            self._client = None
            self._fail(reason)
            # A server that ran a while before dying gets the first backoff step again.
            failures = 1 if time.monotonic() - started > 60 else failures + 1
            delay = self.backoff[min(failures - 1, len(self.backoff) - 1)]
            await asyncio.sleep(delay)
            self.restarts += 1
            log.info("restarting MCP server %s (attempt %d)", self.name, failures + 1,
                     extra={"event": "mcp.restart", "fields": {"server": self.name}})

    async def _connect(self) -> None:
        from mcp import Client

        started = time.monotonic()
        self._lost.clear()
        with self._stderr() as errlog:
            try:
                async with Client(self._transport(errlog), mode="auto",
                                  message_handler=self._on_message) as client:
                    self._client = client
                    await self.refresh()
                    self.started_ms = round((time.monotonic() - started) * 1000, 1)
                    self.state, self.error = "ready", None
                    self.registry.failures.pop(self.name, None)
                    self._ready.set()
                    self._publish(McpReady(server=self.name, tools=len(self.tool_names),
                                           started_ms=self.started_ms))
                    await self._watch(client)
            except BaseException as exc:
                if errlog is not None and not isinstance(exc, asyncio.CancelledError):
                    raise ToolError(self._with_stderr(self._reason(exc), errlog)) from None
                raise

    @contextlib.contextmanager
    def _stderr(self) -> Any:
        if self.transport != "stdio":
            yield None
            return
        # A real file: the child process writes its stderr straight into it.
        with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as f:
            yield f

    def _transport(self, errlog: TextIO | None) -> Any:
        if self.config.command:
            from mcp.client.stdio import StdioServerParameters, stdio_client

            env = {k: self._secret(v, f"env.{k}") for k, v in self.config.env.items()}
            params = StdioServerParameters(command=self.config.command, args=self.config.args,
                                           env=env or None, cwd=self.config.cwd)
            return stdio_client(params, errlog=errlog) if errlog else stdio_client(params)
        import httpx2
        from mcp.client.streamable_http import streamable_http_client

        headers = {k: self._secret(v, f"headers.{k}") for k, v in self.config.headers.items()}
        http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0, read=300.0))
        assert self.config.url is not None  # the config allows command or url
        return _owning(http, streamable_http_client(self.config.url, http_client=http))

    def _secret(self, value: str, key: str) -> str:
        if not is_reference(value):
            return value
        resolved = self.resolve(value, f"tools.mcp_servers.{self.name}.{key}")
        self._secrets.add(resolved)
        return resolved

    async def _watch(self, client: Client) -> None:
        """Refresh the tool list on every change until the connection is lost."""
        from mcp.client.subscriptions import ListenNotSupportedError

        try:
            async with client.listen(tools_list_changed=True) as changes:
                async for _ in changes:
                    await self.refresh()
        except ListenNotSupportedError:
            # An older server: notifications come through the message handler, and a
            # failed call tells us the connection is gone.
            await self._lost.wait()

    async def _on_message(self, message: Any) -> None:
        # Servers of protocol versions before 2026-07-28 announce changes unasked.
        if getattr(message, "method", None) == "notifications/tools/list_changed":
            task = asyncio.create_task(self.refresh())
            self._refreshing.add(task)
            task.add_done_callback(self._refreshing.discard)

    async def refresh(self) -> None:
        """Ask the server for its tools and publish them as `server.tool`."""
        client = self._client
        if client is None:
            return
        tools: list[Tool] = []
        cursor: str | None = None
        for _ in range(100):  # pages; a server whose cursor never ends cannot hang us
            page = await client.list_tools(cursor=cursor, cache_mode="refresh")
            tools += [self._tool(t.name, t.description or "", dict(t.input_schema))
                      for t in page.tools]
            cursor = page.next_cursor
            if cursor is None:
                break
        self.registry.replace_prefix(self.name, tools)
        self._publish(McpToolsChanged(server=self.name, tools=len(tools)))

    def _tool(self, remote: str, description: str, schema: dict[str, Any]) -> Tool:
        summary = description.strip().split("\n\n", 1)[0]
        return Tool(f"{self.name}.{remote}", " ".join(summary.split()), schema,
                    partial(self.call, remote), "mcp")

    async def call(self, remote: str, arguments: dict[str, Any]) -> str:
        """Call one of this server's tools; an error result or a lost server raises."""
        client = self._client
        if client is None:
            raise ToolError(f"MCP server {self.name} is not connected: {self.error}")
        try:
            result = await client.call_tool(remote, arguments)
        except Exception as exc:
            if "closed" in str(exc).lower():
                self._lost.set()
            raise ToolError(self._redact(f"{type(exc).__name__}: {exc}")) from None
        text = _content_text(result)
        if getattr(result, "is_error", False):
            raise ToolError(text or "the tool reported an error")
        return text

    def _fail(self, reason: str) -> None:
        reason = self._redact(reason)
        self.state, self.error = "failed", reason
        self.registry.replace_prefix(self.name, [])
        self.registry.failures[self.name] = reason
        self._ready.set()
        log.warning("MCP server %s: %s", self.name, reason,
                    extra={"event": "mcp.failed", "fields": {"server": self.name}})
        self._publish(McpFailed(server=self.name, error=reason))

    def _reason(self, exc: BaseException) -> str:
        leaf = _leaf(exc)
        if isinstance(leaf, FileNotFoundError) and self.config.command:
            return (f"command not found: {self.config.command} (install it, or give its full "
                    "path in tools.mcp_servers." + self.name + ".command)")
        if isinstance(leaf, AssistantError):
            return leaf.message
        status = getattr(getattr(leaf, "response", None), "status_code", None)
        if status is not None:
            hint = " (check the headers: authentication failed)" if status in (401, 403) else ""
            return f"HTTP {status} from {self.config.url}{hint}"
        return f"{type(leaf).__name__}: {leaf}"

    def _with_stderr(self, reason: str, errlog: TextIO) -> str:
        with contextlib.suppress(OSError, ValueError):
            errlog.seek(0)
            tail = [line for line in errlog.read().splitlines() if line.strip()][-5:]
            if tail:
                return f"{reason}; the server exited; its last stderr lines: " + " | ".join(tail)
        return reason

    def _redact(self, text: str) -> str:
        for value in self._secrets:
            if value:
                text = text.replace(value, "***")
        return text

    def _publish(self, event: Event) -> None:
        if self.events is not None:
            self.events.publish(event)


@contextlib.asynccontextmanager
async def _owning(http: Any, transport: Any) -> Any:
    """The transport, closing our HTTP client after it (the SDK leaves a given one open)."""
    async with http, transport as streams:
        yield streams


def _leaf(exc: BaseException) -> BaseException:
    """The first real error inside (nested) exception groups."""
    while inner := getattr(exc, "exceptions", None):
        exc = inner[0]
    return exc


def _content_text(result: Any) -> str:
    parts: list[str] = []
    for item in getattr(result, "content", None) or []:
        kind = getattr(item, "type", "")
        if kind == "text":
            parts.append(item.text)
        else:
            parts.append(f"[{kind} content]")
    if not parts and getattr(result, "structured_content", None) is not None:
        return json.dumps(result.structured_content, ensure_ascii=False)
    return "\n".join(parts)


class McpHub:
    """Every configured MCP server: started together, stopped together, reported."""

    def __init__(self, configs: dict[str, McpServerConfig], resolve: Resolver,
                 registry: ToolRegistry, events: EventBus | None = None) -> None:
        self.servers = [McpServer(name, cfg, resolve, registry, events)
                        for name, cfg in configs.items() if cfg.enabled]

    async def start(self) -> None:
        await asyncio.gather(*(server.start() for server in self.servers))

    async def stop(self) -> None:
        await asyncio.gather(*(server.stop() for server in self.servers))
