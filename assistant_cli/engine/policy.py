"""Who may talk to the assistant: DM policy, allowlists, groups, and pairing.

Runs on every message before anything reaches a model. Under `dm_policy: pairing` an
unknown sender gets one reply with a code and the exact approval command, and nothing else;
repeated messages while the request is pending get no reply at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from assistant_cli.domain.events import PairingApproved, PairingRequested
from assistant_cli.domain.messages import InboundMessage
from assistant_cli.engine.language import SenderLanguages
from assistant_cli.i18n import messages as texts
from assistant_cli.i18n import translator
from assistant_cli.store.pairing import TTL_SECONDS, PairingStore, grouped

if TYPE_CHECKING:
    from assistant_cli.channels.base import Channel
    from assistant_cli.domain.events import EventBus

log = logging.getLogger("assistant_cli.policy")



def pairing_text(msg: InboundMessage, code: str, language: str = "en") -> str:
    return texts.pairing_prompt(translator(language), platform=msg.platform,
                                sender_id=msg.sender_id, code=code, grouped=grouped(code),
                                minutes=int(TTL_SECONDS // 60))


class AccessPolicy:
    """Decides, per platform config, whether a message may reach the model."""

    def __init__(self, platforms: dict[str, Any], pairing: PairingStore, events: EventBus,
                 languages: SenderLanguages | None = None) -> None:
        self.platforms = platforms
        self.pairing = pairing
        self.events = events
        self.languages = languages or SenderLanguages(None)

    async def __call__(self, msg: InboundMessage, channel: Channel) -> bool:
        cfg = self.platforms.get(msg.platform)
        if cfg is None or msg.platform == "console":
            return True  # the terminal is the owner
        if msg.is_group:
            return self._group_allowed(msg, cfg)  # never a pairing prompt inside a group
        policy = getattr(cfg, "dm_policy", "pairing")
        if policy == "disabled":
            return False
        if msg.sender_id in getattr(cfg, "allow_from", []) or policy == "open":
            return True
        if self.pairing.is_approved(msg.platform, msg.sender_id):
            # Just approved and writing before the notifier's next round: the notice comes
            # first, then the answer.
            await tell_paired(self.pairing, channel, msg.platform, msg.sender_id, msg.chat_id,
                              self.events, self.languages.for_message(msg))
            return True
        if policy == "allowlist":
            log.info("message from %s user %s dropped (not on the allowlist)", msg.platform,
                     msg.sender_id, extra={"event": "policy.blocked",
                                           "fields": {"channel": msg.platform}})
            return False
        code = self.pairing.request_code(msg.platform, msg.sender_id, msg.chat_id,
                                         msg.sender_name)
        if code is not None:
            self.languages.remember_hint(msg)  # for the paired notice, sent without a message
            await channel.send(msg.chat_id,
                               pairing_text(msg, code, self.languages.for_message(msg)))
            self.events.publish(PairingRequested(channel=msg.platform, sender=msg.sender_id,
                                                 sender_name=msg.sender_name))
            log.info("pairing requested by %s user %s", msg.platform, msg.sender_id,
                     extra={"event": "pairing.requested", "fields": {"channel": msg.platform}})
        return False

    def _group_allowed(self, msg: InboundMessage, cfg: Any) -> bool:
        """Listed group, addressed if required, and a sender allowed on their own (paired
        or in allow_from) unless the group is listed with `members: any`."""
        groups = getattr(cfg, "groups", None)
        if groups is None or not groups.enabled:
            return False
        entry = groups.entry(msg.chat_id)
        if entry is None or not (msg.addressed or not groups.require_mention):
            return False
        if entry.members == "any" or msg.sender_id in getattr(cfg, "allow_from", []):
            return True
        if self.pairing.is_approved(msg.platform, msg.sender_id):
            return True
        log.info("group message from %s user %s dropped (sender not allowed)", msg.platform,
                 msg.sender_id, extra={"event": "policy.blocked",
                                       "fields": {"channel": msg.platform}})
        return False


async def notify_paired(pairing: PairingStore, channels: dict[str, Channel],
                        events: EventBus, interval: float = 1.0,
                        languages: SenderLanguages | None = None,
                        paused: Callable[[], bool] = lambda: False) -> None:
    """Tell newly approved senders they are paired (approval happens in another process).

    Rounds are skipped while `paused()` (the state database is away: its reads would only
    wait for it), and a failed round backs off; the loop itself never ends on an error."""
    while True:
        try:
            if not paused():
                await _notify_round(pairing, channels, events, languages)
        except Exception as exc:
            log.warning("pairing notices not sent this round: %s", exc,
                        extra={"event": "pairing.notify_failed"})
            await asyncio.sleep(10 * interval)
        await asyncio.sleep(interval)


async def _notify_round(pairing: PairingStore, channels: dict[str, Channel], events: EventBus,
                        languages: SenderLanguages | None) -> None:
    for sender in pairing.unnotified():
        channel = channels.get(sender.platform)
        if channel is not None:
            lang = (languages or SenderLanguages(None)).for_sender(sender.platform,
                                                                   sender.user_id)
            await tell_paired(pairing, channel, sender.platform, sender.user_id,
                              sender.chat_id, events, lang)


async def tell_paired(pairing: PairingStore, channel: Channel, platform: str, user_id: str,
                      chat_id: str, events: EventBus, language: str = "en") -> None:
    """Send the "you're paired" notice once; a failed send is retried on the next round."""
    if not pairing.claim_notice(platform, user_id):
        return
    try:
        await channel.send(chat_id, texts.paired(translator(language)))
    except Exception as exc:
        pairing.release_notice(platform, user_id)
        log.warning("could not tell %s user %s they are paired: %s", platform, user_id, exc,
                    extra={"event": "pairing.notify_failed"})
        return
    events.publish(PairingApproved(channel=platform, sender=user_id))


def start_notifier(pairing: PairingStore, channels: dict[str, Channel], events: EventBus,
                   languages: SenderLanguages | None = None,
                   paused: Callable[[], bool] = lambda: False) -> asyncio.Task[None]:
    return asyncio.create_task(notify_paired(pairing, channels, events, languages=languages,
                                             paused=paused), name="pairing-notify")


async def stop_notifier(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
