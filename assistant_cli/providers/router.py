"""Choosing which provider answers a turn: retries, cooldowns and failover.

A turn tries the default provider, then each fallback. Retryable failures (timeouts, 408,
429, 5xx) are retried with exponential backoff and jitter, honouring Retry-After up to a
cap; auth, quota, bad-request and not-found failures are not retried. A provider that
gives up on a turn cools down — 30 s, then 1 min, then 5 min while it keeps failing; an
exhausted quota goes straight to the longest step — and is skipped meanwhile. Once any
text has reached the user there is no failover: the error is raised instead. When every
provider fails, the error names each one's reason and a `provider.exhausted` event says so.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace

from assistant_cli.config.models import Config
from assistant_cli.domain.events import (
    EventBus,
    ProviderCallFailed,
    ProviderFailover,
    ProvidersExhausted,
)
from assistant_cli.errors import ProviderError
from assistant_cli.plugins import registry
from assistant_cli.providers.base import (
    ChatRequest,
    Finished,
    Provider,
    StreamEvent,
    TextDelta,
)

log = logging.getLogger("assistant_cli.providers.router")

COOLDOWNS = (30.0, 60.0, 300.0)
# Failures that say nothing about the provider's health, only about this request.
REQUEST_FAULTS = frozenset({"bad_request"})

# Told about every outcome: (provider, None) on success, (provider, error) on failure.
HealthHook = Callable[[str, ProviderError | None], None]


@dataclass
class ProviderState:
    """Health bookkeeping for one provider."""

    failures: int = 0  # failed attempts since the last success
    strikes: int = 0  # turns given up since the last success; picks the cooldown step
    cooldown_until: float = 0.0
    last_error: str | None = None
    last_error_kind: str | None = None


class ProviderRouter:
    """Streams a turn from the first healthy provider in the configured order."""

    def __init__(
        self,
        config: Config,
        resolve_secret: Callable[[str, str], str],
        events: EventBus | None = None,
        *,
        max_attempts: int = 3,
        base_delay: float = 0.5,
        max_delay: float = 8.0,
        max_retry_after: float = 20.0,
        cooldowns: tuple[float, ...] = COOLDOWNS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        health: HealthHook | None = None,
    ) -> None:
        self.order = config.provider_order()
        self.configs = config.providers
        self.resolve_secret = resolve_secret
        self.events = events or EventBus()
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.max_retry_after = max_retry_after
        self.cooldowns = cooldowns
        self.clock = clock
        self.sleep = sleep
        self.health = health
        self.state = {name: ProviderState() for name in self.order}
        self._instances: dict[str, Provider] = {}

    def provider(self, name: str) -> Provider:
        if name not in self._instances:
            cfg = self.configs[name]
            cls = registry.load(registry.PROVIDERS, cfg.kind, key=f"providers.{name}.kind")
            self._instances[name] = cls(name, cfg, self.resolve_secret)
        return self._instances[name]

    def _available(self) -> list[str]:
        now = self.clock()
        ready = [n for n in self.order if self.state[n].cooldown_until <= now]
        # When everything is cooling down, try the one that recovers first anyway.
        return ready or sorted(self.order, key=lambda n: self.state[n].cooldown_until)[:1]

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Yield the answer's events; raise a ProviderError naming every provider's failure
        if none could answer."""
        if not self.order:
            raise ProviderError(
                "no provider is configured", kind="bad_request",
                hint="add one with `assistant-cli providers add NAME --kind openai ...`",
            )
        failures: list[ProviderError] = []
        candidates = self._available()
        for index, name in enumerate(candidates):
            if failures:
                last = failures[-1]
                self.events.publish(ProviderFailover(from_provider=last.provider, to=name,
                                                     kind=last.kind))
                log.warning("failing over to %s after %s", name, last.kind,
                            extra={"event": "provider.failover",
                                   "fields": {"provider": name, "kind": last.kind}})
            more = index + 1 < len(candidates)
            for attempt in range(1, self.max_attempts + 1):
                produced = False
                try:
                    async for event in self.provider(name).stream(request):
                        if isinstance(event, TextDelta):
                            produced = True
                        elif isinstance(event, Finished):
                            event = replace(event, provider=name)
                        yield event
                    self._succeeded(name)
                    return
                except ProviderError as exc:
                    exc.provider = exc.provider or name
                    final = (produced or not exc.retryable or attempt == self.max_attempts
                             or (more and (exc.retry_after or 0) > self.max_retry_after))
                    self._failed(name, exc, final=final)
                    if produced:
                        raise
                    if final:
                        failures.append(exc)
                        break
                    await self.sleep(self._delay(attempt, exc))
        raise self._exhausted(failures)

    def _delay(self, attempt: int, exc: ProviderError) -> float:
        if exc.retry_after is not None:
            return min(exc.retry_after, self.max_retry_after)
        backoff = self.base_delay * (2 ** (attempt - 1)) * random.uniform(0.5, 1.5)
        return float(min(backoff, self.max_delay))

    def _succeeded(self, name: str) -> None:
        self.state[name] = ProviderState()
        self._tell_health(name, None)

    def _tell_health(self, name: str, error: ProviderError | None) -> None:
        if self.health is None:
            return
        try:
            self.health(name, error)
        except Exception:  # bookkeeping must never cost the user an answer
            log.exception("could not record the health of %s", name,
                          extra={"event": "provider.health_error", "fields": {"provider": name}})

    def _failed(self, name: str, exc: ProviderError, *, final: bool) -> None:
        st = self.state[name]
        st.failures += 1
        st.last_error, st.last_error_kind = exc.message, exc.kind
        cooldown = None
        if final and exc.kind not in REQUEST_FAULTS:
            st.strikes += 1
            step = len(self.cooldowns) - 1 if exc.kind == "quota" else st.strikes - 1
            cooldown = max(self.cooldowns[min(step, len(self.cooldowns) - 1)],
                           exc.retry_after or 0.0)
            st.cooldown_until = self.clock() + cooldown
        self.events.publish(ProviderCallFailed(provider=name, kind=exc.kind, status=exc.status,
                                               cooldown_s=cooldown))
        log.warning("%s", exc.message, extra={"event": "provider.error", "fields": {
            "provider": name, "kind": exc.kind, "status": exc.status, "cooldown_s": cooldown}})
        self._tell_health(name, exc)

    def _exhausted(self, failures: list[ProviderError]) -> ProviderError:
        reasons = [{"provider": e.provider, "kind": e.kind, "status": e.status,
                    "error": e.message} for e in failures]
        self.events.publish(ProvidersExhausted(providers=tuple(reasons)))
        log.error("no provider could answer: %s", "; ".join(e.message for e in failures),
                  extra={"event": "provider.exhausted", "fields": {"providers": reasons}})
        if len(failures) == 1:
            return failures[0]
        first = failures[0]
        summary = "; ".join(f"{e.provider}: {e.kind}" for e in failures)
        err = ProviderError(
            f"every provider failed ({summary}) — {first.message}", kind=first.kind,
            status=first.status, provider=first.provider, hint=first.hint)
        return err

    async def aclose(self) -> None:
        for provider in self._instances.values():
            await provider.aclose()
