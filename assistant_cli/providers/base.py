"""The provider protocol: one streaming interface over every model service."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from assistant_cli.config.models import ProviderConfig
from assistant_cli.engine.messages import ChatTurn

# Resolves a secret reference; the second argument is the config key path, for errors.
SecretResolver = Callable[[str, str], str]


@dataclass(frozen=True)
class ChatRequest:
    """What a turn asks of a model."""

    turns: tuple[ChatTurn, ...]
    max_tokens: int | None = None
    temperature: float | None = None


@dataclass(frozen=True)
class TextDelta:
    """A piece of the answer, in order."""

    text: str


@dataclass(frozen=True)
class Usage:
    """Tokens a turn used; `estimated` when the service did not report them."""

    prompt_tokens: int
    completion_tokens: int
    estimated: bool = False


@dataclass(frozen=True)
class Finished:
    """The end of a stream."""

    finish_reason: str | None
    usage: Usage | None
    model: str | None = None
    provider: str | None = None  # filled in by the router


StreamEvent = TextDelta | Finished


class Provider(ABC):
    """A model service. Subclasses are registered by kind under `assistant_cli.providers`."""

    def __init__(self, name: str, config: ProviderConfig, resolve_secret: SecretResolver) -> None:
        self.name = name
        self.config = config
        self.resolve_secret = resolve_secret

    @abstractmethod
    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Yield TextDelta events as the answer arrives, then one Finished.

        Raises ProviderError (classified by `kind`) on failure.
        """

    async def aclose(self) -> None:
        """Release connections."""
        return None


def estimate_tokens(text: str) -> int:
    """A rough token count (about four characters a token) for services that send none."""
    return max(1, (len(text) + 3) // 4)
