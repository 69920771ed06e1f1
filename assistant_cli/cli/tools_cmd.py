"""`assistant-cli tools`: list every tool, try one, and manage remembered approvals."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from assistant_cli.cli.common import cli_state

if TYPE_CHECKING:
    from assistant_cli.config.models import Config
    from assistant_cli.paths import Paths
    from assistant_cli.store.db import Database

app = typer.Typer(
    help="List the tools the model may call (MCP servers, plugins, built-ins), try one, "
    "and list or revoke remembered approvals.",
    no_args_is_help=True, rich_markup_mode=None,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _open(ctx: typer.Context) -> tuple[Config, Paths, Database, Any]:
    from assistant_cli.secrets.store import SecretStore
    from assistant_cli.store.db import Database

    state = cli_state(ctx)
    config = state.load_config()
    paths = state.paths
    db = Database(paths.database)
    secrets = SecretStore(paths, db)

    def resolve(ref: str, key: str) -> str:
        return secrets.resolve(ref, key=key)

    return config, paths, db, resolve


@app.command("list")
def list_tools(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Every tool (name, source, description, policy), and servers that failed to start.

    MCP servers are started (or connected to) for the listing and stopped after it.

    Example: assistant-cli tools list --json
    """
    import asyncio

    from assistant_cli.app.tools_setup import connected_tools
    from assistant_cli.tools.policy import ToolPolicy

    config, _, db, resolve = _open(ctx)
    policy = ToolPolicy(config.tools.policy)

    async def collect() -> dict[str, Any]:
        async with connected_tools(config.tools, db, resolve, config.plugins) as (registry, _hub):
            tools = [{"name": t.name, "source": t.source, "description": t.description,
                      "allow": policy.rule_for(t.name).allow,
                      "confirm": policy.rule_for(t.name).confirm} for t in registry.all()]
            return {"tools": tools, "failed": dict(registry.failures)}

    found = asyncio.run(collect())
    if json_out:
        print(json.dumps(found, indent=2))
        return
    if not found["tools"]:
        print("no tools: enable built-ins or add MCP servers under `tools:` in config.yaml")
    for t in found["tools"]:
        confirm = "asks first" if t["confirm"] else "no confirmation"
        print(f"{t['name']}\t{t['source']}\t{t['allow']}, {confirm}\t{t['description']}")
    for name, reason in found["failed"].items():
        print(f"failed: {name}: {reason}")


@app.command("test")
def test_tool(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The tool, as `tools list` shows it.")],
    args: Annotated[str, typer.Option("--args", help="Arguments as a JSON object.")] = "{}",
    json_out: JsonOpt = False,
) -> None:
    """Run one tool call here (no confirmation: you are the owner) and print the result
    and the time it took. The call is audited.

    Example: assistant-cli tools test files.read_text --args '{"path": "a.txt"}'
    """
    import asyncio

    from assistant_cli.app.tools_setup import connected_tools
    from assistant_cli.domain.events import EventBus
    from assistant_cli.domain.tools import ToolCall
    from assistant_cli.errors import ToolError, UsageError
    from assistant_cli.store.audit import open_audit, os_actor
    from assistant_cli.tools.base import Caller
    from assistant_cli.tools.executor import Execution, ToolExecutor
    from assistant_cli.tools.gate import arguments_digest

    try:
        if not isinstance(json.loads(args), dict):
            raise ValueError
    except ValueError:
        raise UsageError(f"--args {args!r} is not a JSON object",
                         hint='write it like --args \'{"path": "a.txt"}\'') from None
    config, paths, db, resolve = _open(ctx)

    async def call() -> Execution:
        async with connected_tools(config.tools, db, resolve, config.plugins) as (registry, _hub):
            if registry.get(name) is None:
                known = ", ".join(t.name for t in registry.all()) or "none"
                raise ToolError(f"no tool named {name!r} (known: {known})",
                                hint="`assistant-cli tools list` shows every tool")
            executor = ToolExecutor(registry, EventBus(), timeout=config.tools.timeout,
                                    max_result_chars=config.tools.max_result_chars)
            return await executor.run(ToolCall("cli-test", name, args),
                                      Caller("console", os_actor(), "local"))

    from assistant_cli.secrets.store import SecretStore

    done = asyncio.run(call())
    open_audit(db, SecretStore(paths, db)).append(
        "tools.test", name, done.outcome, arguments_sha256=arguments_digest(args))
    if json_out:
        print(json.dumps({"tool": name, "outcome": done.outcome, "result": done.result.content,
                          "duration_ms": done.duration_ms}, indent=2))
    else:
        print(done.result.content)
        print(f"({done.outcome}, {done.duration_ms:.0f} ms)")
    if done.outcome != "ok":
        raise typer.Exit(1)


@app.command("approvals")
def approvals(
    ctx: typer.Context,
    revoke: Annotated[int | None, typer.Option(
        "--revoke", metavar="ID", help="Revoke the remembered approval with this id.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List remembered approvals ("Allow in this chat", "Always"), or revoke one.

    Example: assistant-cli tools approvals --revoke 3
    """
    from assistant_cli.errors import UsageError
    from assistant_cli.secrets.store import SecretStore
    from assistant_cli.store.audit import open_audit
    from assistant_cli.store.db import Database
    from assistant_cli.store.tool_calls import ApprovalStore

    paths = cli_state(ctx).paths
    db = Database(paths.database)
    store = ApprovalStore(db)
    if revoke is not None:
        audit = open_audit(db, SecretStore(paths, db))
        _ = audit.key  # fail before changing anything if the audit key is out of reach
        gone = store.revoke(revoke)
        if gone is None:
            raise UsageError(f"no active approval with id {revoke}",
                             hint="`assistant-cli tools approvals` lists them with their ids")
        audit.append("tools.approval_revoke", gone.tool, "ok",
                     sender=f"{gone.platform}:{gone.sender_id}", scope=gone.scope)
        print(f"revoked approval {revoke}: {gone.tool} for {gone.platform} user "
              f"{gone.sender_id}")
        return
    rows = [{"id": a.id, "tool": a.tool, "platform": a.platform, "sender_id": a.sender_id,
             "chat_id": a.chat_id, "scope": a.scope, "created_at": a.created_at}
            for a in store.active()]
    if json_out:
        print(json.dumps(rows, indent=2))
        return
    if not rows:
        print("no remembered approvals")
    for r in rows:
        where = "everywhere" if r["scope"] == "always" else f"in chat {r['chat_id']}"
        print(f"{r['id']}\t{r['tool']}\t{r['platform']}:{r['sender_id']}\t{where}")
