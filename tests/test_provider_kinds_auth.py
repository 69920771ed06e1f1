"""OAuth 2.0 and mutual TLS for the anthropic, openai-ws and grpc kinds, through the shared
`Provider.auth` layer, against each kind's loopback fake and the suite's certificates."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant_cli.errors import ProviderError
from assistant_cli.providers.oauth_tokens import KeyringTokenStore, TokenSet
from tests.fakes.oauth_server import FakeOAuthServer
from tests.fakes.pki import Pki, make_pki
from tests.provider_kinds import (
    KINDS,
    answer,
    bearer_seen,
    mtls_fake,
    oauth_block,
    oauth_fake,
    plain_fake,
    provider,
)

pytestmark = pytest.mark.parametrize("kind", KINDS)


@pytest.fixture
def oauth() -> Iterator[FakeOAuthServer]:
    with FakeOAuthServer() as server:
        yield server


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def signed_in_with_a_dropped_token(oauth: FakeOAuthServer) -> None:
    """Keyring tokens whose access token our clock thinks fresh but the service refuses (it
    was revoked early); the refresh token is still good."""
    oauth.issued.refresh.add("rt-good")
    KeyringTokenStore().save("corp", TokenSet("at-dropped", refresh_token="rt-good",
                                              expires_at=time.time() + 3600))


def current_token() -> str:
    tokens = KeyringTokenStore().load("corp")
    assert tokens is not None
    return tokens.access_token


# ------------------------------------------------------------------------ OAuth 2.0


async def test_oauth_token_is_sent_as_bearer_and_one_401_refreshes_it(
    kind: str, oauth: FakeOAuthServer
) -> None:
    signed_in_with_a_dropped_token(oauth)
    with oauth_fake(kind, oauth) as fake:
        p = provider(kind, fake, auth=oauth_block(oauth), secret=oauth.client_secret)
        assert await answer(p) == "echo: hello"
        assert fake.refused == 1
        seen = bearer_seen(fake)
    assert oauth.grant_types() == ["refresh_token"]
    new = current_token()
    assert new != "at-dropped" and oauth.is_valid(new)
    assert seen[-1] == f"Bearer {new}"
    if kind == "anthropic":
        assert "x-api-key" not in fake.requests[-1].headers  # type: ignore[union-attr]


async def test_oauth_health_check_refreshes_after_a_401_and_the_answer_needs_no_more(
    kind: str, oauth: FakeOAuthServer
) -> None:
    signed_in_with_a_dropped_token(oauth)
    with oauth_fake(kind, oauth) as fake:
        p = provider(kind, fake, auth=oauth_block(oauth), secret=oauth.client_secret)
        info = await p.health_check()
        assert info is not None and info.latency_ms >= 0
        assert info.status == (None if kind == "grpc" else 200)
        assert await answer(p) == "echo: hello"
        assert fake.refused == 1
    assert oauth.grant_types() == ["refresh_token"]


async def test_a_token_refused_again_after_its_refresh_is_not_retried_twice(
    kind: str, oauth: FakeOAuthServer
) -> None:
    signed_in_with_a_dropped_token(oauth)
    # The service trusts another authorization server: whatever we refresh, it refuses.
    with FakeOAuthServer() as elsewhere, oauth_fake(kind, elsewhere) as fake:
        p = provider(kind, fake, auth=oauth_block(oauth), secret=oauth.client_secret)
        with pytest.raises(ProviderError) as info:
            await answer(p)
        assert fake.refused == 2
    assert oauth.grant_types() == ["refresh_token"]
    assert info.value.kind == "auth" and "the access token was refused" in info.value.message
    assert "assistant-cli providers login corp" in str(info.value.hint)


async def test_a_revoked_sign_in_says_to_run_providers_login(
    kind: str, oauth: FakeOAuthServer
) -> None:
    signed_in_with_a_dropped_token(oauth)
    oauth.revoke_all()
    with oauth_fake(kind, oauth) as fake:
        p = provider(kind, fake, auth=oauth_block(oauth), secret=oauth.client_secret)
        with pytest.raises(ProviderError) as info:
            await answer(p)
    assert info.value.kind == "auth" and not info.value.retryable
    assert "expired or was revoked" in info.value.message
    assert "assistant-cli providers login corp" in str(info.value)


async def test_api_key_goes_in_the_kinds_own_header(kind: str) -> None:
    with plain_fake(kind) as fake:
        p = provider(kind, fake, api_key="env:KEY")
        assert p.auth.type == "api-key"
        assert await answer(p) == "echo: hello"
    if kind == "anthropic":
        headers = fake.requests[0].headers  # type: ignore[union-attr]
        assert headers["x-api-key"] == "sk-ant-test" and "Authorization" not in headers
    else:
        assert bearer_seen(fake)[0].startswith("Bearer ")


# ----------------------------------------------------------------------- mutual TLS


def tls(pki: Pki, client: str = "client", ca: str = "root.pem") -> dict[str, str]:
    return {"ca_file": pki.path(ca), "cert_file": pki.path(f"{client}.pem"),
            "key_file": pki.path(f"{client}.key")}


async def test_mtls_presents_the_client_chain_for_the_answer_and_the_health_check(
    kind: str, pki: Pki
) -> None:
    with mtls_fake(kind, pki) as fake:
        p = provider(kind, fake, **tls(pki))
        assert p.auth.type == "mtls"
        info = await p.health_check()
        assert info is not None
        assert await answer(p) == "echo: hello"


async def test_mtls_server_refuses_a_certificate_from_an_untrusted_ca(
    kind: str, pki: Pki
) -> None:
    with mtls_fake(kind, pki) as fake:
        with pytest.raises(ProviderError) as info:
            await answer(provider(kind, fake, timeout=3, **tls(pki, "client-rogue")))
        assert fake.requests == []
    # TLS 1.3 servers refuse a client certificate after the handshake (a closed connection),
    # so the error may read as a network failure; either way it points at the certificate.
    assert info.value.kind in ("auth", "network")
    assert "client certificate" in str(info.value.hint) or "TLS" in info.value.message


async def test_mtls_client_refuses_a_server_its_ca_bundle_does_not_vouch_for(
    kind: str, pki: Pki
) -> None:
    with mtls_fake(kind, pki) as fake:
        with pytest.raises(ProviderError) as info:
            await answer(provider(kind, fake, timeout=3, **tls(pki, ca="rogue-ca.pem")))
        assert fake.requests == []
    assert info.value.kind == "auth" and not info.value.retryable
    assert "ca_file" in str(info.value.hint)


async def test_unreadable_tls_files_are_an_auth_error_naming_the_file(
    kind: str, pki: Pki, tmp_path: Path
) -> None:
    with mtls_fake(kind, pki) as fake:
        files = {**tls(pki), "ca_file": f"{tmp_path}/missing-ca.pem"}
        with pytest.raises(ProviderError) as info:
            await answer(provider(kind, fake, **files))
    assert info.value.kind == "auth" and "missing-ca.pem" in info.value.message
    assert info.value.message.startswith("corp: ")
