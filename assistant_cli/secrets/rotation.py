"""Rotating a stored secret: test the new value where possible, replace, audit-log it.

What is tested depends on where config.yaml uses the secret: a provider's key gets the
doctor's provider probe (a one-token call through the adapter), a Telegram token getMe,
a WhatsApp token the phone number lookup. The old value stays in place unless every test
accepted the new one. The tests themselves are the doctor's: the caller hands one in as a
`ValueTester` (`doctor/secret_checks.py` `new_value_tester`), so the secret store never
depends on the floors above it. The gateway's JWT secret is not typed in: the gateway's
`rotate_jwt_secret` (handed in the same way) makes a new key (new `kid`), and the old one
stays valid for `gateway.rotation_grace` seconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from assistant_cli.errors import AssistantError, SecretError
from assistant_cli.secrets.references import (
    INTERNAL_SECRETS,
    OAUTH_PREFIX,
    Loc,
    references,
    rotate_command,
)
from assistant_cli.secrets.store import SecretStore, check_name
from assistant_cli.store.audit import open_audit

if TYPE_CHECKING:
    from assistant_cli.config.models import Config
    from assistant_cli.paths import Paths

DEFAULT_GATEWAY_SECRET = "gateway_jwt_secret"


class TestResult(Protocol):
    """What testing a new value found (the doctor's `Result` is one): `data["verdict"]` is
    accepted, rejected or anything else for "could not tell"."""

    @property
    def found(self) -> str: ...

    @property
    def fix(self) -> str: ...

    @property
    def data(self) -> dict[str, Any]: ...


# Tests the new value where config.yaml uses it (at that key path); None: nothing can.
ValueTester = Callable[[Loc, str], Awaitable["TestResult | None"]]
# Makes the ValueTester for a loaded config.
TesterFactory = Callable[["Config"], ValueTester]


@dataclass
class Rotation:
    """What a rotation did: keys tested (with what they found) and notes for the user."""

    name: str
    tested: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    kid: str | None = None


def record(store: SecretStore, action: str, target: str, outcome: str, **detail: Any) -> None:
    """Append to the audit log (never a secret value)."""
    open_audit(store.db, store).append(action, target, outcome, **detail)


def try_record(paths: Paths, action: str, target: str, outcome: str,
               **detail: Any) -> str | None:
    """record() for changes that stand without a usable keyring: None, or why it failed."""
    try:
        record(SecretStore(paths), action, target, outcome, **detail)
    except AssistantError as exc:
        return f"not recorded in the audit log: {exc.message}"
    return None


def users(config: Config, name: str) -> list[Loc]:
    """Config keys whose value is `keyring:NAME`."""
    return [loc for loc, ref in references(config, used_only=False) if ref == f"keyring:{name}"]


def is_gateway_secret(config: Config | None, name: str) -> bool:
    if config is None:
        return name == DEFAULT_GATEWAY_SECRET
    return config.gateway.jwt_secret == f"keyring:{name}"


def check_rotatable(store: SecretStore, name: str, config: Config | None) -> None:
    """Refuse names that must not or cannot be rotated, before any value is read."""
    check_name(name)
    if name in INTERNAL_SECRETS:
        raise SecretError(f"{name} signs the audit log; rotating it would make every existing "
                          "entry unverifiable", hint="it is not a credential and needs no "
                          "rotation")
    if name.startswith(OAUTH_PREFIX):
        raise SecretError(f"{name} holds OAuth tokens, which come from signing in, not from "
                          "a typed value", hint=f"run `{rotate_command(name)}`")
    if not is_gateway_secret(config, name) and store.get(name) is None:
        raise SecretError(f"no secret named {name!r} to rotate",
                          hint=f"`assistant-cli secrets list` shows them; store a first value "
                          f"with `assistant-cli secrets set {name}`")


def rotate_credential(store: SecretStore, name: str, value: str, config: Config | None, *,
                      tester: TesterFactory | None, config_problem: str = "") -> Rotation:
    """Replace NAME with `value` once the services that use it accept it (`tester` None:
    replace it untested, as `--no-test` asks).

    Raises SecretError (after audit-logging the refusal) when a service rejects the new
    value, or when it cannot be tested right now; the old value is kept in both cases.
    """
    if not value:
        raise SecretError(f"no value given for {name!r}",
                          hint="type it at the prompt, or pipe it on stdin")
    old = store.get(name)
    if value == old:
        raise SecretError(f"the new value for {name!r} is the same as the current one",
                          hint="get a new key or token from the service first")
    rotation = Rotation(name)
    if tester is None:
        rotation.notes.append("not tested (--no-test)")
    elif config is None:
        rotation.notes.append(f"not tested: config.yaml did not load ({config_problem})")
    else:
        where = users(config, name)
        if not where:
            rotation.notes.append("not tested: config.yaml does not use it as "
                                  f"keyring:{name}")
        results = asyncio.run(_test_all(tester(config), where, value))
        for loc, result in zip(where, results, strict=True):
            key = ".".join(loc)
            if result is None:
                rotation.notes.append(f"not tested: nothing can check {key} before it is used")
                continue
            verdict = result.data.get("verdict", "inconclusive")
            if verdict == "rejected":
                record(store, "secret.rotate", name, "rejected", tested=key)
                raise SecretError(f"{key} rejected the new value for {name}: {result.found}; "
                                  "the old value is kept", hint=result.fix or None)
            if verdict != "accepted":
                record(store, "secret.rotate", name, "untested", tested=key)
                raise SecretError(
                    f"could not test the new value for {name} with {key}: {result.found}; "
                    "the old value is kept",
                    hint=f"{result.fix}; or pass --no-test to replace it without a test")
            rotation.tested.append(f"{key}: {result.found}")
        if old and loc_is_telegram_token(where):
            rotation.notes += _other_bot(old, value)
    store.set(name, value)
    record(store, "secret.rotate", name, "ok", tested=[t.split(":")[0] for t in rotation.tested],
           untested=not rotation.tested)
    return rotation


async def _test_all(tester: ValueTester, where: list[Loc],
                    value: str) -> list[TestResult | None]:
    return list(await asyncio.gather(*(tester(loc, value) for loc in where)))


def loc_is_telegram_token(where: list[Loc]) -> bool:
    return ("platforms", "telegram", "api_token") in where


def _other_bot(old: str, new: str) -> list[str]:
    """Bot tokens start with the bot's id: a different id means a different bot."""
    old_id, new_id = old.split(":", 1)[0], new.split(":", 1)[0]
    if old_id.isdigit() and new_id.isdigit() and old_id != new_id:
        return [f"the new token belongs to another bot (id {new_id}, was {old_id}); people "
                "who paired with the old bot must write to the new one"]
    return []


def rotate_gateway_secret(store: SecretStore, name: str, config: Config | None,
                          rotate_jwt_secret: Callable[[SecretStore, str], str]) -> Rotation:
    """New JWT signing key with a new kid (`rotate_jwt_secret` of gateway/tokens.py makes
    it), audit-logged; the previous key verifies for the grace period."""
    grace = config.gateway.rotation_grace if config is not None else 86_400
    kid = rotate_jwt_secret(store, name)
    record(store, "secret.rotate", name, "ok", kid=kid, grace_s=grace)
    hours = grace / 3600
    return Rotation(name, kid=kid, notes=[
        f"tokens signed with the previous key stay valid for {hours:g} h "
        "(gateway.rotation_grace); mint new ones for your clients"])
