"""Every error a user can cause, in one tree; each carries a message naming the input and the fix.

    AssistantError                 exit 1 unless stated
    ├── ConfigError                exit 2: config.yaml missing, malformed or invalid
    ├── UsageError                 exit 2: bad command-line input (platform, user id, URL ...)
    ├── SecretError                a referenced secret is missing or unreadable
    │   └── KeyringUnavailable     no usable keyring backend on this machine
    ├── StateError                 the state directory or database is unusable
    │   └── AlreadyRunning         another `serve` holds the lock on the same state or token
    ├── PairingError               wrong, expired or locked pairing code
    ├── ChannelError               a chat platform refused or failed (bad token, conflict ...)
    ├── PluginError                a plugin failed to import, is of an incompatible API
    │                              version, or has invalid settings
    ├── ToolError                  a tool or MCP server failed (start, call, unknown name)
    └── ProviderError              a model service failed; `kind` classifies why
        (kinds: auth, quota, rate_limit, overload, network, bad_request, not_found)

The CLI turns an AssistantError into `error: <message>` on stderr and its exit code; a
traceback is shown only with `--debug`.
"""

from __future__ import annotations


class AssistantError(Exception):
    """Base class: a problem the user can act on."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  fix: {self.hint}"
        return self.message


class ConfigError(AssistantError):
    """config.yaml could not be read or does not validate."""

    exit_code = 2


class UsageError(AssistantError):
    """A command-line argument is malformed."""

    exit_code = 2


class SecretError(AssistantError):
    """A secret reference cannot be resolved."""


class KeyringUnavailable(SecretError):
    """No keyring backend can store secrets on this machine."""


class StateError(AssistantError):
    """The state directory or database cannot be used."""


class AlreadyRunning(StateError):
    """Another process already holds an exclusive lock."""


class PairingError(AssistantError):
    """A pairing code was wrong, expired or locked."""


class ChannelError(AssistantError):
    """A chat platform refused a request or could not be reached."""


class PluginError(AssistantError):
    """A plugin could not be loaded or used; the message names its package and why."""


class ToolError(AssistantError):
    """A tool could not be found, started or called."""


class ProviderError(AssistantError):
    """A model service failed. `kind` is one of PROVIDER_ERROR_KINDS."""

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        status: int | None = None,
        provider: str | None = None,
        retry_after: float | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.kind = kind
        self.status = status
        self.provider = provider
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """Timeouts, rate limits and overloads are worth another try; the rest are not."""
        return self.kind in {"rate_limit", "overload", "network"}


PROVIDER_ERROR_KINDS = (
    "auth",
    "quota",
    "rate_limit",
    "overload",
    "network",
    "bad_request",
    "not_found",
)
