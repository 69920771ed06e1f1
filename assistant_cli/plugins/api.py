"""The plugin API's own types: the handler base and its results, locales.

Private home of what `assistant_cli.plugin` (the public module) re-exports, as
`versions.py` is of the API version: it sits on a low floor so that plugin loading
(`plugins/loading.py`) can use these types without importing channels and providers.
Plugins import `assistant_cli.plugin`, never this.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel

from assistant_cli.domain.messages import InboundMessage
from assistant_cli.plugins.versions import API_VERSION


# --- what a handler returns ----------------------------------------------------------------
@dataclass(frozen=True)
class Answer:
    """Answer the message with `text`; no later handler and no model sees it."""

    text: str


@dataclass(frozen=True)
class Rewrite:
    """Replace the message's text; later handlers and the model see `text` instead."""

    text: str


@dataclass(frozen=True)
class Pass:
    """Leave the message alone; the next handler (or the model) gets it."""


HandlerResult = Answer | Rewrite | Pass | None  # None means Pass()


# --- what a handler is given ---------------------------------------------------------------
@runtime_checkable
class KeyValueStore(Protocol):
    """A plugin's own key-value data, kept in the state database (texts in, texts out)."""

    def get(self, key: str, default: str | None = None) -> str | None:
        """The value stored under `key`, else `default`."""

    def set(self, key: str, value: str) -> None:
        """Store `value` under `key` (durably), replacing any earlier value."""

    def delete(self, key: str) -> bool:
        """Remove `key`; True if it was there."""

    def keys(self, prefix: str = "") -> list[str]:
        """Every key of this plugin that starts with `prefix`, sorted."""


class HandlerContext(Protocol):
    """What a handler knows about the message's sender and what it can do.

    Attributes:
        sender: the sender's id on the platform (text).
        platform: the platform's name (``telegram``, ``whatsapp``, ``console`` ...).
        chat_id: the chat the message came from.
        language: the language the sender reads, as a catalog name (``en``, ``zh_CN``).
        store: this plugin's key-value store.
        log: a logger named after the plugin.
    """

    sender: str
    platform: str
    chat_id: str
    language: str
    store: KeyValueStore
    log: logging.Logger

    async def send(self, text: str) -> None:
        """Send an extra message to the chat now (not recorded; may repeat after a crash)."""

    def gettext(self, message: str) -> str:
        """`message` translated into the sender's language (English when not translated)."""

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """The singular or plural form for `n`, translated into the sender's language."""


# --- handlers ------------------------------------------------------------------------------
class Handler(ABC):
    """A step in the pipeline that sees every text message before the model does.

    Subclass it, set `name`, and register the class under the `assistant_cli.handlers`
    entry-point group. Handlers run in the order of `plugins.enabled` in config.yaml.

    Class attributes:
        name: the plugin's name in config (``plugins.settings.<name>``) and in logs.
        api_version: the `API_VERSION` this handler was written for.
        Settings: a pydantic model of ``plugins.settings.<name>``, or None for no settings.
        timeout: seconds `handle` may take before the message goes on without it. Only
            awaiting is interrupted: blocking code must run in a thread
            (`await asyncio.to_thread(...)`), or it holds up every conversation.
    """

    name: ClassVar[str]
    api_version: ClassVar[str] = API_VERSION
    Settings: ClassVar[type[BaseModel] | None] = None
    timeout: ClassVar[float] = 5.0

    def __init__(self, settings: BaseModel | None = None) -> None:
        self.settings = settings

    @abstractmethod
    async def handle(self, message: InboundMessage, ctx: HandlerContext) -> HandlerResult:
        """Return Answer(text), Rewrite(text), or Pass() (None counts as Pass)."""

    async def on_reply(self, message: InboundMessage, reply: str, ctx: HandlerContext) -> str:
        """Change the model's answer before it is sent; the default keeps it as it is.

        Overriding this makes the answer arrive in one piece instead of streaming.
        """
        return reply


# --- locales -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Locale:
    """A directory of gettext catalogs: ``<directory>/<lang>/LC_MESSAGES/assistant_cli.mo``.

    Register an instance under the `assistant_cli.locales` entry-point group. Messages
    missing from a catalog are shown in English.
    """

    directory: Path
    api_version: str = API_VERSION

    def languages(self) -> list[str]:
        """The languages that have a compiled catalog in the directory."""
        found = self.directory.glob("*/LC_MESSAGES/assistant_cli.mo")
        return sorted(p.parent.parent.name for p in found)

