"""OAuth 2.0 against a loopback authorization server: code + PKCE through the real callback,
device flow, client credentials, refresh before expiry and after a 401, revoked tokens."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assistant_cli.config.models import AuthConfig, ProviderConfig
from assistant_cli.domain.messages import ChatTurn
from assistant_cli.errors import ProviderError
from assistant_cli.providers.base import ChatRequest, TextDelta
from assistant_cli.providers.oauth import OAuthClient, OAuthSession
from assistant_cli.providers.oauth_callback import authorization_code_login
from assistant_cli.providers.oauth_tokens import (
    KeyringTokenStore,
    MemoryTokenStore,
    TokenSet,
    secret_name,
)
from assistant_cli.providers.openai import OpenAIProvider
from tests.clirun import cli
from tests.fakes.oauth_server import FakeOAuthServer, OAuthProtectedOpenAI


class Browser:
    """Follows the authorization URL like a browser would, from another thread."""

    def __init__(self) -> None:
        self.pages: list[httpx.Response] = []
        self.done = threading.Event()

    def open(self, url: str) -> None:
        def visit() -> None:
            try:
                self.pages.append(httpx.get(url, follow_redirects=True, timeout=5))
            finally:
                self.done.set()

        threading.Thread(target=visit, daemon=True).start()


@pytest.fixture
def oauth() -> Iterator[FakeOAuthServer]:
    with FakeOAuthServer() as server:
        yield server


def auth_config(oauth: FakeOAuthServer, flow: str = "authorization_code") -> AuthConfig:
    return AuthConfig(type="oauth", flow=flow,  # type: ignore[arg-type]
                      authorize_url=f"{oauth.url}/authorize", token_url=f"{oauth.url}/token",
                      device_authorization_url=f"{oauth.url}/device",
                      client_id=oauth.client_id, client_secret="env:CS",
                      scopes=["chat", "offline_access"])


def client(oauth: FakeOAuthServer, flow: str = "authorization_code") -> OAuthClient:
    return OAuthClient("corp", auth_config(oauth, flow), lambda ref, key: oauth.client_secret)


async def test_authorization_code_with_pkce_arrives_through_the_loopback_callback(
    oauth: FakeOAuthServer,
) -> None:
    browser = Browser()
    tokens = await authorization_code_login(client(oauth), browser.open, timeout=5)
    assert oauth.is_valid(tokens.access_token) and tokens.refresh_token
    asked = oauth.authorize_requests[0]
    assert asked["code_challenge_method"] == "S256" and asked["scope"] == "chat offline_access"
    assert asked["redirect_uri"].startswith("http://127.0.0.1:")
    assert asked["redirect_uri"].endswith("/callback")
    exchange = oauth.token_requests[0]
    assert exchange["grant_type"] == "authorization_code" and exchange["code_verifier"]
    assert browser.done.wait(5) and browser.pages[0].status_code == 200
    assert "Signed in" in browser.pages[0].text


async def test_callback_with_a_wrong_state_is_refused_and_no_code_is_exchanged(
    oauth: FakeOAuthServer,
) -> None:
    oauth.tamper_state = True
    browser = Browser()
    with pytest.raises(ProviderError) as info:
        await authorization_code_login(client(oauth), browser.open, timeout=5)
    assert info.value.kind == "auth" and "state does not match" in info.value.message
    assert "providers login corp" in str(info.value)
    assert oauth.token_requests == []
    assert browser.done.wait(5) and browser.pages[0].status_code == 400


async def test_refused_consent_names_the_servers_reason(oauth: FakeOAuthServer) -> None:
    oauth.deny = True
    with pytest.raises(ProviderError, match="access_denied: the user said no"):
        await authorization_code_login(client(oauth), Browser().open, timeout=5)


async def test_no_browser_answer_times_out_with_advice(oauth: FakeOAuthServer) -> None:
    with pytest.raises(ProviderError, match="no answer from the browser") as info:
        await authorization_code_login(client(oauth), lambda url: None, timeout=0.2)
    assert "device_code" in str(info.value.hint)


async def test_device_flow_waits_through_pending_and_slows_down_by_five_seconds(
    oauth: FakeOAuthServer,
) -> None:
    oauth.device_script.extend(["authorization_pending", "slow_down", "authorization_pending"])
    slept: list[float] = []
    shown: list[tuple[str, str]] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    tokens = await client(oauth, "device_code").device_login(
        lambda code, uri, complete: shown.append((code, uri)), sleep=sleep)
    assert oauth.is_valid(tokens.access_token)
    assert shown == [("WDJB-MJHT", f"{oauth.url}/device-login")]
    assert slept == [5, 5, 10, 10]
    assert oauth.grant_types().count("urn:ietf:params:oauth:grant-type:device_code") == 4


@pytest.mark.parametrize(("answer", "said"), [("expired_token", "expired"),
                                              ("access_denied", "refused")])
async def test_device_flow_stops_on_expiry_or_refusal(
    oauth: FakeOAuthServer, answer: str, said: str
) -> None:
    oauth.device_script.extend(["authorization_pending", answer])

    async def sleep(seconds: float) -> None:
        return None

    with pytest.raises(ProviderError, match=said) as info:
        await client(oauth, "device_code").device_login(lambda *a: None, sleep=sleep)
    assert info.value.kind == "auth"


async def test_client_credentials_uses_the_secret_and_renews_without_a_refresh_token(
    oauth: FakeOAuthServer,
) -> None:
    store = MemoryTokenStore()
    session = OAuthSession(client(oauth, "client_credentials"), store)
    first = await session.access_token()
    assert oauth.is_valid(first) and store.load("corp") is not None
    assert oauth.token_requests[0]["client_secret"] == oauth.client_secret
    oauth.expire_access_tokens()
    assert await session.refresh_after_401(first)
    assert oauth.grant_types() == ["client_credentials", "client_credentials"]


async def test_token_close_to_expiry_is_refreshed_before_use(oauth: FakeOAuthServer) -> None:
    oauth.issued.refresh.add("rt-known")
    store = MemoryTokenStore()
    # Ten seconds left: inside the refresh margin, so it is renewed before being sent.
    store.save("corp", TokenSet("old-token", refresh_token="rt-known",
                                expires_at=time.time() + 10))
    session = OAuthSession(client(oauth), store)
    token = await session.access_token()
    assert token != "old-token" and oauth.is_valid(token)
    assert oauth.grant_types() == ["refresh_token"]
    saved = store.load("corp")
    assert saved is not None and saved.access_token == token
    assert saved.refresh_token == "rt-known"  # not rotated by the server, so kept
    assert await session.access_token() == token  # fresh now: no second refresh
    assert oauth.grant_types() == ["refresh_token"]


def provider(api: OAuthProtectedOpenAI, oauth: FakeOAuthServer) -> OpenAIProvider:
    cfg = ProviderConfig(base_url=api.base_url, model="fake-model", auth=auth_config(oauth))
    return OpenAIProvider("corp", cfg, lambda ref, key: oauth.client_secret)


async def signed_in(oauth: FakeOAuthServer) -> TokenSet:
    tokens = await authorization_code_login(client(oauth), Browser().open, timeout=5)
    KeyringTokenStore().save("corp", tokens)
    return tokens


async def test_a_401_refreshes_the_token_once_and_the_request_succeeds(
    oauth: FakeOAuthServer,
) -> None:
    with OAuthProtectedOpenAI(oauth) as api:
        await signed_in(oauth)
        oauth.expire_access_tokens()  # the server dropped it early; our clock says it's fine
        p = provider(api, oauth)
        request = ChatRequest((ChatTurn("user", "hi"),))
        text = "".join([e.text async for e in p.stream(request) if isinstance(e, TextDelta)])
        await p.aclose()
    assert text == "echo: hi"
    assert oauth.grant_types() == ["authorization_code", "refresh_token"]
    assert len(api.requests) == 2  # the refused one and the retry


async def test_a_401_on_the_health_check_refreshes_the_token_once_too(
    oauth: FakeOAuthServer,
) -> None:
    with OAuthProtectedOpenAI(oauth) as api:
        await signed_in(oauth)
        oauth.expire_access_tokens()
        p = provider(api, oauth)
        info = await p.health_check()
        await p.aclose()
    assert info.status == 200
    assert oauth.grant_types() == ["authorization_code", "refresh_token"]


async def test_revoked_refresh_token_tells_the_user_to_log_in_again(
    oauth: FakeOAuthServer,
) -> None:
    with OAuthProtectedOpenAI(oauth) as api:
        await signed_in(oauth)
        oauth.revoke_all()
        p = provider(api, oauth)
        with pytest.raises(ProviderError) as info:
            async for _ in p.stream(ChatRequest((ChatTurn("user", "hi"),))):
                pass
        await p.aclose()
    assert info.value.kind == "auth" and not info.value.retryable
    assert "expired or was revoked" in info.value.message
    assert "assistant-cli providers login corp" in str(info.value)


async def test_never_signed_in_says_how_to_sign_in(oauth: FakeOAuthServer) -> None:
    with OAuthProtectedOpenAI(oauth) as api:
        p = provider(api, oauth)
        with pytest.raises(ProviderError, match="not signed in") as info:
            async for _ in p.stream(ChatRequest((ChatTurn("user", "hi"),))):
                pass
        await p.aclose()
    assert api.requests == [] and "providers login corp" in str(info.value)


def write_config(home: Path, oauth: FakeOAuthServer, flow: str = "authorization_code") -> None:
    (home / "config.yaml").write_text(
        "providers:\n  corp:\n    base_url: http://127.0.0.1:9/v1\n    model: m\n"
        f"    auth:\n      type: oauth\n      flow: {flow}\n"
        f"      authorize_url: {oauth.url}/authorize\n      token_url: {oauth.url}/token\n"
        f"      device_authorization_url: {oauth.url}/device\n"
        f"      client_id: {oauth.client_id}\n      client_secret: env:CS\n")


def audit_actions() -> list[tuple[str, str]]:
    from assistant_cli.paths import resolve
    from assistant_cli.secrets.store import SecretStore
    from assistant_cli.store.audit import AuditLog, key_from_store
    from assistant_cli.store.db import Database

    db = Database(resolve().database)
    return [(e.action, e.outcome)
            for e in AuditLog(db, key_from_store(SecretStore(resolve(), db))).entries()]


def test_login_command_stores_tokens_in_the_keyring_and_logout_forgets_them(
    oauth: FakeOAuthServer, isolated_home: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_config(isolated_home, oauth)
    monkeypatch.setenv("CS", oauth.client_secret)
    browser = Browser()
    monkeypatch.setattr("webbrowser.open", lambda url, new=0: browser.open(url))
    code, out, err = cli(capsys, "providers", "login", "corp", "--timeout", "5")
    assert code == 0, err
    assert "signed in to corp" in out and f"{oauth.url}/authorize?" in err
    stored = KeyringTokenStore().load("corp")
    assert stored is not None and oauth.is_valid(stored.access_token)
    code, out, _ = cli(capsys, "providers", "logout", "corp")
    assert code == 0 and "signed out of corp" in out
    assert KeyringTokenStore().load("corp") is None
    assert audit_actions() == [("providers.login", "ok"), ("providers.logout", "ok")]


def test_login_command_with_a_forged_callback_fails_and_stores_nothing(
    oauth: FakeOAuthServer, isolated_home: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from assistant_cli.paths import resolve
    from assistant_cli.secrets.store import SecretStore

    write_config(isolated_home, oauth)
    before = (isolated_home / "config.yaml").read_bytes()
    oauth.tamper_state = True
    browser = Browser()
    monkeypatch.setattr("webbrowser.open", lambda url, new=0: browser.open(url))
    code, _, err = cli(capsys, "providers", "login", "corp", "--timeout", "5")
    assert code == 1
    assert "error: corp: the OAuth callback's state does not match" in err
    assert "fix: run `assistant-cli providers login corp` again" in err
    assert SecretStore(resolve()).get(secret_name("corp")) is None
    assert (isolated_home / "config.yaml").read_bytes() == before
    assert oauth.token_requests == []  # the code was never exchanged
    assert audit_actions() == [("providers.login", "failed")]


def test_device_login_command_prints_the_code(
    oauth: FakeOAuthServer, isolated_home: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_config(isolated_home, oauth, flow="device_code")
    monkeypatch.setenv("CS", oauth.client_secret)
    oauth.device_interval = 0.01  # type: ignore[assignment]
    oauth.device_script.append("authorization_pending")
    code, out, err = cli(capsys, "providers", "login", "corp")
    assert code == 0, err
    assert "WDJB-MJHT" in err and "signed in to corp" in out


def test_login_on_a_provider_without_oauth_is_a_usage_error(
    isolated_home: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    (isolated_home / "config.yaml").write_text(
        "providers:\n  plain:\n    base_url: http://127.0.0.1:9/v1\n    model: m\n")
    code, _, err = cli(capsys, "providers", "login", "plain")
    assert code == 2 and "does not use OAuth" in err
