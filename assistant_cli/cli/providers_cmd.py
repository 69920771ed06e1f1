"""`assistant-cli providers`: list, add, remove, test and sign in to model providers."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from assistant_cli.cli import output, providers_add, providers_login
from assistant_cli.cli.common import cli_state
from assistant_cli.cli.providers_support import (
    describe_auth,
    open_session,
    require,
    role_of,
    run_async,
)

if TYPE_CHECKING:
    from assistant_cli.config.models import Config
    from assistant_cli.providers.probe import Report

app = typer.Typer(
    help="List, add, test and remove model providers, and sign in to OAuth ones. Secrets go "
    "to the keyring; everything else to config.yaml, whose comments and layout are kept.",
    no_args_is_help=True, rich_markup_mode=None,
)

NameArg = Annotated[str, typer.Argument(help="The provider's name in config.yaml.")]


@app.command("list")
def list_(
    ctx: typer.Context,
    usage: Annotated[bool, typer.Option(
        "--usage", help="Add tokens in/out per provider (today and 30 days, UTC) and per "
        "sender today.")] = False,
    json_out: output.JsonOpt = False,
) -> None:
    """List providers: kind, model, auth, place in the failover order, last known health."""
    from assistant_cli.store.usage import HealthLog, UsageLedger

    config = cli_state(ctx).load_config()
    session = open_session(ctx)
    health = HealthLog(session.db).latest()
    ledger = UsageLedger(session.db)
    today = {r.key: r for r in ledger.totals("provider")} if usage else {}
    month = {r.key: r for r in ledger.totals("provider", days=30)} if usage else {}
    rows: list[dict[str, Any]] = []
    for name, cfg in config.providers.items():
        h = health.get(name)
        row: dict[str, Any] = {
            "name": name, "kind": cfg.kind, "model": cfg.model, "base_url": cfg.base_url,
            "auth": describe_auth(cfg), "role": role_of(config, name),
            "health": None if h is None else {
                "ok": h.ok, "checked_at": h.checked_at, "kind": h.kind, "status": h.status,
                "latency_ms": h.latency_ms, "source": h.source, "detail": h.detail}}
        if usage:
            row["usage"] = {span: {"requests": r.requests, "tokens_in": r.prompt_tokens,
                                   "tokens_out": r.completion_tokens, "estimated": r.estimated}
                            if r else None
                            for span, r in (("today", today.get(name)),
                                            ("30d", month.get(name)))}
        rows.append(row)
    senders = ledger.totals("sender") if usage else []
    if json_out:
        out: dict[str, Any] = {"providers": [_iso_health(r) for r in rows]}
        if usage:
            out["senders_today"] = [{"sender": r.key, "requests": r.requests,
                                     "tokens_in": r.prompt_tokens,
                                     "tokens_out": r.completion_tokens} for r in senders]
        output.print_json(out)
        return
    _print_list(config, rows, senders, usage)


app.command("add")(providers_add.add)


def _iso_health(row: dict[str, Any]) -> dict[str, Any]:
    h = row["health"]
    return row if h is None else {**row, "health": {**h, "checked_at": output.iso(h["checked_at"])}}


def _print_list(config: Config, rows: list[dict[str, Any]], senders: list[Any],
                usage: bool) -> None:
    """Piped: providers (name, kind, model, auth, role, health), then with --usage a blank
    line and per provider (name, requests today, today in/out, 30 days in/out), then a blank
    line and per sender (sender, requests, tokens in, tokens out)."""
    if not rows:
        output.say_empty("no providers yet; add one with `assistant-cli providers add NAME --kind "
                  "openai --model MODEL`")
        return
    tty = output.stdout_is_tty()
    table = output.Table(("name", "kind", "model", "auth", "role", "health"), title="Providers")
    now = time.time()
    for r in rows:
        h = r["health"]
        if h is None:
            health = output.Cell("never checked", "dim")
        else:
            what = "ok" if h["ok"] else (h["kind"] or "failed")
            when = f"{_ago(now - h['checked_at'])} ago" if tty else output.iso(h["checked_at"])
            health = output.Cell(f"{what} {when} ({h['source']})", "green" if h["ok"] else "red")
        table.add(r["name"], r["kind"], r["model"], r["auth"], r["role"], health)
    tables = [table]
    if usage:
        spent = output.Table(("provider", "requests today", "today in/out", "30 days in/out"),
                      title="Tokens (UTC days; ~ = partly estimated)")
        for r in rows:
            today = r["usage"]["today"]
            spent.add(r["name"], str(today["requests"] if today else 0), _tokens(today),
                      _tokens(r["usage"]["30d"]))
        per = output.Table(("sender", "requests", "tokens in", "tokens out"),
                    title="Senders today (UTC)")
        for s in senders:
            per.add(s.key, str(s.requests), f"{s.prompt_tokens:,}", f"{s.completion_tokens:,}")
        tables += [spent, per]
    output.print_tables(tables)
    if config.assistant.daily_token_cap_per_sender and usage and tty:
        print(f"daily cap per sender: {config.assistant.daily_token_cap_per_sender:,} tokens")


def _tokens(u: dict[str, int] | None) -> str:
    if not u:
        return "-"
    mark = "~" if u["estimated"] else ""
    return f"{mark}{u['tokens_in']:,} / {mark}{u['tokens_out']:,}"


def _ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@app.command()
def remove(
    ctx: typer.Context,
    name: NameArg,
    keep_secrets: Annotated[bool, typer.Option(
        "--keep-secrets", help="Leave its API key / client secret / tokens in the keyring.")]
    = False,
) -> None:
    """Remove a provider from config.yaml (and from the fallbacks), and the keyring entries
    that `providers add` created for it."""
    from assistant_cli.config.edit import open_editor, save
    from assistant_cli.errors import UsageError

    state = cli_state(ctx)
    config = state.load_config()
    cfg = require(config, name)
    others = [n for n in config.providers if n != name]
    editor = open_editor(state.paths.config_file)
    if config.assistant.provider == name:
        if others:
            raise UsageError(f"{name!r} is the default provider",
                             hint=f"choose another first: `assistant-cli providers set-default "
                             f"{others[0]}`")
        editor.remove(("assistant", "provider"))
    if name in config.assistant.fallbacks:
        editor.set(("assistant", "fallbacks"),
                   [n for n in config.assistant.fallbacks if n != name])
    editor.remove(("providers", name))
    session = open_session(ctx)
    audit = session.audit()
    new_config = save(state.paths.config_file, editor)
    removed = [] if keep_secrets else _drop_secrets(session, name, cfg, new_config)
    audit.append("providers.remove", name, "ok", kind=cfg.kind, secrets_removed=removed)
    extra = f"; removed {', '.join(removed)} from the keyring" if removed else ""
    print(f"removed provider {name}{extra}")


def _drop_secrets(session: Any, name: str, cfg: Any, remaining: Config) -> list[str]:
    """Keyring entries `providers add` made for this provider that nothing else uses."""
    from assistant_cli.providers.oauth_tokens import secret_name

    still_used = {c.api_key for c in remaining.providers.values()} | {
        c.auth.client_secret for c in remaining.providers.values() if c.auth}
    refs = [cfg.api_key, cfg.auth.client_secret if cfg.auth else None]
    ours = {f"keyring:{name}_api_key", f"keyring:{name}_client_secret"}
    names = [r[8:] for r in refs if r and r in ours and r not in still_used]
    names.append(secret_name(name))
    return [n for n in names if session.secrets.delete(n)]


@app.command("set-default")
def set_default(ctx: typer.Context, name: NameArg) -> None:
    """Make a provider the one that answers first; the fallbacks stay as they are."""
    from assistant_cli.config.edit import open_editor, save

    state = cli_state(ctx)
    config = state.load_config()
    require(config, name)
    editor = open_editor(state.paths.config_file)
    editor.set(("assistant", "provider"), name)
    if name in config.assistant.fallbacks:
        editor.set(("assistant", "fallbacks"),
                   [n for n in config.assistant.fallbacks if n != name])
    audit = open_session(ctx).audit()
    new = save(state.paths.config_file, editor)
    audit.append("providers.set-default", name, "ok",
                 previous=config.provider_order()[0] if config.provider_order() else None)
    print(f"{name} is now the default provider (order: {' → '.join(new.provider_order())})")


@app.command()
def test(ctx: typer.Context, name: NameArg, json_out: output.JsonOpt = False) -> None:
    """Check a provider: its health endpoint, then a tiny completion. Shows HTTP status,
    latency, model, rate-limit and quota headers, the error class and what to do about it.
    Exits non-zero when the provider cannot answer."""
    from assistant_cli.errors import SecretError
    from assistant_cli.providers.probe import Report, Step, diagnose, probe
    from assistant_cli.store.usage import HealthLog

    config = cli_state(ctx).load_config()
    cfg = require(config, name)
    session = open_session(ctx)

    async def run() -> Report:
        provider = session.instance(name, cfg)
        try:
            return await probe(provider)
        finally:
            await provider.aclose()

    try:
        report: Report = run_async(run())
    except SecretError as exc:  # a missing key is a failed test, reported like the others
        report = Report(name, cfg.kind, cfg.base_url, cfg.model, cfg.auth_type,
                        [Step("completion", False, 0.0, error_kind="auth", error=exc.message,
                              hint=exc.hint)], "")
        report.diagnosis = diagnose(report)
    last = report.steps[-1]
    HealthLog(session.db, source="test").record(
        name, report.ok, kind=report.error_kind, status=last.status,
        latency_ms=last.latency_ms, detail=report.diagnosis)
    if json_out:
        output.print_json(report.as_dict())
    else:
        _print_report(report)
    if not report.ok:
        raise typer.Exit(1)


def _print_report(report: Report) -> None:
    print(f"{report.provider}: {report.kind} · {report.base_url} · model {report.model} · "
          f"auth {report.auth}")
    for s in report.steps:
        status = f"HTTP {s.status}" if s.status else "-"
        line = f"  {s.name:<10} {'ok  ' if s.ok else 'FAIL'}  {status:<9} {s.latency_ms:>7.0f} ms"
        if s.model:
            line += f"  model {s.model}"
        if s.error_kind:
            line += f"  [{s.error_kind}]"
        print(line)
        if s.error:
            print(f"             {s.error}")
        for key, value in sorted(s.limits.items()):
            print(f"             {key}: {value}")
    print(("ok: " if report.ok else "diagnosis: ") + report.diagnosis,
          file=sys.stdout if report.ok else sys.stderr)


@app.command()
def models(ctx: typer.Context, name: NameArg, json_out: output.JsonOpt = False) -> None:
    """List the models a provider offers, where its API has a list (e.g. GET /models)."""
    from assistant_cli.errors import UsageError

    config = cli_state(ctx).load_config()
    cfg = require(config, name)
    session = open_session(ctx)

    async def run() -> list[str]:
        provider = session.instance(name, cfg)
        lister = getattr(provider, "list_models", None)
        if lister is None:
            raise UsageError(f"provider kind {cfg.kind!r} cannot list its models",
                             hint=f"see the service's documentation; `assistant-cli providers "
                             f"test {name}` checks the configured model")
        try:
            found: list[str] = await lister()
            return found
        finally:
            await provider.aclose()

    names: list[str] = run_async(run())
    if json_out:
        output.print_json({"provider": name, "configured": cfg.model, "models": names})
        return
    mark = "  (configured)" if output.stdout_is_tty() else ""  # piped: one bare name per line
    for model in names:
        print(f"{model}{mark if model == cfg.model else ''}")


app.command("login")(providers_login.login)
app.command("logout")(providers_login.logout)
