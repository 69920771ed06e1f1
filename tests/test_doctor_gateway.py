"""`doctor`'s gateway and TLS checks: the port, a running gateway, certificate files."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from assistant_cli.config.models import GatewayConfig
from assistant_cli.gateway.server import Gateway
from tests.doctor_support import free_port, result, write_config
from tests.fakes.pki import Pki, make_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def gateway_config(port: int, extra: str = "") -> None:
    write_config(f"version: 1\ngateway:\n  port: {port}\n{extra}")


class Background:
    """An event loop in a thread, to run servers while doctor runs in the test thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def background() -> Iterator[Background]:
    bg = Background()
    yield bg
    bg.close()


def start_gateway(bg: Background, port: int, ready: bool) -> Gateway:
    report = {"ready": ready, "channels": {"telegram": ready}, "queue_depth": 0}
    gateway = Gateway(GatewayConfig(port=port), lambda: report)
    bg.run(gateway.start())
    return gateway


def test_free_port_is_ok() -> None:
    gateway_config(free_port())
    r = result("gateway.port")
    assert r.status == "ok" and "free" in r.found


def test_running_and_ready_gateway_is_ok(background: Background) -> None:
    port = free_port()
    gateway = start_gateway(background, port, ready=True)
    try:
        gateway_config(port)
        r = result("gateway.port")
    finally:
        background.run(gateway.stop())
    assert r.status == "ok" and "/readyz ready" in r.found and "telegram" in r.found


def test_running_but_not_ready_gateway_warns_naming_what_it_waits_for(
        background: Background) -> None:
    port = free_port()
    gateway = start_gateway(background, port, ready=False)
    try:
        gateway_config(port)
        r = result("gateway.port")
    finally:
        background.run(gateway.stop())
    assert r.status == "warn" and "waiting for: telegram" in r.found


def test_port_held_by_another_http_server_fails(background: Background) -> None:
    from aiohttp import web

    port = free_port()
    runner = web.AppRunner(web.Application())
    background.run(runner.setup())
    background.run(web.TCPSite(runner, "127.0.0.1", port).start())
    try:
        gateway_config(port)
        r = result("gateway.port")
    finally:
        background.run(runner.cleanup())
    assert r.status == "fail" and "another program" in r.found and f":{port}" in r.fix


def test_port_held_by_something_that_is_not_http_fails() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]

    def serve() -> None:
        conn, _ = server.accept()
        conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")
        conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        gateway_config(port)
        r = result("gateway.port")
    finally:
        server.close()
    assert r.status == "fail" and "ss -ltnp" in r.fix


def test_disabled_gateway_is_skipped() -> None:
    write_config("version: 1\ngateway:\n  enabled: false\n")
    assert result("gateway.port").status == "skipped"


def tls(pki: Pki, cert: str, key: str) -> str:
    return f"  tls_cert: {pki.path(cert)}\n  tls_key: {pki.path(key)}\n"


@pytest.mark.parametrize(("cert", "key", "status", "words"), [
    ("client.pem", "client.key", "ok", "key matches, chain in order"),
    ("client-soon.pem", "client-soon.key", "warn", "expires in"),
    ("client-expired.pem", "client-expired.key", "fail", "expired"),
    ("client.pem", "other.key", "fail", "does not match"),
    ("client-reversed.pem", "client.key", "fail", "chain out of order"),
    ("not-a-cert.pem", "client.key", "fail", "no PEM certificate"),
    ("missing.pem", "client.key", "fail", "cannot read"),
])
def test_gateway_tls_files(pki: Pki, cert: str, key: str, status: str, words: str) -> None:
    gateway_config(8080, tls(pki, cert, key))
    r = result("gateway.tls")
    assert (r.status, words in r.found) == (status, True), r


def test_tls_certificate_without_key_fails() -> None:
    gateway_config(8080, "  tls_cert: /x/cert.pem\n")
    r = result("gateway.tls")
    assert r.status == "fail" and "tls_key" in r.found


def test_plain_http_on_a_public_address_warns() -> None:
    write_config("version: 1\ngateway:\n  host: 0.0.0.0\n")
    r = result("gateway.tls")
    assert r.status == "warn" and "without TLS" in r.found


def test_running_gateway_with_tls_answers_over_https(background: Background, pki: Pki) -> None:
    port = free_port()
    cfg = GatewayConfig(port=port, tls_cert=pki.path("server.pem"),
                        tls_key=pki.path("server.key"))
    gateway = Gateway(cfg, lambda: {"ready": True, "channels": {}})
    background.run(gateway.start())
    try:
        gateway_config(port, tls(pki, "server.pem", "server.key"))
        r = result("gateway.port")
    finally:
        background.run(gateway.stop())
    assert r.status == "ok", r


# --- providers' own TLS files and handshake --------------------------------------------

def provider_with_tls(base_url: str, extra: str) -> None:
    write_config(f"""
        version: 1
        providers:
          main:
            base_url: {base_url}
            model: m
        {extra}
        """)


def test_provider_client_certificate_files_are_checked(pki: Pki) -> None:
    provider_with_tls("https://127.0.0.1:1/v1",
                      f"    cert_file: {pki.path('client-expired.pem')}\n"
                      f"            key_file: {pki.path('client-expired.key')}")
    r = result("providers.tls")
    assert r.status == "fail" and "providers.main" in r.found and "expired" in r.found


class TlsServer:
    """Completes TLS handshakes with the test PKI's 127.0.0.1 certificate, then hangs up."""

    def __init__(self, pki: Pki) -> None:
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(pki.path("server.pem"), pki.path("server.key"))
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            try:
                with self.context.wrap_socket(conn, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                conn.close()


def test_untrusted_server_certificate_fails_at_the_tls_stage(pki: Pki) -> None:
    server = TlsServer(pki)
    try:
        provider_with_tls(f"https://127.0.0.1:{server.port}/v1", "")
        r = result("providers.main")
    finally:
        server.sock.close()
    assert r.status == "fail" and "not trusted" in r.found and "ca_file" in r.fix


def test_server_certificate_trusted_through_ca_file_passes_the_tls_stage(pki: Pki) -> None:
    server = TlsServer(pki)
    try:
        provider_with_tls(f"https://127.0.0.1:{server.port}/v1",
                          f"    ca_file: {pki.path('root.pem')}")
        r = result("providers.main")
    finally:
        server.sock.close()
    assert "TLSv1.3" in r.found or "TLSv1.2" in r.found, r
    assert "TLS: " not in r.found  # the handshake itself succeeded


def test_port_check_finds_the_running_serve_on_another_port_than_the_config(
        background: Background) -> None:
    """`serve --port N` runs elsewhere than gateway.port: doctor asks the state file, as the
    dashboard does, instead of reporting the configured port as free."""
    import json
    import os

    from assistant_cli.gateway.local import state_file
    from assistant_cli.paths import resolve

    port, configured = free_port(), free_port()
    gateway = start_gateway(background, port, ready=True)
    try:
        gateway_config(configured)
        paths = resolve()
        state_file(paths).parent.mkdir(parents=True, exist_ok=True)
        state_file(paths).write_text(json.dumps(
            {"url": f"http://127.0.0.1:{port}", "pid": os.getpid()}))
        r = result("gateway.port")
    finally:
        background.run(gateway.stop())
    assert r.status == "ok" and f"running on 127.0.0.1:{port}" in r.found
