"""Finding and authenticating to the gateway of a `serve` on this machine (for CLI commands)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from assistant_cli.errors import StateError, UsageError
from assistant_cli.gateway.tokens import JwtKeys
from assistant_cli.secrets.store import SecretStore

if TYPE_CHECKING:
    from assistant_cli.config.models import GatewayConfig
    from assistant_cli.paths import Paths

STATE_FILE = "gateway.json"  # where a running serve says how to reach its gateway

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def state_file(paths: Paths) -> Path:
    return paths.state_dir / STATE_FILE


def parse_duration(text: str, option: str = "--ttl") -> int:
    """Seconds in `90`, `30s`, `10m`, `1h`, `7d` or `2w`."""
    match = _DURATION.match(text)
    if not match or int(match.group(1)) == 0:
        raise UsageError(f"{option} {text!r} is not a duration",
                         hint="use a number with a unit, e.g. 30m, 1h, 7d")
    return int(match.group(1)) * _UNITS[match.group(2).lower()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def client_url(host: str, port: int | None, tls: bool) -> str:
    """The URL a client on this machine uses for a gateway bound to `host` (a wildcard
    address is reached through loopback)."""
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    host = f"[{host}]" if ":" in host else host
    return f"{'https' if tls else 'http'}://{host}:{port}"


def running_url(paths: Paths) -> str | None:
    """The base URL of this machine's running `serve` (from the state file it writes while
    it runs), or None when no live `serve` wrote one."""
    try:
        data = json.loads(state_file(paths).read_text(encoding="utf-8"))
        if isinstance(data, dict) and _alive(int(data["pid"])):
            return str(data["url"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def local_base_url(paths: Paths, config: GatewayConfig) -> str:
    """Where this machine's `serve` listens: its state file if it runs, else the config."""
    running = running_url(paths)
    if running is not None:
        return running
    if config.port == 0:
        raise StateError("`serve` is not running here, and gateway.port is 0 (a random port), "
                         "so there is no address to connect to",
                         hint="start `assistant-cli serve`, or pass the URL it printed")
    return client_url(config.host, config.port, bool(config.tls_cert))


def local_keys(paths: Paths, config: GatewayConfig) -> JwtKeys:
    """The signing keys `serve` uses (the secret is generated if it does not exist yet)."""
    return JwtKeys(SecretStore(paths), config.jwt_secret, grace=config.rotation_grace,
                   max_lifetime=config.max_token_lifetime)


def split_dashboard_url(url: str) -> tuple[str, str]:
    """(base URL, token) from a URL like http://127.0.0.1:8080/?token=eyJ..."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"{url!r} is not a gateway URL",
                         hint="pass the URL `serve` printed, like "
                         "http://127.0.0.1:8080/?token=eyJ...")
    token = (parse_qs(parts.query).get("token") or [""])[0]
    if not token:
        raise UsageError("the URL has no ?token=...",
                         hint="use the whole URL `serve` printed, or run `assistant-cli "
                         "gateway token --url` on the machine running serve")
    return f"{parts.scheme}://{parts.netloc}", token
