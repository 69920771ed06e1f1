"""`doctor`'s network checks against loopback fakes: providers, Telegram, WhatsApp."""

from __future__ import annotations

import random
import secrets
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from assistant_cli.doctor.base import Result
from assistant_cli.doctor.channel_checks import webhook_result
from assistant_cli.paths import resolve
from assistant_cli.secrets.store import SecretStore
from tests.doctor_support import free_port, outcomes, result, write_config
from tests.fakes.openai_server import Error, FakeOpenAI, Hang
from tests.fakes.telegram_server import FakeTelegram
from tests.fakes.whatsapp_server import ACCESS_TOKEN, PHONE_NUMBER_ID, FakeGraph

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

KEY = "sk-test-key"


@pytest.fixture
def ai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key=KEY, strict_model=True) as fake:
        yield fake


def provider_config(base_url: str, model: str = "fake-model") -> None:
    write_config(f"""
        version: 1
        providers:
          main:
            base_url: {base_url}
            model: {model}
            api_key: keyring:main_key
        """)
    SecretStore(resolve()).set("main_key", KEY)


# --- providers ---------------------------------------------------------------------------

def test_working_provider_passes_every_stage_in_order(ai: FakeOpenAI) -> None:
    provider_config(ai.base_url)
    r = result("providers.main")
    assert r.status == "ok", r.found
    stages = [r.found.index(s) for s in ("DNS 127.0.0.1", "TCP", "answered")]
    assert stages == sorted(stages)
    assert ai.requests[-1].body["max_tokens"] <= 16  # a cheap call


@pytest.mark.parametrize(("behaviour", "status", "words", "fix"), [
    (Error.invalid_api_key(), "fail", "rejected", "assistant-cli secrets rotate main_key"),
    (Error.rate_limited(), "warn", "rate limited", "fallback"),
    (Error.insufficient_quota(), "fail", "quota is exhausted", "billing"),
    (Error.server_error(), "warn", "HTTP 500", "status page"),
])
def test_http_status_of_the_call_becomes_advice(
        ai: FakeOpenAI, behaviour: Error, status: str, words: str, fix: str) -> None:
    provider_config(ai.base_url)
    ai.enqueue(behaviour)
    r = result("providers.main")
    assert (r.status, words in r.found, fix in r.fix) == (status, True, True), r


def test_rate_limit_and_exhausted_quota_are_told_apart(ai: FakeOpenAI) -> None:
    provider_config(ai.base_url)
    ai.enqueue(Error.rate_limited())
    limited = result("providers.main")
    ai.enqueue(Error.insufficient_quota())
    exhausted = result("providers.main")
    assert limited.data["verdict"] == "accepted" and exhausted.data["verdict"] == "rejected"
    assert "does not pass by waiting" in exhausted.fix


def test_unknown_model_fails_naming_it(ai: FakeOpenAI) -> None:
    provider_config(ai.base_url, model="gpt-nope")
    r = result("providers.main")
    assert r.status == "fail" and "HTTP 404" in r.found and "'gpt-nope'" in r.found
    assert "providers.main.model" in r.fix


def test_hanging_provider_fails_within_the_timeout(ai: FakeOpenAI) -> None:
    provider_config(ai.base_url)
    ai.enqueue(Hang())
    started = time.monotonic()
    r = result("providers.main", timeout=1.0)
    assert time.monotonic() - started < 3
    assert r.status == "fail" and "no answer within" in r.found
    assert f"127.0.0.1:{ai.port}" in r.found


def test_closed_port_fails_naming_host_port_and_the_firewall() -> None:
    port = free_port()
    provider_config(f"http://127.0.0.1:{port}/v1")
    r = result("providers.main")
    assert r.status == "fail" and f"127.0.0.1:{port} refused" in r.found
    assert "firewall" in r.fix and f"127.0.0.1:{port}" in r.fix


def test_dns_failure_is_the_first_stage_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_such_host(*args: object, **kwargs: object) -> object:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    provider_config("https://api.example.invalid/v1")
    r = result("providers.main")
    assert r.status == "fail" and r.found.startswith("DNS: cannot resolve api.example.invalid")
    assert "resolv.conf" in r.fix


def test_tls_to_a_plain_http_server_fails_at_the_handshake(ai: FakeOpenAI) -> None:
    provider_config(f"https://127.0.0.1:{ai.port}/v1")
    r = result("providers.main")
    assert r.status == "fail" and "TCP" in r.found and "TLS: handshake" in r.found
    assert not ai.requests  # no HTTP call after a failed handshake


def test_missing_provider_key_fails_with_the_command_to_store_it(ai: FakeOpenAI) -> None:
    provider_config(ai.base_url)
    SecretStore(resolve()).delete("main_key")
    r = result("providers.main")
    assert r.status == "fail" and "secrets set main_key" in r.fix


# --- Telegram ----------------------------------------------------------------------------

def new_token() -> str:
    return f"{random.randint(10**8, 10**9 - 1)}:{secrets.token_urlsafe(27)}"


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram(token=new_token()) as fake:
        yield fake


def telegram_config(base_url: str, token: str, mode: str = "polling",
                    webhook_url: str | None = None) -> None:
    extra = f"\n            webhook_url: {webhook_url}" if webhook_url else ""
    write_config(f"""
        version: 1
        platforms:
          telegram:
            api_token: keyring:telegram_token
            base_url: {base_url}
            mode: {mode}{extra}
        """)
    SecretStore(resolve()).set("telegram_token", token)


def set_webhook(tg: FakeTelegram, url: str) -> None:
    reply = httpx.post(f"{tg.base_url}{tg.token}/setWebhook", data={"url": url})
    assert reply.json()["ok"], reply.text


def test_valid_token_and_no_webhook_in_polling_mode_are_ok(tg: FakeTelegram) -> None:
    telegram_config(tg.base_url, tg.token)
    tg.push_message(1, "hi")
    found = outcomes("telegram")
    token, hook = found["telegram.token"].result, found["telegram.webhook"].result
    assert token.status == "ok" and "@test_bot" in token.found
    assert hook.status == "ok" and "1 update(s) waiting" in hook.found
    assert len(tg.calls("getMe")) == 1  # one getMe shared by both checks


def test_rejected_token_fails_with_botfather_and_skips_the_webhook_check(
        tg: FakeTelegram) -> None:
    telegram_config(tg.base_url, new_token())
    found = outcomes("telegram")
    r = found["telegram.token"].result
    assert r.status == "fail" and "rejected the bot token" in r.found
    assert "@BotFather" in r.fix and "secrets rotate telegram_token" in r.fix
    assert found["telegram.webhook"].result.status == "skipped"


def test_webhook_set_while_polling_is_a_mode_mismatch_warning(tg: FakeTelegram) -> None:
    telegram_config(tg.base_url, tg.token)
    set_webhook(tg, "https://bot.example.com/telegram")
    r = result("telegram.webhook")
    assert r.status == "warn" and "mode is polling" in r.found
    assert "https://bot.example.com/telegram" in r.found


def test_webhook_mode_without_a_registered_webhook_warns(tg: FakeTelegram) -> None:
    telegram_config(tg.base_url, tg.token, "webhook", "https://bot.example.com/tg")
    r = result("telegram.webhook")
    assert r.status == "warn" and "no webhook registered" in r.found


def test_webhook_at_another_url_fails(tg: FakeTelegram) -> None:
    telegram_config(tg.base_url, tg.token, "webhook", "https://bot.example.com/tg")
    set_webhook(tg, "https://old.example.com/tg")
    r = result("telegram.webhook")
    assert r.status == "fail" and "https://old.example.com/tg" in r.found


def test_recent_delivery_error_with_pending_updates_fails_with_message_and_date(
        tg: FakeTelegram) -> None:
    url = "https://bot.example.com/tg"
    telegram_config(tg.base_url, tg.token, "webhook", url)
    set_webhook(tg, url)
    tg.push_message(1, "anyone there?")
    tg.set_webhook_error("Wrong response from the webhook: 502 Bad Gateway",
                         date=int(time.time()) - 60)
    r = result("telegram.webhook")
    assert r.status == "fail"
    assert "502 Bad Gateway" in r.found and time.strftime("%Y-%m-%d") in r.found
    assert r.data["pending_update_count"] == 1
    assert "HTTPS" in r.fix


def test_old_delivery_error_is_only_reported() -> None:
    from datetime import datetime, timezone

    from telegram import WebhookInfo

    from assistant_cli.config.models import TelegramConfig

    cfg = TelegramConfig(api_token="x", mode="webhook", webhook_url="https://a/b")
    old = WebhookInfo("https://a/b", False, 0, datetime(2020, 1, 1, tzinfo=timezone.utc),
                      "Connection timed out")
    recent = WebhookInfo("https://a/b", False, 0,
                         datetime.fromtimestamp(time.time() - 600, timezone.utc), "timeout")
    assert webhook_result(cfg, old, time.time()).status == "ok"
    assert webhook_result(cfg, recent, time.time()).status == "warn"  # no backlog: not failing


def test_unreachable_bot_api_fails_naming_host_and_port() -> None:
    port = free_port()
    telegram_config(f"http://127.0.0.1:{port}/bot", new_token())
    r = result("telegram.token")
    assert r.status == "fail" and f"127.0.0.1:{port}" in r.found and "firewall" in r.fix


# --- WhatsApp ----------------------------------------------------------------------------

@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    with FakeGraph() as fake:
        yield fake


def whatsapp_config(base_url: str, token: str = ACCESS_TOKEN, number: str = "+1 555 010 0000",
                    phone_id: str = PHONE_NUMBER_ID) -> None:
    write_config(f"""
        version: 1
        platforms:
          whatsapp:
            business_id: "1"
            phone_number: "{number}"
            phone_number_id: "{phone_id}"
            access_token: keyring:whatsapp_token
            app_secret: keyring:wa_app
            verify_token: keyring:wa_verify
            graph_base_url: {base_url}
        """)
    SecretStore(resolve()).set("whatsapp_token", token)


def test_valid_whatsapp_token_and_number_are_ok(graph: FakeGraph) -> None:
    whatsapp_config(graph.base_url)
    r = result("whatsapp.token")
    assert r.status == "ok" and "Fake Assistant Inc" in r.found


def test_rejected_whatsapp_token_fails(graph: FakeGraph) -> None:
    whatsapp_config(graph.base_url, token="EAAGwrong-token-000000")
    r = result("whatsapp.token")
    assert r.status == "fail" and "rejected the access token" in r.found
    assert "secrets rotate whatsapp_token" in r.fix


def test_unknown_phone_number_id_fails(graph: FakeGraph) -> None:
    whatsapp_config(graph.base_url, phone_id="999")
    r = result("whatsapp.token")
    assert r.status == "fail" and "phone number id '999'" in r.found
    assert "Phone number ID" in r.fix


def test_number_that_differs_from_the_config_warns(graph: FakeGraph) -> None:
    whatsapp_config(graph.base_url, number="+44 20 7946 0000")
    r = result("whatsapp.token")
    assert r.status == "warn" and "+44 20 7946 0000" in r.found


def test_unreachable_graph_api_fails_naming_host_and_port() -> None:
    port = free_port()
    whatsapp_config(f"http://127.0.0.1:{port}")
    r: Result = result("whatsapp.token")
    assert r.status == "fail" and f"127.0.0.1:{port}" in r.found and "firewall" in r.fix
