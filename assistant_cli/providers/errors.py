"""Turning HTTP failures of model services into classified ProviderErrors with advice."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from assistant_cli.errors import ProviderError

# Error codes that mean "no budget left", as opposed to "slow down".
QUOTA_CODES = {"insufficient_quota", "billing_hard_limit_reached", "quota_exceeded"}
MAX_RETRY_AFTER = 60.0


def _error_fields(response: httpx.Response) -> tuple[str, str]:
    """(code or type, message) from an OpenAI/Anthropic-style error body, if any."""
    try:
        body = response.json()
    except ValueError:
        return "", response.text[:200]
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        code = str(err.get("code") or err.get("type") or "")
        return code, str(err.get("message") or "")
    if isinstance(err, str):
        return "", err
    return "", str(body)[:200]


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER)
    except ValueError:
        return None


def classify_http_error(name: str, response: httpx.Response) -> ProviderError:
    """Map an HTTP error answer to a ProviderError whose message says what to do."""
    status = response.status_code
    code, detail = _error_fields(response)
    detail = f" ({detail})" if detail else ""
    if status in (401, 403):
        return ProviderError(
            f"{name}: the API key was rejected (HTTP {status}){detail}", kind="auth",
            status=status, provider=name,
            hint=f"check the key with `assistant-cli providers test {name}`; store a new one "
            "with `assistant-cli secrets set NAME`",
        )
    if status == 404:
        return ProviderError(
            f"{name}: not found (HTTP 404) — unknown model or wrong base_url{detail}",
            kind="not_found", status=status, provider=name,
            hint=f"check providers.{name}.model and base_url in config.yaml",
        )
    if status == 429 and code in QUOTA_CODES:
        return ProviderError(
            f"{name}: the account's quota is exhausted (HTTP 429 {code}){detail}",
            kind="quota", status=status, provider=name,
            hint="add credit or raise the limit in the provider's billing settings",
        )
    if status in (408, 429):
        return ProviderError(
            f"{name}: rate limited (HTTP {status}){detail}", kind="rate_limit", status=status,
            provider=name, retry_after=retry_after(response),
            hint="wait, lower the request rate, or add a fallback provider",
        )
    if status >= 500:
        return ProviderError(
            f"{name}: the service failed (HTTP {status}){detail}", kind="overload",
            status=status, provider=name, retry_after=retry_after(response),
            hint="the provider is having trouble; retry later or add a fallback provider",
        )
    return ProviderError(
        f"{name}: request refused (HTTP {status}){detail}", kind="bad_request", status=status,
        provider=name,
    )


def network_error(name: str, url: str, exc: Exception) -> ProviderError:
    """A connection failure, naming host and port so firewalls can be checked."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    what = "timed out" if isinstance(exc, httpx.TimeoutException) else "could not connect"
    return ProviderError(
        f"{name}: {what} to {parts.hostname}:{port} ({type(exc).__name__}: {exc})",
        kind="network", provider=name,
        hint="check that the service is running and that network policy or a firewall lets "
        f"{parts.hostname}:{port} through",
    )
