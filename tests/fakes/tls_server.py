"""The fake OpenAI server behind HTTPS that requires a client certificate (mutual TLS)."""

from __future__ import annotations

import ssl
from typing import Any

from aiohttp import web

from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.pki import Pki


def server_context(pki: Pki, client_ca: str = "root.pem") -> ssl.SSLContext:
    """Serve as 127.0.0.1 and accept only clients whose chain leads to `client_ca`."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(pki.path("server.pem"), pki.path("server.key"))
    ctx.load_verify_locations(pki.path(client_ca))
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


class MutualTlsOpenAI(FakeOpenAI):
    """FakeOpenAI on https://127.0.0.1:PORT, refusing handshakes without a trusted client
    certificate. Records the client certificate's subject of every chat request."""

    def __init__(self, pki: Pki, **kwargs: Any) -> None:
        kwargs.setdefault("api_key", None)  # the certificate is the credential
        super().__init__(**kwargs)
        self.ssl_context = server_context(pki)
        self.client_subjects: list[str] = []

    def _auth_error(self, request: web.Request) -> web.Response | None:
        transport = request.transport
        peer = transport.get_extra_info("peercert") if transport is not None else None
        subject = dict(x[0] for x in (peer or {}).get("subject", ()))
        self.client_subjects.append(str(subject.get("commonName", "")))
        return super()._auth_error(request)
