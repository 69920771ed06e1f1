"""Masking secret values for display (`config show`)."""

from __future__ import annotations

import re
from typing import Any

from assistant_cli.config.models import SECRET_KEYS
from assistant_cli.observability.logs import get_redactor

MASK = "***"
# Extra HTTP headers are sent as written, so a credential there is a literal secret.
_SENSITIVE_HEADER = re.compile(r"auth|key|token|secret|cookie|password|signature", re.I)
_URL_PASSWORD = re.compile(r"(://[^/:@\s]*:)[^@/\s]+@")


def masked(data: Any) -> Any:
    """A copy of plain config data with every secret value replaced by `***`.

    Masked: literal values of secret keys, credential-like extra headers, passwords in
    URLs, and anything shaped like a token (the log redactor's patterns). References
    (`keyring:NAME`, `env:NAME`) are shown as they are: they name where the secret
    lives, not the secret.
    """
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            if key in SECRET_KEYS and isinstance(value, str) and value:
                out[key] = value if value.startswith(("keyring:", "env:")) else MASK
            elif key == "headers" and isinstance(value, dict):
                out[key] = {name: MASK if _SENSITIVE_HEADER.search(str(name)) else masked(v)
                            for name, v in value.items()}
            else:
                out[key] = masked(value)
        return out
    if isinstance(data, list):
        return [masked(v) for v in data]
    if isinstance(data, str):
        return _URL_PASSWORD.sub(rf"\1{MASK}@", get_redactor().redact(data))
    return data
