"""Pairing: codes, limits, the access policy, the CLI, and audit entries."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant_cli.cli.app import app, run
from assistant_cli.config.loader import parse_document, validate_document
from assistant_cli.domain.events import EventBus
from assistant_cli.domain.messages import InboundMessage
from assistant_cli.engine.policy import AccessPolicy
from assistant_cli.errors import PairingError
from assistant_cli.paths import resolve
from assistant_cli.secrets.store import SecretStore
from assistant_cli.store.audit import AuditLog, key_from_store
from assistant_cli.store.db import Database
from assistant_cli.store.pairing import (
    ALPHABET,
    MAX_PENDING,
    PairingStore,
    grouped,
    new_code,
    normalize,
)
from tests.test_engine import RecordingChannel

runner = CliRunner()


class Clock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database(tmp_path / "s.db")


def test_codes_avoid_look_alikes_and_are_shown_grouped() -> None:
    assert not set("0O1I") & set(ALPHABET)
    code = new_code()
    assert len(code) == 12 and set(code) <= set(ALPHABET)
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", grouped(code))
    assert normalize(grouped(code).lower()) == code


def test_approve_accepts_any_case_and_dashes(db: Database) -> None:
    store = PairingStore(db)
    code = store.request_code("telegram", "42", "42", "Alice")
    assert code is not None
    store.approve("telegram", "42", grouped(code).lower(), "os:owner")
    assert store.is_approved("telegram", "42")


def test_pending_sender_gets_no_second_code(db: Database) -> None:
    store = PairingStore(db)
    assert store.request_code("telegram", "42", "42") is not None
    assert store.request_code("telegram", "42", "42") is None


def test_code_expires_after_an_hour(db: Database) -> None:
    clock = Clock()
    store = PairingStore(db, clock=clock)
    code = store.request_code("telegram", "42", "42")
    assert code is not None
    clock.t += 3601
    with pytest.raises(PairingError, match="expired"):
        store.approve("telegram", "42", code, "os:owner")
    # Writing again after expiry gives a fresh code.
    assert store.request_code("telegram", "42", "42") is not None


def test_a_denied_sender_gets_no_new_code_for_an_hour(db: Database) -> None:
    clock = Clock()
    store = PairingStore(db, clock=clock)
    assert store.request_code("telegram", "42", "42") is not None
    clock.t += 3000  # denied late in the code's hour: the hour counts from the denial
    store.deny("telegram", "42", "os:owner")
    assert store.pending() == []
    assert store.request_code("telegram", "42", "42") is None
    clock.t += 3500
    assert store.request_code("telegram", "42", "42") is None
    clock.t += 101
    assert store.request_code("telegram", "42", "42") is not None


def test_at_most_three_pending_per_platform_oldest_dropped(db: Database) -> None:
    clock = Clock()
    store = PairingStore(db, clock=clock)
    for user in ("1", "2", "3", "4"):
        clock.t += 1
        store.request_code("telegram", user, user)
    assert [r.user_id for r in store.pending("telegram")] == ["2", "3", "4"]
    assert len(store.pending()) == MAX_PENDING
    store.request_code("whatsapp", "15550001", "15550001")
    assert len(store.pending("whatsapp")) == 1


def test_five_wrong_codes_lock_the_request(db: Database) -> None:
    store = PairingStore(db)
    code = store.request_code("telegram", "42", "42")
    assert code is not None
    for _ in range(5):
        with pytest.raises(PairingError, match="wrong pairing code"):
            store.approve("telegram", "42", "AAAABBBBCCCC", "os:owner")
    with pytest.raises(PairingError, match="locked"):
        store.approve("telegram", "42", code, "os:owner")
    assert not store.is_approved("telegram", "42")
    assert store.request_code("telegram", "42", "42") is None  # locked: no new code either


def policy_for(db: Database, dm_policy: str, **extra: str) -> AccessPolicy:
    lines = [f"    {k}: {v}" for k, v in extra.items()]
    text = "\n".join(["platforms:", "  telegram:", "    api_token: env:T",
                      f"    dm_policy: {dm_policy}", *lines]) + "\n"
    config = validate_document(parse_document(text, "c"), "c")
    return AccessPolicy({"telegram": config.platforms.telegram}, PairingStore(db), EventBus())


def dm(sender: str = "42", text: str = "hi", **kw: object) -> InboundMessage:
    return InboundMessage(platform="telegram", external_id=f"x{text}", chat_id=sender,
                          sender_id=sender, text=text, sender_name="Alice", **kw)  # type: ignore[arg-type]


async def test_unknown_sender_gets_pairing_code_and_no_model_call(db: Database) -> None:
    policy = policy_for(db, "pairing")
    channel = RecordingChannel()
    assert not await policy(dm(), channel)
    assert len(channel.sent) == 1
    text = channel.sent[0][1]
    assert "Your user id: 42" in text
    assert re.search(r"assistant-cli pairing approve --platform telegram --user-id 42 "
                     r"--code [A-Z2-9]{12}\b", text)
    assert not await policy(dm(text="again"), channel)
    assert len(channel.sent) == 1  # no reply storm


async def test_approved_sender_passes_and_allowlist_blocks_strangers(db: Database) -> None:
    policy = policy_for(db, "pairing")
    PairingStore(db).allow("telegram", "42", "os:owner")
    assert await policy(dm(), RecordingChannel())
    strict = policy_for(db, "allowlist", allow_from="['7']")
    channel = RecordingChannel()
    assert await strict(dm("7"), channel)
    assert not await strict(dm("8"), channel)
    assert channel.sent == []
    assert await policy_for(db, "open")(dm("99"), channel)
    assert not await policy_for(db, "disabled")(dm("42"), channel)


async def test_ids_written_without_quotes_in_config_still_match(db: Database) -> None:
    # YAML reads 123456789 as a number; Telegram ids arrive as text.
    strict = policy_for(db, "allowlist", allow_from="[123456789]",
                        groups="{enabled: true, allow: [-1001234567890]}")
    channel = RecordingChannel()
    assert await strict(dm("123456789"), channel)
    assert await strict(InboundMessage(
        platform="telegram", external_id="g", chat_id="-1001234567890", sender_id="123456789",
        text="@bot hi", is_group=True, addressed=True), channel)
    assert not await strict(dm("987654321"), channel)


async def test_groups_are_off_by_default_and_mention_gated_when_on(db: Database) -> None:
    channel = RecordingChannel()
    assert not await policy_for(db, "open")(dm("5", addressed=True, is_group=True), channel)
    on = policy_for(db, "pairing", groups="{enabled: true, allow: [{id: '5', members: any}]}")
    assert await on(dm("5", addressed=True, is_group=True), channel)
    assert not await on(dm("5", text="b", addressed=False, is_group=True), channel)
    assert not await on(dm("6", addressed=True, is_group=True), channel)
    assert channel.sent == []


def group_msg(sender: str, chat: str = "-100777", **kw: object) -> InboundMessage:
    return InboundMessage(platform="telegram", external_id=f"g{sender}{chat}", chat_id=chat,
                          sender_id=sender, text="@bot hi", is_group=True, addressed=True,
                          **kw)  # type: ignore[arg-type]


async def test_empty_group_allow_means_no_group_not_every_group(db: Database) -> None:
    policy = policy_for(db, "pairing", allow_from="['7']", groups="{enabled: true, allow: []}")
    channel = RecordingChannel()
    assert not await policy(group_msg("7"), channel)
    assert not await policy(group_msg("99"), channel)
    assert channel.sent == []


async def test_unpaired_stranger_in_allowed_group_gets_no_model_call(db: Database) -> None:
    policy = policy_for(db, "pairing", allow_from="['7']",
                        groups="{enabled: true, allow: ['-100777']}")
    channel = RecordingChannel()
    assert not await policy(group_msg("99"), channel)
    assert channel.sent == []  # no pairing prompt spilled into the group either
    assert await policy(group_msg("7"), channel)  # on allow_from
    store = PairingStore(db)
    store.allow("telegram", "55", "os:owner")
    assert await policy(group_msg("55"), channel)  # paired


async def test_group_listed_with_members_any_answers_everyone(db: Database) -> None:
    policy = policy_for(db, "pairing", groups=(
        "{enabled: true, allow: ['-100777', {id: -100888, members: any}]}"))
    channel = RecordingChannel()
    assert await policy(group_msg("99", chat="-100888"), channel)
    assert not await policy(group_msg("99", chat="-100777"), channel)
    assert not await policy(group_msg("99", chat="-100999"), channel)


def test_group_allow_entry_with_unknown_members_value_is_refused() -> None:
    text = ("platforms:\n  telegram:\n    api_token: env:T\n    groups:\n"
            "      allow: [{id: '-1', members: everyone}]\n")
    with pytest.raises(Exception, match="members"):
        validate_document(parse_document(text, "c"), "c")


def test_cli_approve_flow_with_audit_entries(isolated_home: Path) -> None:
    paths = resolve()
    db = Database(paths.database)
    code = PairingStore(db).request_code("telegram", "123456789", "123456789", "Alice")
    assert code is not None
    wrong = runner.invoke(app, ["pairing", "approve", "--platform", "telegram", "--user-id",
                                "123456789", "--code", "AAAA-AAAA-AAAA"])
    assert wrong.exit_code == 1
    ok = runner.invoke(app, ["pairing", "approve", "--platform", "telegram", "--user-id",
                             "123456789", "--code", code])
    assert ok.exit_code == 0, ok.output
    listed = runner.invoke(app, ["pairing", "list", "--json"])
    assert '"user_id": "123456789"' in listed.output and '"approved"' in listed.output
    assert runner.invoke(app, ["pairing", "revoke", "--platform", "telegram", "--user-id",
                               "123456789"]).exit_code == 0
    audit = AuditLog(db, key_from_store(SecretStore(paths, db)))
    entries = [(e.action, e.outcome) for e in audit.entries()]
    assert entries == [("pairing.approve", "refused"), ("pairing.approve", "ok"),
                       ("pairing.revoke", "ok")]
    assert all(e.actor.startswith("os:") for e in audit.entries())
    assert code not in str([e.detail for e in audit.entries()])
    assert audit.verify()[0]


CODE = ["--code", "ABCD-EFGH-JKLM"]


@pytest.mark.parametrize(("args", "message"), [
    (["deny", "--platform", "signal", "--user-id", "1"], "unknown platform 'signal'"),
    (["deny", "--platform", "telegram", "--user-id", "12ab"], "malformed telegram user id"),
    (["approve", "--platform", "signal", "--user-id", "123456789", *CODE],
     "unknown platform 'signal'"),
    (["approve", "--platform", "telegram", "--user-id", "-123456789", *CODE],
     "malformed telegram user id '-123456789'"),
    (["approve", "--platform", "telegram", "--user-id", "123456789", "--code", "ABCD"],
     "malformed pairing code 'ABCD'"),
    (["approve", "--platform", "telegram", "--user-id", "123456789", "--code", "ABCDEFGHIJKL"],
     "never contain 0, O, 1 or I"),
    (["allow", "--platform", "telegram", "--user-id", "@alice"], "malformed telegram user id"),
    (["revoke", "--platform", "whatsapp", "--user-id", "+1 555"], "malformed whatsapp user id"),
    (["list", "--platform", "irc"], "unknown platform 'irc'"),
])
def test_cli_bad_platform_user_id_or_code_exits_2_changing_nothing(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str], isolated_home: Path
) -> None:
    db = Database(resolve().database)
    store = PairingStore(db)
    assert store.request_code("telegram", "123456789", "123456789") is not None
    with pytest.raises(SystemExit) as info:
        run(["pairing", *args])
    assert info.value.code == 2
    assert message in capsys.readouterr().err
    [request] = store.pending()
    assert request.failed_attempts == 0  # a typo is not a guess
    assert store.senders() == []


def test_list_shows_names_literally_even_when_they_look_like_markup(isolated_home: Path) -> None:
    store = PairingStore(Database(resolve().database))
    store.request_code("telegram", "111111111", "111111111", "[bold]Eve[/bold]")
    store.allow("telegram", "222222222", "os:owner", display_name="[red]Mal")
    listed = runner.invoke(app, ["pairing", "list"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0, listed.output
    assert "[bold]Eve[/bold]" in listed.output and "[red]Mal" in listed.output


def test_allow_adds_a_sender_without_code(isolated_home: Path) -> None:
    result = runner.invoke(app, ["pairing", "allow", "--platform", "whatsapp", "--user-id",
                                 "15551234567", "--name", "Bob"])
    assert result.exit_code == 0
    assert PairingStore(Database(resolve().database)).is_approved("whatsapp", "15551234567")


async def test_just_approved_sender_is_told_before_their_next_message_is_answered(
    db: Database,
) -> None:
    from assistant_cli.engine.policy import notify_paired
    from assistant_cli.i18n import messages as texts
    from assistant_cli.i18n import translator

    PAIRED = texts.paired(translator("en"))

    policy = policy_for(db, "pairing")
    store = PairingStore(db)
    code = store.request_code("telegram", "42", "42", "Alice")
    assert code is not None
    store.approve("telegram", "42", code, "os:owner")
    store.allow("telegram", "7", "os:owner")  # allowed without a code: no "paired" notice
    channel = RecordingChannel()
    assert await policy(dm("42", text="first"), channel)
    assert await policy(dm("42", text="second"), channel)
    assert await policy(dm("7", text="hello"), channel)
    assert channel.sent == [("42", PAIRED)]
    # The notifier finds nothing left to send.
    import asyncio

    task = asyncio.create_task(notify_paired(store, {"telegram": channel}, EventBus(), 0.01))
    await asyncio.sleep(0.05)
    task.cancel()
    assert channel.sent == [("42", PAIRED)]
