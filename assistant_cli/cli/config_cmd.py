"""`assistant-cli config`: create, check and show config.yaml."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from assistant_cli.cli.common import cli_state
from assistant_cli.cli.output import JsonOpt, print_json

app = typer.Typer(help="Create, check and show the configuration file.", no_args_is_help=True,
                  rich_markup_mode=None)


@app.command()
def init(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter config.yaml (refuses to overwrite without --force).

    The starter talks to OpenAI with the key stored as keyring:openai_api_key; store it
    with `assistant-cli secrets set openai_api_key`, or run `assistant-cli serve` in a
    terminal for a guided setup instead.
    """
    from assistant_cli.config.loader import atomic_write_text
    from assistant_cli.config.template import starter_config

    path = cli_state(ctx).paths.config_file
    if path.exists() and not force:
        print(f"error: {path} already exists; use --force to overwrite it", file=sys.stderr)
        raise typer.Exit(1)
    existed = path.exists()
    atomic_write_text(path, starter_config())
    print(f"wrote {path}")
    _audit(ctx, "config.init", str(path), overwrote=existed)
    print("next: assistant-cli secrets set openai_api_key && assistant-cli serve")


def _audit(ctx: typer.Context, action: str, target: str, **detail: object) -> None:
    """Record a config change; without a usable keyring the change stands, with a warning."""
    from assistant_cli.secrets.rotation import try_record

    problem = try_record(cli_state(ctx).paths, action, target, "ok", **detail)
    if problem:
        print(f"warning: {problem}", file=sys.stderr)


@app.command()
def validate(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Check config.yaml; prints each problem as FILE:LINE: KEY: what was expected.

    Exit codes: 0 valid (warnings are printed), 2 invalid (the problems go to stderr, also
    with --json).
    """
    from assistant_cli.config.loader import (
        literal_secret_warnings,
        read_document,
        validate_document,
    )

    path = cli_state(ctx).paths.config_file
    doc = read_document(path)
    config = validate_document(doc, path.name)
    warnings = literal_secret_warnings(doc, path.name)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if config.plugins.enabled:
        from assistant_cli.app.serve import load_plugins

        # Here every enabled handler must load: its settings are part of the file.
        strict = config.plugins.model_copy(update={"required": config.plugins.enabled})
        load_plugins(config.model_copy(update={"plugins": strict}), cli_state(ctx).paths)
    platforms = [n for n in ("telegram", "whatsapp") if getattr(config.platforms, n)]
    if json_out:
        print_json({"file": str(path), "valid": True, "providers": list(config.providers),
                    "platforms": platforms, "warnings": warnings})
        return
    print(f"{path}: valid ({len(config.providers)} provider(s); platforms: "
          f"{', '.join(platforms) or 'terminal only'})")


@app.command()
def show(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Print the effective configuration (defaults filled in) with secrets masked.

    Example: assistant-cli config show --json | jq '.providers | keys'
    """
    import yaml

    from assistant_cli.config.masking import masked

    config = cli_state(ctx).load_config()
    doc = masked(config.model_dump(mode="json"))
    if json_out:
        print_json(doc)
        return
    print(yaml.safe_dump(doc, sort_keys=False), end="")
