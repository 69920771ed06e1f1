"""Turning HTTP failures of model services into classified ProviderErrors with advice."""

from __future__ import annotations

import ssl
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
            hint="store a valid key with `assistant-cli secrets rotate NAME` or "
            "`assistant-cli secrets set NAME` (NAME: the keyring: name in "
            f"providers.{name}.api_key)",
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
    tls = tls_failure(exc)
    if tls is not None:
        # Retrying cannot fix trust: a wrong CA bundle, or a client certificate refused.
        return ProviderError(
            f"{name}: the TLS handshake with {parts.hostname}:{port} failed ({tls})",
            kind="auth", provider=name,
            hint=f"check providers.{name}.ca_file (the CA that signed the server's "
            "certificate) and, for mutual TLS, that the server trusts cert_file",
        )
    if isinstance(exc, httpx.TimeoutException):
        what = f"timed out to {parts.hostname}:{port}"
    elif _dropped(exc):
        what = f"the connection to {parts.hostname}:{port} dropped"
    else:
        what = f"could not connect to {parts.hostname}:{port}"
    return ProviderError(
        f"{name}: {what} ({type(exc).__name__}: {exc})",
        kind="network", provider=name,
        hint="check that the service is running and that network policy or a firewall lets "
        f"{parts.hostname}:{port} through",
    )


# Failures of a connection that was up: the service (or something between) cut it mid-answer.
_DROPS = (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError, ConnectionResetError,
          BrokenPipeError)
_DROP_NAMES = {"ServerDisconnectedError", "ClientPayloadError"}  # aiohttp, not imported here


def _dropped(exc: Exception) -> bool:
    return isinstance(exc, _DROPS) or type(exc).__name__ in _DROP_NAMES


def tls_failure(exc: BaseException) -> str | None:
    """The TLS error behind a transport failure (ours or the server's alert), if any."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLCertVerificationError):
            # aiohttp's ClientConnectorCertificateError claims this type but wraps the real
            # error (without verify_message) in `certificate_error`.
            real = getattr(seen, "certificate_error", seen)
            why = getattr(real, "verify_message", None) or getattr(real, "reason", None)
            return f"certificate verify failed: {why or real}"
        if isinstance(seen, ssl.SSLError):
            return str(seen.reason or seen)
        if "SSL" in str(seen) and "alert" in str(seen).lower():
            return str(seen)
        seen = seen.__cause__ or seen.__context__
    return None


def classify_reported_error(
    name: str, status: int, code: str, detail: str, *, retry_after: float | None = None,
    when: str = "",
) -> ProviderError:
    """Classify a failure that arrived as data rather than as an HTTP answer.

    Streams report some failures inside an open response (an SSE `error` event, a
    WebSocket `error` message); `status` is the HTTP status the service documents for
    that error type. It is classified exactly as that HTTP answer would be; `when`
    (e.g. "mid-answer") replaces the "(HTTP n)" wording in the message.
    """
    headers = {"retry-after": f"{retry_after:g}"} if retry_after is not None else {}
    response = httpx.Response(
        status, headers=headers, json={"error": {"code": code, "message": detail}}
    )
    exc = classify_http_error(name, response)
    if when:
        label = f"{code}: {detail}" if code and detail else (code or detail or f"status {status}")
        exc.message = f"{name} failed {when} ({exc.kind}): {label}"
        exc.args = (exc.message,)
    return exc


def stalled_error(name: str, url: str, seconds: float) -> ProviderError:
    """No progress for `seconds` on a connection (non-HTTP transports: WebSocket, gRPC)."""
    parts = urlsplit(url if "//" in url else f"//{url}")
    where = f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)
    return ProviderError(
        f"{name}: timed out to {where} after {seconds:g} s without progress", kind="network",
        provider=name,
        hint=f"check that the service is up and answering; raise providers.{name}.timeout if it "
        "is just slow",
    )
