"""The anthropic, openai-ws and grpc kinds side by side: start each kind's fake (plain,
OAuth-protected or mutual TLS) and build its provider, so one test covers all three."""

from __future__ import annotations

from typing import Any

import grpc

from assistant_cli.config.models import AuthConfig, ProviderConfig
from assistant_cli.domain.messages import ChatTurn
from assistant_cli.providers.anthropic import AnthropicProvider
from assistant_cli.providers.base import ChatRequest, Provider, TextDelta
from assistant_cli.providers.grpc_kserve import KServeGrpcProvider
from assistant_cli.providers.openai_ws import OpenAIWebSocketProvider
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.kserve_grpc_server import FakeKServe
from tests.fakes.oauth_protected import (
    OAuthProtectedAnthropic,
    OAuthProtectedKServe,
    OAuthProtectedResponsesWS,
)
from tests.fakes.oauth_server import FakeOAuthServer
from tests.fakes.openai_ws_server import FakeResponsesWS
from tests.fakes.pki import Pki
from tests.fakes.tls_server import server_context

KINDS = ("anthropic", "openai-ws", "grpc")
CLASSES: dict[str, type[Provider]] = {
    "anthropic": AnthropicProvider, "openai-ws": OpenAIWebSocketProvider,
    "grpc": KServeGrpcProvider}
MODELS = {"anthropic": "fake-claude", "openai-ws": "fake-model", "grpc": "ensemble"}
KEYS = {"anthropic": "sk-ant-test", "openai-ws": "sk-test-key", "grpc": "grpc-test-token"}
REQUEST = ChatRequest((ChatTurn("user", "hello"),))

Fake = FakeAnthropic | FakeResponsesWS | FakeKServe
ProtectedFake = OAuthProtectedAnthropic | OAuthProtectedResponsesWS | OAuthProtectedKServe


def plain_fake(kind: str, **kwargs: Any) -> Fake:
    """The kind's fake, wanting its API key."""
    if kind == "anthropic":
        return FakeAnthropic(**kwargs)
    if kind == "openai-ws":
        return FakeResponsesWS(**kwargs)
    return FakeKServe(**kwargs)


def oauth_fake(kind: str, oauth: FakeOAuthServer) -> ProtectedFake:
    """The kind's fake, wanting a valid access token from `oauth` on every call."""
    if kind == "anthropic":
        return OAuthProtectedAnthropic(oauth)
    if kind == "openai-ws":
        return OAuthProtectedResponsesWS(oauth)
    return OAuthProtectedKServe(oauth)


def mtls_fake(kind: str, pki: Pki) -> Fake:
    """The kind's fake over TLS as 127.0.0.1, requiring a client certificate from the
    suite's root CA and no API key."""
    if kind == "grpc":
        credentials = grpc.ssl_server_credentials(
            [((pki.dir / "server.key").read_bytes(), (pki.dir / "server.pem").read_bytes())],
            root_certificates=(pki.dir / "root.pem").read_bytes(), require_client_auth=True)
        return FakeKServe(api_key=None, credentials=credentials)
    if kind == "anthropic":
        return FakeAnthropic(api_key=None, ssl_context=server_context(pki))
    return FakeResponsesWS(api_key=None, ssl_context=server_context(pki))


def oauth_block(oauth: FakeOAuthServer) -> AuthConfig:
    return AuthConfig(type="oauth", flow="authorization_code",
                      authorize_url=f"{oauth.url}/authorize", token_url=f"{oauth.url}/token",
                      client_id=oauth.client_id, client_secret="env:CS")


def provider(kind: str, fake: Fake, name: str = "corp", **config: Any) -> Provider:
    """A provider of `kind` for `fake`; secrets resolve to the kind's test key (or, for
    OAuth, to the fake authorization server's client secret, passed as `secret`)."""
    secret = config.pop("secret", KEYS[kind])
    cfg = ProviderConfig(kind=kind, base_url=fake.base_url, model=MODELS[kind],
                         timeout=config.pop("timeout", 5), **config)
    return CLASSES[kind](name, cfg, lambda ref, where: secret)


async def answer(p: Provider) -> str:
    """The streamed text of one short turn; the provider is closed afterwards."""
    try:
        return "".join([e.text async for e in p.stream(REQUEST) if isinstance(e, TextDelta)])
    finally:
        await p.aclose()


def bearer_seen(fake: Fake) -> list[str]:
    """The Authorization value of every request the fake recorded, in order."""
    if isinstance(fake, FakeKServe):
        return [r.metadata.get("authorization", "") for r in fake.requests]
    return [r.headers.get("Authorization", "") for r in fake.requests]
