"""What shell completion offers after an option that takes a value, or for an argument.

Each source is a shell command that prints the words, one a line: fixed lists through
printf, and names that live in the user's config or state from the CLI's own piped output
(plain, tab-separated rows: the first field is the name), so completion never goes stale.
"""

from __future__ import annotations

PROVIDER_NAMES = "assistant-cli providers list 2>/dev/null | cut -f1"
SECRET_NAMES = "assistant-cli secrets list 2>/dev/null | cut -f1"


def _words(*words: str) -> str:
    """One word per line: bash, zsh and fish all split that the same way."""
    return 'printf "%s\\n" ' + " ".join(words)


def option_values(path: tuple[str, ...] = ()) -> dict[str, str]:
    """Option name → command printing its values, for the command at `path` (an option
    such as --kind means provider kinds under `providers`, plugin kinds under `plugins`)."""
    from assistant_cli.cli.pairing_cmd import USER_ID_PATTERNS
    from assistant_cli.doctor.registry import GROUPS, STATIC
    from assistant_cli.plugins.registry import PROVIDERS, available
    from assistant_cli.plugins.scaffold import KINDS

    checks = _words(*GROUPS, *(c.id for c in STATIC))
    return {
        "--level": _words("debug", "info", "warning", "error"),
        "--platform": _words(*USER_ID_PATTERNS),
        "--channel": _words("console", "telegram", "whatsapp"),
        "--target": _words("systemd", "launchd"),
        "--only": checks,
        "--skip": checks,
        "--kind": _words(*KINDS) if path[:1] == ("plugins",)
        else _words(*sorted(available(PROVIDERS))),
        "--auth": _words("api-key", "oauth", "mtls", "none"),
    }


def argument_values(path: tuple[str, ...]) -> str | None:
    """The command printing values for the positional argument of the command at `path`."""
    if path[:1] == ("providers",) and path[1:] and path[1] not in ("add", "list"):
        return PROVIDER_NAMES
    if path[:1] == ("secrets",) and path[1:] and path[1] in ("delete", "rotate", "set"):
        return SECRET_NAMES
    return None
