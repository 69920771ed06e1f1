"""Choosing which provider answers a turn: retries, cooldowns and failover.

A turn tries the default provider, then each fallback. Retryable failures (timeouts, 408,
429, 5xx) are retried with exponential backoff and jitter, honouring Retry-After; a
provider that keeps failing cools down (30 s, 1 min, 5 min) and is skipped meanwhile.
Once any text has reached the user there is no failover: the error is raised instead.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace

from assistant_cli.config.models import Config
from assistant_cli.engine.events import EventBus
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


@dataclass
class ProviderState:
    """Health bookkeeping for one provider."""

    failures: int = 0
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
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.order = config.provider_order()
        self.configs = config.providers
        self.resolve_secret = resolve_secret
        self.events = events or EventBus()
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.clock = clock
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
        """Yield the answer's events; raise the last ProviderError if every provider failed."""
        if not self.order:
            raise ProviderError(
                "no provider is configured", kind="bad_request",
                hint="add one under `providers:` in config.yaml (`assistant-cli config init`)",
            )
        last: ProviderError | None = None
        for index, name in enumerate(self._available()):
            if index > 0 and last is not None:
                self.events.publish("provider.failover", from_=last.provider, to=name,
                                    kind=last.kind)
                log.warning("failing over to %s after %s", name, last.kind,
                            extra={"event": "provider.failover",
                                   "fields": {"provider": name, "kind": last.kind}})
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
                    last = exc
                    self._failed(name, exc)
                    if produced:
                        raise
                    if not exc.retryable or attempt == self.max_attempts:
                        break
                    await asyncio.sleep(self._delay(attempt, exc))
        assert last is not None
        raise last

    def _delay(self, attempt: int, exc: ProviderError) -> float:
        if exc.retry_after is not None:
            return exc.retry_after
        return float(self.base_delay * (2 ** (attempt - 1)) * random.uniform(0.5, 1.5))

    def _succeeded(self, name: str) -> None:
        self.state[name] = ProviderState()

    def _failed(self, name: str, exc: ProviderError) -> None:
        st = self.state[name]
        st.failures += 1
        st.last_error, st.last_error_kind = exc.message, exc.kind
        if st.failures >= self.max_attempts or not exc.retryable:
            step = min((st.failures - 1) // self.max_attempts, len(COOLDOWNS) - 1)
            st.cooldown_until = self.clock() + COOLDOWNS[step]
        self.events.publish("provider.error", provider=name, kind=exc.kind, status=exc.status)
        log.warning("%s", exc.message, extra={"event": "provider.error", "fields": {
            "provider": name, "kind": exc.kind, "status": exc.status}})

    async def aclose(self) -> None:
        for provider in self._instances.values():
            await provider.aclose()
