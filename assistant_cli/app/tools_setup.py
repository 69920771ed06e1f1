"""Assembling the tools of one `serve` run: built-ins, plugins, MCP servers, the loop."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from assistant_cli.engine.tool_loop import ToolLoop, sender_level
from assistant_cli.store.tool_calls import ApprovalStore, MemoryStore, ToolCallLog
from assistant_cli.tools.builtins import builtin_tools
from assistant_cli.tools.executor import ToolExecutor
from assistant_cli.tools.gate import Auditor, ToolGate
from assistant_cli.tools.mcp_client import McpHub, Resolver
from assistant_cli.tools.plugins import load_plugin_tools
from assistant_cli.tools.policy import ToolPolicy
from assistant_cli.tools.registry import ToolRegistry

if TYPE_CHECKING:
    from assistant_cli.config.models import PluginsConfig, ToolsConfig
    from assistant_cli.domain.events import EventBus
    from assistant_cli.store.db import Database
    from assistant_cli.store.pairing import PairingStore


def local_registry(config: ToolsConfig, db: Database,
                   plugins: PluginsConfig | None = None) -> ToolRegistry:
    """Built-ins and plugin tools not disabled in `plugins` (MCP servers add theirs once
    connected)."""
    registry = ToolRegistry()
    for tool in builtin_tools(config.builtins, MemoryStore(db)):
        registry.add(tool)
    load_plugin_tools(registry, plugins)
    return registry


def build_tool_loop(config: ToolsConfig, db: Database, events: EventBus, audit: Auditor,
                    registry: ToolRegistry, platforms: dict[str, Any],
                    pairing: PairingStore) -> ToolLoop | None:
    """The turn's tool loop, or None when there is no tool at all (no cost per turn)."""
    if not registry.all() and not config.mcp_servers:
        return None
    gate = ToolGate(ToolPolicy(config.policy), ApprovalStore(db), events, audit,
                    confirm_timeout=config.confirm_timeout)
    executor = ToolExecutor(registry, events, timeout=config.timeout,
                            max_result_chars=config.max_result_chars)
    return ToolLoop(registry, executor, gate, ToolCallLog(db), config,
                    sender_level(platforms, pairing), memory=MemoryStore(db))


@contextlib.asynccontextmanager
async def connected_tools(config: ToolsConfig, db: Database, resolve: Resolver,
                          plugins: PluginsConfig | None = None
                          ) -> AsyncIterator[tuple[ToolRegistry, McpHub]]:
    """Every tool, MCP servers connected (each within its start_timeout), for the short
    commands `tools list` and `tools test`; the servers stop on exit."""
    registry = local_registry(config, db, plugins)
    hub = McpHub(config.mcp_servers, resolve, registry)
    await hub.start()
    try:
        yield registry, hub
    finally:
        await hub.stop()
