"""The provider protocol: one streaming interface over every model service."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import ClassVar

from assistant_cli.config.models import ProviderConfig
from assistant_cli.domain.messages import ChatTurn
from assistant_cli.domain.tools import ToolCallRequested, ToolSpec
from assistant_cli.providers.auth import ProviderAuth

# Resolves a secret reference; the second argument is the config key path, for errors.
SecretResolver = Callable[[str, str], str]


@dataclass(frozen=True)
class ChatRequest:
    """What a turn asks of a model."""

    turns: tuple[ChatTurn, ...]
    max_tokens: int | None = None
    temperature: float | None = None
    tools: tuple[ToolSpec, ...] = ()  # offered to the model; adapters without tools ignore


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


# Adapters that support tools yield ToolCallRequested events (each call assembled from its
# fragments) after the text and before Finished.
StreamEvent = TextDelta | ToolCallRequested | Finished


@dataclass(frozen=True)
class ResponseInfo:
    """Status and headers of a service's latest answer, for `providers test`."""

    status: int | None
    latency_ms: float
    headers: dict[str, str] = field(default_factory=dict)


class Provider(ABC):
    """A model service. Subclasses are registered by kind under `assistant_cli.providers`."""

    # Used by `providers add` when --base-url is not given.
    default_base_url: ClassVar[str | None] = None
    # URL schemes `providers add` accepts in base_url; None: any it knows.
    url_schemes: ClassVar[tuple[str, ...] | None] = None
    # Adapters set this after each request so `providers test` can show status and headers.
    last_response: ResponseInfo | None = None
    _auth: ProviderAuth | None = None

    def __init__(self, name: str, config: ProviderConfig, resolve_secret: SecretResolver) -> None:
        self.name = name
        self.config = config
        self.resolve_secret = resolve_secret

    @classmethod
    def base_url_problem(cls, url: str) -> str | None:
        """None when `url` (well-formed, of an accepted scheme) will do for this kind;
        otherwise how to write it instead, which `providers add` shows as the fix."""
        return None

    @property
    def auth(self) -> ProviderAuth:
        """Headers and TLS settings for this provider's configured auth (API key, OAuth, mTLS)."""
        if self._auth is None:
            self._auth = ProviderAuth(self.name, self.config, self.resolve_secret)
        return self._auth

    @abstractmethod
    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Yield TextDelta events as the answer arrives, then one Finished.

        Raises ProviderError (classified by `kind`) on failure.
        """

    def max_tokens_for(self, request: ChatRequest) -> int | None:
        """The turn's answer-length cap, else the configured one."""
        return request.max_tokens or self.config.max_tokens

    def temperature_for(self, request: ChatRequest) -> float | None:
        """The turn's temperature, else the configured one (0 counts as set)."""
        return request.temperature if request.temperature is not None else (
            self.config.temperature)

    async def health_check(self) -> ResponseInfo | None:
        """Call the service's cheapest authenticated endpoint; None when there is none."""
        return None

    async def aclose(self) -> None:
        """Release connections."""
        return None


def estimate_tokens(text: str) -> int:
    """A rough token count (about four characters a token) for services that send none."""
    return max(1, (len(text) + 3) // 4)


def estimated_usage(request: ChatRequest, produced: list[str]) -> Usage:
    """Usage guessed from the prompt and the answer's pieces, marked as estimated."""
    prompt = sum(estimate_tokens(t.content) for t in request.turns)
    return Usage(prompt, estimate_tokens("".join(produced)), estimated=True)
