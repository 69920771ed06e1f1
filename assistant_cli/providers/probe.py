"""`providers test`: a health check and a tiny completion, with a plain-language diagnosis.

Works for every adapter through the Provider interface: `health_check()` where the
service has a cheap authenticated endpoint, then one short streamed answer. Status and
headers come from `Provider.last_response`, which adapters fill in when they can.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from assistant_cli.domain.messages import ChatTurn
from assistant_cli.errors import ProviderError
from assistant_cli.providers.base import ChatRequest, Finished, Provider, TextDelta

PROMPT = "Reply with the single word OK."
# Header prefixes worth showing: rate limits and quotas as OpenAI, Anthropic and the IETF
# draft name them.
LIMIT_HEADERS = ("x-ratelimit-", "anthropic-ratelimit-", "ratelimit-", "retry-after",
                 "x-quota-", "quota-")


@dataclass
class Step:
    """One probe: what was called and what came back."""

    name: str  # health or completion
    ok: bool
    latency_ms: float
    status: int | None = None
    model: str | None = None
    reply: str | None = None
    error_kind: str | None = None
    error: str | None = None
    hint: str | None = None
    limits: dict[str, str] = field(default_factory=dict)


@dataclass
class Report:
    """Everything `providers test` shows."""

    provider: str
    kind: str
    base_url: str
    model: str
    auth: str
    steps: list[Step]
    diagnosis: str

    @property
    def ok(self) -> bool:
        last = self.steps[-1] if self.steps else None
        return last is not None and last.name == "completion" and last.ok

    @property
    def error_kind(self) -> str | None:
        return next((s.error_kind for s in self.steps if not s.ok), None)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok, "error_kind": self.error_kind}


def _limits(provider: Provider) -> tuple[int | None, dict[str, str]]:
    info = provider.last_response
    if info is None:
        return None, {}
    return info.status, {k.lower(): v for k, v in info.headers.items()
                         if k.lower().startswith(LIMIT_HEADERS)}


def _failed(name: str, provider: Provider, started: float, exc: ProviderError) -> Step:
    status, limits = _limits(provider)
    return Step(name, False, _ms(started), exc.status or status, error_kind=exc.kind,
                error=exc.message, hint=exc.hint, limits=limits)


async def probe(provider: Provider) -> Report:
    """Run the health check (when the adapter has one), then a tiny completion."""
    steps: list[Step] = []
    started = time.monotonic()
    provider.last_response = None
    try:
        info = await provider.health_check()
        if info is not None:
            status, limits = _limits(provider)
            steps.append(Step("health", True, _ms(started), info.status or status,
                              limits=limits))
    except ProviderError as exc:
        steps.append(_failed("health", provider, started, exc))
        if exc.kind in ("network", "auth", "quota"):
            return _report(provider, steps)  # the completion would fail the same way
    started = time.monotonic()
    provider.last_response = None
    parts: list[str] = []
    model: str | None = None
    try:
        request = ChatRequest((ChatTurn("user", PROMPT),), max_tokens=16)
        async for event in provider.stream(request):
            if isinstance(event, TextDelta):
                parts.append(event.text)
            elif isinstance(event, Finished):
                model = event.model
        status, limits = _limits(provider)
        steps.append(Step("completion", True, _ms(started), status,
                          model=model or provider.config.model,
                          reply="".join(parts)[:80], limits=limits))
    except ProviderError as exc:
        steps.append(_failed("completion", provider, started, exc))
    return _report(provider, steps)


def _report(provider: Provider, steps: list[Step]) -> Report:
    cfg = provider.config
    report = Report(provider.name, cfg.kind, cfg.base_url, cfg.model, cfg.auth_type, steps, "")
    report.diagnosis = diagnose(report)
    return report


def diagnose(report: Report) -> str:
    """What the results mean and what to do, in the order SPEC §3.3 troubleshoots."""
    name = report.provider
    if report.ok:
        last = report.steps[-1]
        note = ""
        health = report.steps[0] if report.steps[0].name == "health" else None
        if health is not None and health.error_kind == "not_found":
            note = " (it has no model-list endpoint, which is fine)"
        elif health is not None and not health.ok:
            note = f", but its health check failed: {health.error}"
        return (f"{name} works: {last.model or report.model} answered in "
                f"{last.latency_ms:.0f} ms{note}.")
    failed = next((s for s in report.steps if not s.ok and s.error_kind != "not_found"),
                  None) or next(s for s in reversed(report.steps) if not s.ok)
    # A gRPC base_url may be a bare host:port, and plain gRPC defaults to port 8001.
    parts = urlsplit(report.base_url if "://" in report.base_url else f"grpc://{report.base_url}")
    default_port = 8001 if parts.scheme == "grpc" else 443 if parts.scheme.endswith("s") else 80
    where = f"{parts.hostname}:{parts.port or default_port}"
    kind = failed.error_kind
    status = f"HTTP {failed.status}" if failed.status else "no HTTP status"
    text = {
        "network": f"No answer from {where}. Check that the service is running and the "
                   f"base_url is right, then that network policy or a firewall lets port "
                   f"{where.rsplit(':', 1)[1]} through.",
        "auth": (f"The service refused our credentials ({status}). " if failed.status
                 else f"{failed.error}. ") + (failed.hint or ""),
        "quota": f"The account's quota is exhausted ({status}); retrying will not help. Add "
                 "credit or raise the limit in the provider's billing settings.",
        "rate_limit": f"The service is rate limiting us right now ({status}). Wait a moment "
                      "or lower the request rate; a fallback provider keeps the assistant "
                      "answering meanwhile.",
        "overload": f"The service itself is failing ({status}). Check its status page or "
                    "logs and try again later; a fallback provider covers the gap.",
        "not_found": f"The model {report.model!r} or the base_url is wrong ({status}). "
                     f"`assistant-cli providers models {name}` lists the models it offers.",
        "bad_request": f"The service refused the request ({status}). Check the model name, "
                       "max_tokens and temperature for this service.",
    }.get(kind or "", f"The request failed ({status}).")
    return text.strip()


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)
