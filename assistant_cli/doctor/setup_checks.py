"""Doctor checks of the environment (OS, Python, virtualenv) and of config.yaml."""

from __future__ import annotations

import platform
import sys

from assistant_cli.config.loader import literal_secret_warnings
from assistant_cli.doctor.base import DoctorContext, Result, Skip, fail, in_thread, ok, warn
from assistant_cli.errors import ConfigError

MIN_PYTHON = (3, 10)


async def check_os(ctx: DoctorContext) -> Result:
    name = {"linux": "Linux", "darwin": "macOS"}.get(sys.platform)
    if name is None:
        return fail(f"{platform.system() or sys.platform} is not supported",
                    "run assistant-cli on Linux or macOS (on Windows: inside WSL 2)")
    release = platform.mac_ver()[0] if sys.platform == "darwin" else platform.release()
    return ok(f"{name} {release} ({platform.machine()})")


async def check_python(ctx: DoctorContext) -> Result:
    version = ".".join(map(str, sys.version_info[:3]))
    where = sys.executable
    if sys.version_info[:2] < MIN_PYTHON:
        return fail(f"Python {version} is too old ({where})",
                    "install Python 3.10 or newer and reinstall assistant-cli into a "
                    "virtualenv made with it")
    if sys.prefix == sys.base_prefix:
        return warn(f"Python {version} outside a virtual environment ({where})",
                    "install into a virtualenv: python3 -m venv ~/.venvs/assistant-cli && "
                    "~/.venvs/assistant-cli/bin/pip install assistant-cli (or use pipx)")
    return ok(f"Python {version} in the virtualenv {sys.prefix}")


async def check_config(ctx: DoctorContext) -> Result:
    """Parses, validates (unknown keys included) and names the file's line for each problem."""
    path = ctx.paths.config_file
    try:
        config = await in_thread(ctx.load_config)
    except ConfigError as exc:
        where = "" if str(path) in exc.message else f"{path}: "
        return fail(f"{where}{exc.message}",
                    exc.hint or "edit the file, then run `assistant-cli config validate`")
    platforms = [n for n in ("telegram", "whatsapp") if getattr(config.platforms, n)]
    return ok(f"{path} is valid: {len(config.providers)} provider(s), platforms: "
              f"{', '.join(platforms) or 'terminal only'}")


async def check_literal_secrets(ctx: DoctorContext) -> Result:
    try:
        doc = await in_thread(ctx.document)
    except ConfigError:
        raise Skip("needs a readable config.yaml (see config.valid)") from None
    warnings = literal_secret_warnings(doc, ctx.paths.config_file.name)
    if not warnings:
        return ok("every secret is a keyring: or env: reference")
    keys = [w.split(": ")[1] for w in warnings]
    return warn(f"{len(warnings)} literal secret(s) in the config file: {', '.join(keys)}",
                "for each: `assistant-cli secrets set NAME`, then write `keyring:NAME` in its "
                "place (and rotate the value if the file was ever shared)", lines=warnings)
