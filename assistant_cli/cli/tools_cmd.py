"""`assistant-cli tools`: list every tool, try one, and manage remembered approvals."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from assistant_cli.cli import output
from assistant_cli.cli.common import cli_state

if TYPE_CHECKING:
    from assistant_cli.config.models import Config
    from assistant_cli.paths import Paths
    from assistant_cli.store.db import Database

app = typer.Typer(
    help="List the tools the model may call (MCP servers, plugins, built-ins), try one, "
    "and list or revoke remembered approvals.\n\nExample: assistant-cli tools list",
    no_args_is_help=True, rich_markup_mode=None,
)


def _open(ctx: typer.Context) -> tuple[Config, Paths, Database, Any]:
    from assistant_cli.secrets.store import SecretStore
    from assistant_cli.store.backend import open_database

    state = cli_state(ctx)
    config = state.load_config()
    paths = state.paths
    db = open_database(paths, config.state)
    secrets = SecretStore(paths, db)

    def resolve(ref: str, key: str) -> str:
        return secrets.resolve(ref, key=key)

    return config, paths, db, resolve


@app.command("list")
def list_tools(ctx: typer.Context, json_out: output.JsonOpt = False) -> None:
    """Every tool (name, source, who may call it, whether it asks first, description);
    servers that failed to start are named on stderr.

    MCP servers are started (or connected to) for the listing and stopped after it.
    Piped, each row is tab-separated: name, source, allow, confirm (yes/no), description.

    Example: assistant-cli tools list | cut -f1
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
        output.print_json(found)
        return
    for name, reason in found["failed"].items():
        print(f"warning: MCP server {name} failed: {reason}", file=sys.stderr)
    if not found["tools"]:
        output.say_empty("no tools: enable built-ins or add MCP servers under `tools:` in "
                         "config.yaml")
        return
    table = output.Table(("name", "source", "allow", "confirm", "description"))
    for t in found["tools"]:
        table.add(t["name"], t["source"], t["allow"], "yes" if t["confirm"] else "no",
                  t["description"])
    output.print_table(table)


@app.command("test")
def test_tool(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The tool, as `tools list` shows it.")],
    args: Annotated[str, typer.Option("--args", help="Arguments as a JSON object.")] = "{}",
    json_out: output.JsonOpt = False,
) -> None:
    """Run one tool call here (no confirmation: you are the owner) and print the result
    and the time it took. The call is audited. Piped, stdout is the result alone and the
    outcome and time go to stderr.

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
        output.print_json({"tool": name, "outcome": done.outcome,
                           "result": done.result.content, "duration_ms": done.duration_ms})
    else:
        print(done.result.content)
        # Piped, stdout is the tool's result alone (for jq and friends); the verdict is noise.
        print(f"({done.outcome}, {done.duration_ms:.0f} ms)",
              file=sys.stdout if output.stdout_is_tty() else sys.stderr)
    if done.outcome != "ok":
        raise typer.Exit(1)


@app.command("approvals")
def approvals(
    ctx: typer.Context,
    revoke: Annotated[int | None, typer.Option(
        "--revoke", metavar="ID", help="Revoke the remembered approval with this id.")] = None,
    json_out: output.JsonOpt = False,
) -> None:
    """List remembered approvals ("Allow in this chat", "Always"), or revoke one.

    Piped, each row is tab-separated: id, tool, platform:sender, scope (chat or always),
    chat (- for always), since (UTC).

    Example: assistant-cli tools approvals --revoke 3
    """
    from assistant_cli.errors import UsageError
    from assistant_cli.secrets.store import SecretStore
    from assistant_cli.store.audit import open_audit
    from assistant_cli.store.tool_calls import ApprovalStore

    paths = cli_state(ctx).paths
    db = cli_state(ctx).open_db()
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
    rows = store.active()
    if json_out:
        output.print_json({"approvals": [
            {"id": a.id, "tool": a.tool, "platform": a.platform, "sender_id": a.sender_id,
             "chat_id": a.chat_id, "scope": a.scope, "created_at": output.iso(a.created_at)}
            for a in rows]})
        return
    if not rows:
        output.say_empty("no remembered approvals")
        return
    table = output.Table(("#", "tool", "sender", "scope", "chat", "since"))
    for a in rows:
        table.add(str(a.id), a.tool, f"{a.platform}:{a.sender_id}", a.scope,
                  a.chat_id if a.scope != "always" and a.chat_id else "-",
                  output.iso(a.created_at) or "")
    output.print_table(table)
