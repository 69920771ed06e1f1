"""The gateway over TLS with a certificate the suite makes; clear errors for bad TLS files,
a port in use, and the start-up warnings."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from assistant_cli.config.models import GatewayConfig
from assistant_cli.errors import ConfigError, StateError
from assistant_cli.gateway.server import Gateway
from assistant_cli.gateway.tls import pinned_client_context, server_context, startup_warnings
from tests.fakes.openai_server import FakeOpenAI
from tests.gateway_harness import connected, live_gateway


def make_cert(directory: Path, name: str = "gw") -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key (PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "assistant-cli test")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


async def test_gateway_serves_https_and_wss_with_the_configured_certificate(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    cert, key = make_cert(tmp_path)
    async with live_gateway(tmp_path, fake, tls_cert=str(cert), tls_key=str(key)) as h:
        assert h.base_url.startswith("https://127.0.0.1:")
        trusting = ssl.create_default_context(cafile=str(cert))
        async with aiohttp.ClientSession() as session:
            async with session.get(h.base_url + "/healthz", ssl=trusting) as resp:
                assert resp.status == 200
            ws = await session.ws_connect(h.base_url.replace("https", "wss") + "/ws", ssl=trusting,
                                          headers={"Authorization": f"Bearer {h.token()}"})
            assert (await ws.receive_json(timeout=5))["event"] == "hello"
            await ws.close()
            # A client that does not trust the certificate is refused by TLS itself.
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await session.get(h.base_url + "/healthz")
        # The local dashboard pins exactly this certificate.
        pinned = pinned_client_context(str(cert))
        async with aiohttp.ClientSession() as session, \
                session.get(h.base_url + "/readyz", ssl=pinned) as resp:
            assert resp.status == 200


def test_unreadable_or_mismatched_tls_files_are_clear_config_errors(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path)
    _, other_key = make_cert(tmp_path, "other")
    cases = [
        (GatewayConfig(tls_cert=str(tmp_path / "nope.crt"), tls_key=str(key)),
         "gateway.tls_cert", "does not exist"),
        (GatewayConfig(tls_cert=str(cert)), "gateway.tls_key", "needs both"),
        (GatewayConfig(tls_cert=str(cert), tls_key=str(other_key)), "tls_key", "cannot load"),
        (GatewayConfig(tls_cert=str(tmp_path), tls_key=str(key)), "gateway.tls_cert",
         "directory"),
    ]
    locked = tmp_path / "locked.key"
    locked.write_bytes(key.read_bytes())
    locked.chmod(0o000)
    try:
        with locked.open("rb"):
            pass  # running as root: permissions are not enforced
    except PermissionError:
        cases.append((GatewayConfig(tls_cert=str(cert), tls_key=str(locked)), "gateway.tls_key",
                      "permission denied"))
    for config, key_name, words in cases:
        with pytest.raises(ConfigError) as info:
            server_context(config)
        assert key_name in info.value.message and words in info.value.message, info.value
        assert info.value.hint


async def test_port_in_use_names_the_port_and_what_holds_it() -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        gateway = Gateway(GatewayConfig(port=port), lambda: {"ready": True})
        with pytest.raises(StateError) as info:
            await gateway.start()
    finally:
        holder.close()
    assert f"port {port}" in info.value.message and "already in use" in info.value.message
    assert f"pid {__import__('os').getpid()}" in info.value.message  # this test process
    assert "--port" in (info.value.hint or "")


def test_startup_warnings_for_exposed_plain_http_and_any_origin(tmp_path: Path) -> None:
    assert startup_warnings(GatewayConfig()) == []
    exposed = startup_warnings(GatewayConfig(host="0.0.0.0"))
    assert len(exposed) == 1 and "without TLS" in exposed[0]
    cert, key = make_cert(tmp_path)
    assert startup_warnings(GatewayConfig(host="0.0.0.0", tls_cert=str(cert),
                                          tls_key=str(key))) == []
    anyone = startup_warnings(GatewayConfig(allowed_origins=["*"]))
    assert len(anyone) == 1 and "'*'" in anyone[0]


@pytest.mark.usefixtures("isolated_home")
def test_serve_refuses_plain_http_beyond_loopback_unless_insecure_http(
        capsys: pytest.CaptureFixture[str]) -> None:
    from assistant_cli.paths import resolve
    from tests.clirun import cli

    paths = resolve()
    paths.config_file.parent.mkdir(parents=True, exist_ok=True)
    paths.config_file.write_text("version: 1\nplatforms: {console: {enabled: false}}\n"
                                 "gateway: {host: 0.0.0.0, port: 0}\n")
    code, _, err = cli(capsys, "serve")
    assert code != 0 and "0.0.0.0 without TLS" in err and "--insecure-http" in err
    assert "Traceback" not in err
    assert not paths.database.exists()  # refused before anything was opened
    from assistant_cli.gateway.tls import refuse_plain_http

    refuse_plain_http(GatewayConfig(host="0.0.0.0"), insecure_http=True)  # explicit opt-in
    refuse_plain_http(GatewayConfig(host="127.0.0.1"), insecure_http=False)
    refuse_plain_http(GatewayConfig(host="0.0.0.0", enabled=False), insecure_http=False)


async def test_tls_gateway_still_speaks_the_protocol(tmp_path: Path, fake: FakeOpenAI) -> None:
    cert, key = make_cert(tmp_path)
    async with live_gateway(tmp_path, fake, tls_cert=str(cert), tls_key=str(key)) as h:
        assert h.control.dashboard_url().startswith(h.base_url + "/?token=eyJ")
    # Plain-HTTP harness for contrast: the same helper connects without TLS.
    async with live_gateway(tmp_path / "plain", fake) as h, connected(h) as client:
        assert (await client.call("ping"))["ok"]


def test_a_file_that_is_not_pem_is_named_instead_of_openssls_pem_lib(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path)
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    for config, key_name, what in (
        (GatewayConfig(tls_cert=str(junk), tls_key=str(key)), "gateway.tls_cert", "certificate"),
        (GatewayConfig(tls_cert=str(cert), tls_key=str(junk)), "gateway.tls_key", "private key"),
        (GatewayConfig(tls_cert=str(key), tls_key=str(cert)), "gateway.tls_cert", "certificate"),
    ):
        with pytest.raises(ConfigError) as info:
            server_context(config)
        assert info.value.message.startswith(f"{key_name}: ")
        assert f"is not a PEM {what}" in info.value.message and "PEM lib" not in str(info.value)


def test_dashboard_ca_file_errors_name_the_option_and_its_fix(tmp_path: Path) -> None:
    from assistant_cli.gateway.tls import client_context

    with pytest.raises(ConfigError) as info:
        client_context(str(tmp_path / "nope.pem"))
    assert info.value.message.startswith("--ca-file: ")
    hint = info.value.hint or ""
    assert "----" not in hint and "serve plain HTTP" not in hint and "certificate" in hint
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(ConfigError) as info:
        client_context(str(junk))
    assert "--ca-file" in info.value.message and "no PEM certificate" in info.value.message
    cert, _ = make_cert(tmp_path)
    assert client_context(str(cert)).verify_mode == ssl.CERT_REQUIRED
