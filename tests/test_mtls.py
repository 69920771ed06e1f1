"""Mutual TLS with certificates the suite makes: validation at `providers add`, REST calls
to a server that requires a client certificate, and refusals for the wrong CA."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant_cli.config.models import ProviderConfig
from assistant_cli.domain.messages import ChatTurn
from assistant_cli.errors import ProviderError, UsageError
from assistant_cli.providers.base import ChatRequest, TextDelta
from assistant_cli.providers.mtls import TlsFiles, validate_client_files
from assistant_cli.providers.openai import OpenAIProvider
from tests.clirun import cli
from tests.fakes.pki import Pki, make_pki
from tests.fakes.tls_server import MutualTlsOpenAI

REQUEST = ChatRequest((ChatTurn("user", "hello"),))


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def server(pki: Pki) -> Iterator[MutualTlsOpenAI]:
    with MutualTlsOpenAI(pki) as fake:
        yield fake


def files(pki: Pki, client: str = "client", key: str | None = None,
          ca: str = "root.pem") -> TlsFiles:
    return TlsFiles(pki.path(ca), pki.path(f"{client}.pem"), pki.path(key or f"{client}.key"))


def test_a_good_chain_validates_with_no_warnings(pki: Pki) -> None:
    report = validate_client_files(files(pki))
    assert report.subject == "CN=client" and report.days_left >= 88
    assert report.warnings == []


def test_a_certificate_expiring_within_30_days_is_accepted_with_a_warning(pki: Pki) -> None:
    report = validate_client_files(files(pki, "client-soon"))
    assert report.days_left < 30
    assert "expires in" in report.warnings[0] and "renew" in report.warnings[0]


@pytest.mark.parametrize(("tls", "said"), [
    (lambda p: files(p, "client-expired"), "expired on"),
    (lambda p: files(p, key="other.key"), "does not match the certificate CN=client"),
    (lambda p: TlsFiles(None, p.path("not-a-cert.pem"), p.path("client.key")),
     "holds no PEM certificate"),
    (lambda p: TlsFiles(None, p.path("client.pem"), p.path("missing.key")),
     "cannot read the private key"),
])
def test_bad_certificate_files_are_refused_naming_the_file(pki: Pki, tls: object,
                                                            said: str) -> None:
    with pytest.raises(UsageError, match=said) as info:
        validate_client_files(tls(pki))  # type: ignore[operator]
    assert info.value.hint


@pytest.mark.parametrize(("chain", "said"), [
    ("client-reversed.pem", "out of order: the key belongs to certificate 2 (CN=client)"),
    ("client-misordered.pem", "certificate 1 (CN=client) is not issued by certificate 2 "
                              "(CN=Test Root CA)"),
])
def test_a_chain_out_of_order_is_refused(pki: Pki, chain: str, said: str) -> None:
    with pytest.raises(UsageError) as info:
        validate_client_files(TlsFiles(None, pki.path(chain), pki.path("client.key")))
    assert said in info.value.message and "leaf first" in str(info.value.hint)


def provider(server: MutualTlsOpenAI, tls: TlsFiles) -> OpenAIProvider:
    cfg = ProviderConfig(base_url=server.base_url, model="fake-model", ca_file=tls.ca_file,
                         cert_file=tls.cert_file, key_file=tls.key_file, timeout=5)
    return OpenAIProvider("secure", cfg, lambda ref, key: "")


async def answer(p: OpenAIProvider) -> str:
    try:
        return "".join([e.text async for e in p.stream(REQUEST) if isinstance(e, TextDelta)])
    finally:
        await p.aclose()


async def test_rest_call_presents_the_client_certificate(pki: Pki,
                                                         server: MutualTlsOpenAI) -> None:
    p = provider(server, files(pki))
    assert p.auth.type == "mtls" and p.auth.tls.client_auth
    assert await answer(p) == "echo: hello"
    assert server.client_subjects == ["client"]


async def test_server_refuses_a_client_certificate_from_an_untrusted_ca(
    pki: Pki, server: MutualTlsOpenAI
) -> None:
    with pytest.raises(ProviderError) as info:
        await answer(provider(server, files(pki, "client-rogue")))
    assert info.value.kind in ("auth", "network")
    assert "refused the client certificate" in str(info.value) or "TLS" in info.value.message
    assert server.requests == []


async def test_client_refuses_a_server_its_ca_bundle_does_not_vouch_for(
    pki: Pki, server: MutualTlsOpenAI
) -> None:
    with pytest.raises(ProviderError) as info:
        await answer(provider(server, files(pki, ca="rogue-ca.pem")))
    assert info.value.kind == "auth" and not info.value.retryable
    assert "TLS handshake" in info.value.message and "certificate verify failed" in \
        info.value.message
    assert "ca_file" in str(info.value.hint)


def test_grpc_and_websocket_adapters_get_the_same_files(pki: Pki) -> None:
    cfg = ProviderConfig(base_url="grpcs://127.0.0.1:1", model="m", kind="grpc",
                         ca_file=pki.path("root.pem"), cert_file=pki.path("client.pem"),
                         key_file=pki.path("client.key"))
    from assistant_cli.providers.auth import ProviderAuth

    auth = ProviderAuth("g", cfg, lambda r, k: "")
    ca, key, chain = auth.tls.read_bytes()
    assert ca and b"BEGIN CERTIFICATE" in ca and key and b"PRIVATE KEY" in key
    assert chain is not None and chain.count(b"BEGIN CERTIFICATE") == 2
    assert auth.ssl_context() is not None


def add_args(server_url: str, pki: Pki, client: str = "client", key: str | None = None
             ) -> list[str]:
    return ["providers", "add", "secure", "--kind", "openai", "--base-url", server_url,
            "--model", "fake-model", "--cert", pki.path(f"{client}.pem"), "--key",
            pki.path(key or f"{client}.key"), "--ca", pki.path("root.pem")]


def test_providers_add_with_mtls_then_test_succeeds(
    pki: Pki, server: MutualTlsOpenAI, isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, *add_args(server.base_url, pki))
    assert code == 0, err
    assert "auth mtls" in out
    text = (isolated_home / "config.yaml").read_text()
    assert f"cert_file: {pki.path('client.pem')}" in text and "type: mtls" in text
    code, out, err = cli(capsys, "providers", "test", "secure")
    assert code == 0, out + err
    assert "completion ok" in out and "secure works" in out


@pytest.mark.parametrize(("client", "key", "said"), [
    ("client-expired", None, "client-expired.pem: certificate 1 (CN=client-expired) expired on"),
    ("client", "other.key", "the private key {dir}/other.key does not match the certificate "
                            "CN=client"),
    ("client-reversed", "client.key", "client-reversed.pem: the chain is out of order"),
    ("not-a-cert", "client.key", "{dir}/not-a-cert.pem holds no PEM certificate"),
])
def test_providers_add_refuses_bad_certificates_and_leaves_config_alone(
    pki: Pki, isolated_home: Path, capsys: pytest.CaptureFixture[str], client: str,
    key: str | None, said: str,
) -> None:
    config = isolated_home / "config.yaml"
    config.write_text("# mine\nassistant:\n  history_length: 3\n")
    before = config.read_bytes()
    code, _, err = cli(capsys, *add_args("https://127.0.0.1:1/v1", pki, client, key))
    assert code == 2 and said.format(dir=pki.dir) in err and "fix:" in err
    assert config.read_bytes() == before


def test_providers_add_refuses_an_unreadable_key_naming_flag_and_file(
    pki: Pki, isolated_home: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Permission bits do not stop root, so the refusal is what the OS would say to others.
    real_open = Path.open

    def guarded(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self.name == "client.key":
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", guarded)
    config = isolated_home / "config.yaml"
    config.write_text("# mine\n")
    code, _, err = cli(capsys, *add_args("https://127.0.0.1:1/v1", pki))
    assert code == 2
    assert f"--key: cannot read {pki.path('client.key')}: Permission denied" in err
    assert "chmod 600" in err
    assert config.read_bytes() == b"# mine\n"


def test_providers_add_checks_a_ca_bundle_given_without_a_client_certificate(
    pki: Pki, isolated_home: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    config = isolated_home / "config.yaml"
    config.write_text("# mine\n")
    args = ["providers", "add", "corp", "--kind", "openai", "--model", "m", "--base-url",
            "https://127.0.0.1:1/v1", "--auth", "none"]
    code, _, err = cli(capsys, *args, "--ca", pki.path("not-a-cert.pem"))
    assert code == 2 and "not-a-cert.pem holds no PEM certificate (expected the CA bundle)" \
        in err and "fix:" in err
    assert config.read_bytes() == b"# mine\n"
    code, _, err = cli(capsys, *args, "--ca", pki.path("root.pem"))
    assert code == 0, err
    assert f"ca_file: {pki.path('root.pem')}" in config.read_text()


def test_providers_add_warns_about_a_soon_expiring_certificate(
    pki: Pki, isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, *add_args("https://127.0.0.1:1/v1", pki, "client-soon"))
    assert code == 0, err
    assert "warning: the client certificate expires in" in err
