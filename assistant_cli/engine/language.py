"""Which language a sender reads: their /lang choice, else their platform's language
hint (Telegram's language_code), else `locale:` in config, else English."""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant_cli.domain.messages import InboundMessage
from assistant_cli.i18n import ENGLISH, normalize

if TYPE_CHECKING:
    from assistant_cli.store.kv import NamespacedKV


class SenderLanguages:
    """Chooses and remembers languages per `<platform>:<sender>`."""

    def __init__(self, store: NamespacedKV | None, default: str = ENGLISH) -> None:
        self.store = store
        self.default = normalize(default) or ENGLISH

    def for_message(self, msg: InboundMessage) -> str:
        chosen = self._stored(f"chosen:{msg.platform}:{msg.sender_id}")
        return chosen or normalize(msg.meta.get("language_code")) or self.default

    def for_sender(self, platform: str, sender_id: str) -> str:
        """Without a message at hand (the paired notice): the choice, else the last hint."""
        return (self._stored(f"chosen:{platform}:{sender_id}")
                or self._stored(f"hint:{platform}:{sender_id}") or self.default)

    def choose(self, platform: str, sender_id: str, language: str) -> None:
        if self.store is not None:
            self.store.set(f"chosen:{platform}:{sender_id}", language)

    def remember_hint(self, msg: InboundMessage) -> None:
        """Keep the platform's hint for later notices (called on rare events only)."""
        hint = normalize(msg.meta.get("language_code"))
        if hint and self.store is not None:
            self.store.set(f"hint:{msg.platform}:{msg.sender_id}", hint)

    def _stored(self, key: str) -> str | None:
        if self.store is None:
            return None
        return normalize(self.store.get(key))
