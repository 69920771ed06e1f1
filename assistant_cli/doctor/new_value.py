"""Testing a new secret value before `secrets rotate` stores it, with the doctor's probes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant_cli.doctor.base import Result
from assistant_cli.doctor.channel_checks import telegram_probe, whatsapp_probe
from assistant_cli.doctor.probes import probe_provider

if TYPE_CHECKING:
    from assistant_cli.config.models import Config
    from assistant_cli.secrets.references import Loc
    from assistant_cli.secrets.rotation import ValueTester
    from assistant_cli.secrets.store import SecretStore


def new_value_tester(config: Config, store: SecretStore, name: str,
                     timeout: float) -> ValueTester:
    """How `secrets rotate` tests a new value of NAME: through the same probes as the doctor
    (a provider call, Telegram getMe, the WhatsApp phone number lookup)."""

    async def test(loc: Loc, value: str) -> Result | None:
        if loc[0] == "providers" and loc[1] in config.providers:
            ref = f"keyring:{name}"

            def resolve(other: str, key: str) -> str:
                return value if other == ref else store.resolve(other, key=key)

            return await probe_provider(loc[1], config.providers[loc[1]], resolve, timeout)
        telegram, whatsapp = config.platforms.telegram, config.platforms.whatsapp
        if loc == ("platforms", "telegram", "api_token") and telegram is not None:
            result, _ = await telegram_probe(telegram, value, timeout)
            return result
        if (loc == ("platforms", "whatsapp", "access_token") and whatsapp is not None
                and whatsapp.phone_number_id):
            return await whatsapp_probe(whatsapp, value, timeout)
        return None

    return test
