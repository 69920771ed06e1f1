"""Masking secret values for display (`config show`)."""

from __future__ import annotations

from typing import Any

from assistant_cli.config.models import SECRET_KEYS


def masked(data: Any) -> Any:
    """A copy of plain config data with literal secrets replaced by `***`.

    References (`keyring:NAME`, `env:NAME`) are shown as they are: they name where the
    secret lives, not the secret.
    """
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            if key in SECRET_KEYS and isinstance(value, str) and value:
                out[key] = value if value.startswith(("keyring:", "env:")) else "***"
            else:
                out[key] = masked(value)
        return out
    if isinstance(data, list):
        return [masked(v) for v in data]
    return data
