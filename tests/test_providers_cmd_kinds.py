"""`providers add/test/models` for the anthropic, openai-ws and grpc kinds, against each
kind's fake: health check and completion with status, latency and rate-limit headers, the
error class and diagnosis, with an API key, mutual TLS or OAuth."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from assistant_cli.providers.oauth_tokens import KeyringTokenStore, TokenSet
from tests.clirun import cli
from tests.fakes import anthropic_server, kserve_grpc_server, openai_ws_server
from tests.fakes.oauth_server import FakeOAuthServer
from tests.fakes.openai_server import openai_error
from tests.fakes.pki import Pki, make_pki
from tests.provider_kinds import KEYS, KINDS, MODELS, Fake, mtls_fake, oauth_fake, plain_fake

pytestmark = pytest.mark.parametrize("kind", KINDS)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def fake(kind: str) -> Iterator[Fake]:
    with plain_fake(kind) as server:
        yield server


def add(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, kind: str,
        base_url: str, *extra: str, key: str | None = None) -> None:
    if key is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(key + "\n"))
        extra = (*extra, "--api-key-stdin")
    code, _, err = cli(capsys, "providers", "add", "svc", "--kind", kind, "--base-url",
                       base_url, "--model", MODELS[kind], *extra)
    assert code == 0, err


def test_providers_test_shows_health_and_completion_with_status_latency_and_model(
    kind: str, fake: Fake, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add(capsys, monkeypatch, kind, fake.base_url, key=KEYS[kind])
    code, out, err = cli(capsys, "providers", "test", "svc", "--json")
    assert code == 0, out + err
    report = json.loads(out)
    assert report["ok"] and [s["name"] for s in report["steps"]] == ["health", "completion"]
    health, completion = report["steps"]
    # gRPC has no HTTP status: its health is ServerReady + ModelReady.
    expected = {"anthropic": 200, "openai-ws": 200, "grpc": None}[kind]
    assert health["ok"] and health["status"] == expected
    assert completion["status"] == {"anthropic": 200, "openai-ws": 101, "grpc": None}[kind]
    assert completion["latency_ms"] > 0 and completion["model"] == MODELS[kind]
    assert completion["reply"] == "echo: Reply with the single word OK."
    assert "svc works" in report["diagnosis"]
    code, out, _ = cli(capsys, "providers", "list", "--json")
    row = json.loads(out)["providers"][0]
    assert row["kind"] == kind and row["auth"] == "api-key" and row["health"]["ok"]


RATE_LIMITED = {
    "anthropic": (anthropic_server.Error.rate_limited(retry_after=2),
                  "anthropic-ratelimit-requests-remaining: 0"),
    "openai-ws": (openai_ws_server.HandshakeError(
        429, openai_error("Rate limit reached", "requests", "rate_limit_exceeded"),
        {"retry-after": "2", "x-ratelimit-remaining-requests": "0"}),
        "x-ratelimit-remaining-requests: 0"),
    "grpc": (kserve_grpc_server.Abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "slow down"), None),
}


def test_providers_test_classifies_a_rate_limit_and_shows_its_headers(
    kind: str, fake: Fake, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add(capsys, monkeypatch, kind, fake.base_url, key=KEYS[kind])
    behaviour, header = RATE_LIMITED[kind]
    fake.enqueue(behaviour)  # type: ignore[arg-type]
    code, out, err = cli(capsys, "providers", "test", "svc")
    assert code == 1
    assert "health     ok" in out and "[rate_limit]" in out
    assert "rate limiting us" in err
    if header is None:
        assert "completion FAIL  -" in out and "RESOURCE_EXHAUSTED" in out
    else:
        assert "completion FAIL  HTTP 429" in out
        assert header in out and "retry-after: 2" in out


def test_providers_test_with_a_wrong_key_is_an_auth_failure(
    kind: str, fake: Fake, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add(capsys, monkeypatch, kind, fake.base_url, key="wrong-key")
    code, out, err = cli(capsys, "providers", "test", "svc")
    assert code == 1 and "[auth]" in out
    if kind == "grpc":  # readiness is open on a bare Triton; the inference call is not
        assert "completion FAIL" in out and "UNAUTHENTICATED" in err
    else:
        assert "health     FAIL  HTTP 401" in out
        assert "refused our credentials (HTTP 401)" in err


def test_models_lists_what_the_api_offers_or_says_it_cannot(
    kind: str, fake: Fake, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add(capsys, monkeypatch, kind, fake.base_url, key=KEYS[kind])
    code, out, err = cli(capsys, "providers", "models", "svc")
    if kind == "grpc":  # the KServe v2 protocol has no model list
        assert code == 2 and "cannot list its models" in err
    else:
        assert code == 0, err
        assert out.splitlines() == [MODELS[kind]]


def test_providers_add_with_mtls_then_test_succeeds(
    kind: str, pki: Pki, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    isolated_home: Path,
) -> None:
    with mtls_fake(kind, pki) as server:
        add(capsys, monkeypatch, kind, server.base_url, "--cert", pki.path("client.pem"),
            "--key", pki.path("client.key"), "--ca", pki.path("root.pem"))
        assert "type: mtls" in (isolated_home / "config.yaml").read_text()
        code, out, err = cli(capsys, "providers", "test", "svc")
    assert code == 0, out + err
    assert "auth mtls" in out and "completion ok" in out and "svc works" in out


def test_providers_test_with_oauth_refreshes_a_dropped_token_and_passes(
    kind: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    isolated_home: Path,
) -> None:
    with FakeOAuthServer() as oauth, oauth_fake(kind, oauth) as server:
        (isolated_home / "config.yaml").write_text(
            f"providers:\n  svc:\n    kind: {kind}\n    base_url: {server.base_url}\n"
            f"    model: {MODELS[kind]}\n    auth:\n      type: oauth\n"
            f"      authorize_url: {oauth.url}/authorize\n      token_url: {oauth.url}/token\n"
            f"      client_id: {oauth.client_id}\n      client_secret: env:CS\n")
        monkeypatch.setenv("CS", oauth.client_secret)
        oauth.issued.refresh.add("rt-good")
        KeyringTokenStore().save("svc", TokenSet("at-dropped", refresh_token="rt-good",
                                                 expires_at=time.time() + 3600))
        code, out, err = cli(capsys, "providers", "test", "svc")
        refused = server.refused
    assert code == 0, out + err
    assert "auth oauth" in out and "health     ok" in out and "completion ok" in out
    assert oauth.grant_types() == ["refresh_token"] and refused == 1
