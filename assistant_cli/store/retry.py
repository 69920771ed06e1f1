"""When a message whose answer could not be sent is tried again, and when it is given up.

The wait belongs to the message (the inbox row's `not_before`), not to the worker that
failed: no worker claims the row earlier. Waits grow exponentially with jitter, never
shorter than a platform's `retry_after`. A message is given up by elapsed time since its
first failed try (`give_up_after`, a day by default), at once when the channel says the
send cannot succeed (blocked by the person, chat gone), and after `other_attempts` tries
when the error is no delivery failure at all (a bug would otherwise block its
conversation for a day).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from assistant_cli.domain.messages import DeliveryFailure


@dataclass(frozen=True)
class Decision:
    """What to do with a message after a failed try."""

    retry: bool
    not_before: float = 0.0  # retry: not before this time (Unix seconds)
    reason: str = ""  # give-up: why (permanent, expired, attempts)


@dataclass(frozen=True)
class RetryPolicy:
    """The schedule; `jitter` draws a factor in [0.5, 1.0] (injectable for tests)."""

    give_up_after: float = 86_400.0
    initial: float = 2.0
    maximum: float = 600.0
    other_attempts: int = 5
    jitter: Callable[[], float] = lambda: random.uniform(0.5, 1.0)

    def backoff(self, failures: int) -> float:
        """The wait after the `failures`-th failure in a row (1-based), jittered."""
        exponent = min(max(failures - 1, 0), 60)  # 2**60 s is beyond any maximum
        return min(self.initial * 2.0 ** exponent, self.maximum) * self.jitter()

    def decide(self, failure: DeliveryFailure | None, *, attempts: int,
               first_failed_at: float, now: float) -> Decision:
        """`failure` is None for an error that was not a delivery failure."""
        if failure is not None and failure.permanent:
            return Decision(False, reason="permanent")
        deadline = first_failed_at + self.give_up_after
        if now >= deadline:
            return Decision(False, reason="expired")
        if failure is None and attempts >= self.other_attempts:
            return Decision(False, reason="attempts")
        wait = self.backoff(attempts)
        if failure is not None and failure.retry_after is not None:
            wait = max(wait, failure.retry_after)
        # One last try at the deadline rather than a wait that would overshoot it.
        return Decision(True, not_before=min(now + wait, deadline))
