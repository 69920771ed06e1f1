"""The KServe v2 gRPC adapter against a grpc.aio server built from our generated stubs."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from assistant_cli.config.models import Config, ProviderConfig
from assistant_cli.domain.messages import ChatTurn
from assistant_cli.errors import ProviderError
from assistant_cli.providers.base import ChatRequest, Finished, StreamEvent, TextDelta
from assistant_cli.providers.grpc_kserve import (
    KServeGrpcProvider,
    parse_target,
    split_bytes_tensor,
    transcript,
)
from assistant_cli.providers.router import ProviderRouter
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.kserve_grpc_server import (
    Abort,
    FakeKServe,
    Hang,
    HangAfter,
    Reply,
    StreamError,
)

REQUEST = ChatRequest((ChatTurn("system", "be brief"), ChatTurn("user", "hello")))
TOKEN = "grpc-test-token"


@pytest.fixture
def fake() -> Iterator[FakeKServe]:
    with FakeKServe() as server:
        yield server


@pytest.fixture
async def triton(fake: FakeKServe) -> AsyncIterator[KServeGrpcProvider]:
    provider = make(fake)
    yield provider
    await provider.aclose()


def make(fake: FakeKServe, key: str = TOKEN, **kw: Any) -> KServeGrpcProvider:
    cfg = ProviderConfig(kind="grpc", base_url=kw.pop("base_url", fake.base_url),
                         model=kw.pop("model", "ensemble"), api_key="env:K", **kw)
    return KServeGrpcProvider("triton", cfg, lambda ref, where: key)


async def collect(p: KServeGrpcProvider, request: ChatRequest = REQUEST) -> list[StreamEvent]:
    try:
        return [e async for e in p.stream(request)]
    finally:
        await p.aclose()


def text_of(events: list[StreamEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


async def test_streams_pieces_in_order_through_model_stream_infer(
    fake: FakeKServe, triton: KServeGrpcProvider
) -> None:
    fake.enqueue(Reply("one two three"))
    events = await collect(triton)
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["one ", "two ", "three"]
    final = events[-1]
    assert isinstance(final, Finished) and final.finish_reason == "stop"
    assert final.model == "ensemble"
    # The protocol carries no token counts, so usage is an estimate.
    assert final.usage is not None and final.usage.estimated
    assert fake.requests[0].rpc == "ModelStreamInfer"


async def test_request_carries_transcript_tensors_and_bearer_metadata(fake: FakeKServe) -> None:
    provider = make(fake, max_tokens=64, temperature=0.5, headers={"X-Tenant": "t1"})
    await collect(provider)
    sent = fake.requests[0]
    assert sent.metadata["authorization"] == f"Bearer {TOKEN}"
    assert sent.metadata["x-tenant"] == "t1"
    text = sent.input("text_input")
    assert (text.datatype, list(text.shape)) == ("BYTES", [1, 1])
    assert sent.prompt == "System: be brief\nUser: hello\nAssistant:"
    assert list(sent.input("stream").contents.bool_contents) == [True]
    assert list(sent.input("max_tokens").contents.int_contents) == [64]
    assert sent.input("max_tokens").datatype == "INT32"
    assert list(sent.input("temperature").contents.fp32_contents) == [0.5]
    assert [o.name for o in sent.request.outputs] == ["text_output"]


async def test_stream_false_uses_one_model_infer_call(fake: FakeKServe) -> None:
    events = await collect(make(fake, stream=False))
    assert text_of(events) == "echo: hello"
    assert sum(isinstance(e, TextDelta) for e in events) == 1
    assert fake.requests[0].rpc == "ModelInfer"
    assert {t.name for t in fake.requests[0].request.inputs} == {"text_input"}


async def test_cumulative_pieces_are_turned_into_deltas() -> None:
    with FakeKServe(cumulative=True) as fake:
        fake.enqueue(Reply("one two three"))
        events = await collect(make(fake, cumulative=True))
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["one ", "two ", "three"]


async def test_raw_output_contents_and_final_marker_are_understood() -> None:
    with FakeKServe(raw_output=True, final_marker=True) as fake:
        fake.enqueue(Reply("raw bytes here"))
        assert text_of(await collect(make(fake))) == "raw bytes here"


async def test_tensor_names_are_configurable() -> None:
    with FakeKServe(input_tensor="prompt", output_tensor="answer") as fake:
        events = await collect(make(fake, input_tensor="prompt", output_tensor="answer"))
        assert text_of(events) == "echo: hello"
        with pytest.raises(ProviderError) as info:
            await collect(make(fake, input_tensor="prompt"))
    assert info.value.kind == "bad_request"
    assert "'text_output'" in info.value.message and "answer" in str(info.value.hint)


@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (grpc.StatusCode.UNAUTHENTICATED, "auth"),
        (grpc.StatusCode.PERMISSION_DENIED, "auth"),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, "rate_limit"),
        (grpc.StatusCode.UNAVAILABLE, "network"),
        (grpc.StatusCode.NOT_FOUND, "not_found"),
        (grpc.StatusCode.INVALID_ARGUMENT, "bad_request"),
        (grpc.StatusCode.INTERNAL, "overload"),
    ],
)
async def test_grpc_status_codes_are_classified(
    fake: FakeKServe, code: grpc.StatusCode, kind: str, stream: bool
) -> None:
    fake.enqueue(Abort(code, "scripted"))
    with pytest.raises(ProviderError) as info:
        await collect(make(fake, stream=stream))
    assert info.value.kind == kind
    assert code.name in info.value.message and info.value.hint


async def test_wrong_token_is_an_auth_error(fake: FakeKServe) -> None:
    with pytest.raises(ProviderError) as info:
        await collect(make(fake, key="wrong"))
    assert info.value.kind == "auth" and "api_key" in str(info.value.hint)


async def test_unknown_model_is_not_found(fake: FakeKServe) -> None:
    with pytest.raises(ProviderError) as info:
        await collect(make(fake, model="nope"))
    assert info.value.kind == "not_found" and "'nope'" in info.value.message


async def test_error_message_mid_stream_comes_after_the_text_so_far(fake: FakeKServe) -> None:
    fake.enqueue(StreamError("in ensemble 'ensemble', executor failed", after=2))
    seen: list[str] = []
    provider = make(fake)
    with pytest.raises(ProviderError) as info:
        async for event in provider.stream(REQUEST):
            if isinstance(event, TextDelta):
                seen.append(event.text)
    await provider.aclose()
    assert seen == ["partial ", "answer "]
    assert info.value.kind == "overload" and "mid-answer" in info.value.message


@pytest.mark.parametrize("behaviour", [Hang(), HangAfter(1)])
async def test_stalled_stream_times_out_as_a_network_error(
    fake: FakeKServe, behaviour: Hang | HangAfter
) -> None:
    fake.enqueue(behaviour)
    with pytest.raises(ProviderError) as info:
        await collect(make(fake, timeout=0.3))
    assert info.value.kind == "network" and "timed out" in info.value.message


async def test_unary_call_past_its_deadline_is_a_network_error(fake: FakeKServe) -> None:
    fake.enqueue(Hang())
    with pytest.raises(ProviderError) as info:
        await collect(make(fake, timeout=0.3, stream=False))
    assert info.value.kind == "network" and "timed out" in info.value.message


async def test_unreachable_server_is_a_network_error_naming_the_target() -> None:
    cfg = ProviderConfig(kind="grpc", base_url="grpc://127.0.0.1:9", model="m", timeout=2)
    with pytest.raises(ProviderError) as info:
        await collect(KServeGrpcProvider("down", cfg, lambda r, w: ""))
    assert info.value.kind == "network" and "127.0.0.1:9" in info.value.message


async def test_readiness_checks_server_then_model(fake: FakeKServe) -> None:
    await make(fake).check_ready()
    fake.model_ready = False
    with pytest.raises(ProviderError) as info:
        await make(fake).check_ready()
    assert info.value.kind == "not_found" and "'ensemble'" in info.value.message
    fake.server_ready = False
    with pytest.raises(ProviderError) as info:
        await make(fake).check_ready()
    assert info.value.kind == "overload"


def test_without_grpcio_a_grpc_provider_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "grpc", None)  # import grpc now raises ImportError
    cfg = ProviderConfig(kind="grpc", base_url="grpc://127.0.0.1:8001", model="m")
    with pytest.raises(ProviderError) as info:
        KServeGrpcProvider("triton", cfg, lambda r, w: "")
    assert "pip install 'assistant-cli[grpc]'" in str(info.value)


async def test_without_grpcio_the_router_fails_over_and_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "grpc", None)
    with FakeAnthropic() as claude:
        router = ProviderRouter(two_kinds("grpc://127.0.0.1:9", claude.base_url),
                                lambda r, where: "sk-ant-test", base_delay=0.01)
        events = [e async for e in router.stream(REQUEST)]
        await router.aclose()
    assert text_of(events) == "echo: hello"
    assert "assistant-cli[grpc]" in str(router.state["triton"].last_error)


@pytest.mark.parametrize("url", ["http://", "ftp://host:1", "grpc://host:port", "host:1/path"])
def test_malformed_base_url_names_the_key_and_the_form(url: str) -> None:
    with pytest.raises(ProviderError) as info:
        parse_target("triton", url)
    assert "providers.triton.base_url" in info.value.message
    assert "grpc://HOST:PORT" in str(info.value.hint)


def test_targets_and_tls_follow_the_scheme() -> None:
    assert parse_target("t", "grpc://10.0.0.5:8001") == ("10.0.0.5:8001", False)
    assert parse_target("t", "grpcs://triton.internal") == ("triton.internal:443", True)
    assert parse_target("t", "127.0.0.1:9000") == ("127.0.0.1:9000", False)
    assert parse_target("t", "https://[::1]:8443") == ("[::1]:8443", True)


def test_raw_bytes_tensors_split_on_length_prefixes() -> None:
    raw = b"".join(len(p).to_bytes(4, "little") + p for p in (b"ab", b"", "é".encode()))
    assert split_bytes_tensor(raw) == [b"ab", b"", "é".encode()]


def test_transcript_labels_roles_and_leaves_room_for_the_answer() -> None:
    request = ChatRequest((ChatTurn("user", "hi"), ChatTurn("assistant", "yo"),
                           ChatTurn("user", "and?")))
    assert transcript(request) == "User: hi\nAssistant: yo\nUser: and?\nAssistant:"


def two_kinds(grpc_url: str, anthropic_url: str) -> Config:
    return Config.model_validate({
        "providers": {
            "triton": {"kind": "grpc", "base_url": grpc_url, "model": "ensemble",
                       "timeout": 2},
            "claude": {"kind": "anthropic", "base_url": anthropic_url, "model": "fake-claude",
                       "api_key": "env:A"},
        },
        "assistant": {"provider": "triton", "fallbacks": ["claude"]},
    })


async def test_router_fails_over_from_unavailable_grpc_to_anthropic() -> None:
    with FakeAnthropic() as claude:
        router = ProviderRouter(two_kinds("grpc://127.0.0.1:9", claude.base_url),
                                lambda r, where: "sk-ant-test", base_delay=0.01)
        events = [e async for e in router.stream(REQUEST)]
        await router.aclose()
    final = events[-1]
    assert isinstance(final, Finished) and final.provider == "claude"
    assert router.state["triton"].last_error_kind == "network"


# ---------------------------------------------------------------------------- TLS


def _certs(tmp: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.timezone.utc)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def cert(cn: str, key: Any, issuer: x509.Name, signer: Any, ca: bool,
             san: x509.GeneralName | None = None) -> x509.Certificate:
        builder = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(issuer)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(minutes=5))
                   .not_valid_after(now + dt.timedelta(days=2))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if san is not None:
            builder = builder.add_extension(x509.SubjectAlternativeName([san]), critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = cert("test CA", ca_key, name("test CA"), ca_key, True)
    files: dict[str, Path] = {}

    def write(label: str, data: bytes) -> None:
        files[label] = tmp / f"{label}.pem"
        files[label].write_bytes(data)

    write("ca", ca.public_bytes(serialization.Encoding.PEM))
    for who, san in (("server", x509.IPAddress(ipaddress.ip_address("127.0.0.1"))),
                     ("client", None)):
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = cert(who, key, ca.subject, ca_key, False, san)
        write(f"{who}_cert", leaf.public_bytes(serialization.Encoding.PEM))
        write(f"{who}_key", key.private_bytes(serialization.Encoding.PEM,
                                              serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()))
    return files


@pytest.fixture
def certs(tmp_path: Path) -> dict[str, Path]:
    return _certs(tmp_path)


def _server_credentials(certs: dict[str, Path], require_client: bool) -> Any:
    return grpc.ssl_server_credentials(
        [(certs["server_key"].read_bytes(), certs["server_cert"].read_bytes())],
        root_certificates=certs["ca"].read_bytes() if require_client else None,
        require_client_auth=require_client,
    )


async def test_grpcs_verifies_the_server_against_ca_file(certs: dict[str, Path]) -> None:
    with FakeKServe(credentials=_server_credentials(certs, False)) as fake:
        events = await collect(make(fake, ca_file=str(certs["ca"])))
    assert text_of(events) == "echo: hello"


async def test_mutual_tls_presents_the_client_certificate(certs: dict[str, Path]) -> None:
    with FakeKServe(credentials=_server_credentials(certs, True)) as fake:
        events = await collect(make(fake, ca_file=str(certs["ca"]),
                                    cert_file=str(certs["client_cert"]),
                                    key_file=str(certs["client_key"])))
        assert text_of(events) == "echo: hello"
        with pytest.raises(ProviderError) as info:
            await collect(make(fake, ca_file=str(certs["ca"]), timeout=2))
    # TLS 1.3 servers refuse a missing client certificate after the handshake: a closed socket.
    assert info.value.kind == "network" and "cert_file" in str(info.value.hint)


async def test_server_certificate_from_an_unknown_ca_is_refused_as_auth(
    certs: dict[str, Path],
) -> None:
    # The client certificate is no CA: the server's certificate cannot be verified.
    with FakeKServe(credentials=_server_credentials(certs, False)) as fake, \
            pytest.raises(ProviderError) as info:
        await collect(make(fake, ca_file=str(certs["client_cert"]), timeout=2))
    assert info.value.kind == "auth" and "ca_file" in str(info.value.hint)


async def test_unreadable_tls_file_is_a_clear_error(fake: FakeKServe, tmp_path: Path) -> None:
    with pytest.raises(ProviderError) as info:
        await collect(make(fake, ca_file=str(tmp_path / "missing.pem")))
    # Like the REST adapters (through Provider.auth): a credential problem, not retried.
    assert "missing.pem" in info.value.message and info.value.kind == "auth"
    assert info.value.message.startswith("triton: ") and not info.value.retryable
