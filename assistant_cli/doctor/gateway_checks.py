"""Doctor checks of the gateway: its port free or our `serve` answering; its TLS files.

cryptography is imported inside functions: only a configured TLS certificate needs it.
"""

from __future__ import annotations

import asyncio
import errno
import json
import socket
import ssl
from pathlib import Path
from typing import Any

from assistant_cli.doctor.base import (
    DoctorContext,
    Result,
    fail,
    in_thread,
    ok,
    skipped,
    warn,
)
from assistant_cli.errors import UsageError
from assistant_cli.gateway.tls import pinned_client_context, startup_warnings
from assistant_cli.providers.mtls import TlsFiles, validate_client_files


def _connect_host(host: str) -> str:
    """Where to reach a server bound to `host`: wildcard addresses mean this machine."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


async def http_get(host: str, port: int, path: str, timeout: float,
                   context: ssl.SSLContext | None = None) -> tuple[int, bytes]:
    """A tiny HTTP/1.0 GET (no client library to import): (status, body)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(
        host, port, ssl=context, server_hostname=host if context else None), timeout)
    try:
        shown = f"[{host}]" if ":" in host else host
        writer.write(f"GET {path} HTTP/1.0\r\nHost: {shown}:{port}\r\n"
                     "Connection: close\r\n\r\n".encode())
        await writer.drain()
        data = b""
        # HTTP/1.0: the server closes the connection after the answer.
        while len(data) < 1 << 20:
            more = await asyncio.wait_for(reader.read(1 << 16), timeout)
            if not more:
                break
            data += more
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    if len(status_line) < 2 or not status_line[0].startswith(b"HTTP/"):
        raise ValueError("not an HTTP answer")
    return int(status_line[1]), body


def _bind_problem(host: str, port: int) -> OSError | None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # As aiohttp does, so a port in TIME_WAIT counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        return exc
    finally:
        sock.close()
    return None


def _json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


async def check_port(ctx: DoctorContext) -> Result:
    cfg = ctx.config().gateway
    if not cfg.enabled:
        return skipped("gateway.enabled is false")
    running = _running_address(ctx)
    if running is None and cfg.port == 0:
        return ok("gateway.port is 0: serve picks a free port when it starts")
    # A running serve may listen elsewhere than the config says (`serve --port N`): ask it
    # where, as the dashboard does, instead of probing the configured port.
    host, port = running or (_connect_host(cfg.host), cfg.port)
    where = f"{host if running else cfg.host}:{port}"
    budget = max(0.5, ctx.timeout / 3)
    context = None
    if cfg.tls_cert and cfg.tls_key:
        context = pinned_client_context(cfg.tls_cert)  # ConfigError: see gateway.tls
    try:
        status, body = await http_get(host, port, "/healthz", budget, context)
    except ConnectionRefusedError:
        return await _free_port(cfg.host, port)
    except (asyncio.TimeoutError, TimeoutError):
        return fail(f"something accepts connections on {where} but /healthz did not answer "
                    f"within {budget:g} s",
                    "if that is serve, it is stuck: `assistant-cli logs --level warning` shows "
                    f"why, then restart it; otherwise find the program with `ss -ltnp "
                    f"'sport = :{port}'` and stop it or change gateway.port")
    except (OSError, ValueError) as exc:
        return fail(f"cannot talk HTTP to {where}: {exc}",
                    f"another program holds the port (`ss -ltnp 'sport = :{port}'` shows it): "
                    "stop it, or choose another gateway.port")
    if status != 200 or _json(body).get("status") != "ok":
        return fail(f"another program answers on {where} (GET /healthz gave HTTP {status})",
                    f"stop it (`ss -ltnp 'sport = :{port}'` shows which) or choose another "
                    "gateway.port")
    try:
        status, body = await http_get(host, port, "/readyz", budget, context)
    except (OSError, ValueError, asyncio.TimeoutError) as exc:
        return warn(f"serve answers /healthz on {where} but /readyz failed: {exc}",
                    "`assistant-cli logs --level warning` shows what it is waiting for")
    report = _json(body)
    channels = report.get("channels") or {}
    if status == 200:
        return ok(f"serve is running on {where}: /healthz ok, /readyz ready (channels: "
                  f"{', '.join(channels) or 'none'}; queue {report.get('queue_depth', '?')})",
                  readyz=report)
    waiting = [name for name, ready in channels.items() if not ready]
    return warn(f"serve answers on {where} but is not ready (HTTP {status}); waiting for: "
                f"{', '.join(waiting) or 'intake to open'}",
                "`assistant-cli logs --level warning` shows what the channels are waiting for",
                readyz=report)


def _running_address(ctx: DoctorContext) -> tuple[str, int] | None:
    from urllib.parse import urlsplit

    from assistant_cli.gateway.local import running_url

    url = running_url(ctx.paths)
    if url is None:
        return None
    parts = urlsplit(url)
    return (parts.hostname, parts.port) if parts.hostname and parts.port else None


async def _free_port(host: str, port: int) -> Result:
    problem = await in_thread(_bind_problem, host, port)
    where = f"{host}:{port}"
    if problem is None:
        return ok(f"port {where} is free; serve is not running")
    if problem.errno == errno.EACCES:
        return fail(f"no permission to listen on {where}",
                    "ports below 1024 need privileges: use a port above 1024 and put nginx in "
                    "front")
    if problem.errno == errno.EADDRNOTAVAIL:
        return fail(f"gateway.host {host} is not an address of this machine",
                    "use 127.0.0.1 (or 0.0.0.0 behind a firewall)")
    if problem.errno == errno.EADDRINUSE:
        return fail(f"port {where} is taken but refuses connections",
                    f"find the holder with `ss -ltnp 'sport = :{port}'`, or choose another "
                    "gateway.port")
    return fail(f"cannot listen on {where}: {problem.strerror}",
                "check gateway.host and gateway.port")


async def check_tls(ctx: DoctorContext) -> Result:
    cfg = ctx.config().gateway
    if not cfg.enabled:
        return skipped("gateway.enabled is false")
    risks = startup_warnings(cfg)
    if bool(cfg.tls_cert) != bool(cfg.tls_key):
        missing = "tls_key" if cfg.tls_cert else "tls_cert"
        return fail(f"gateway.{missing} is not set: TLS needs a certificate and its key",
                    "set both gateway.tls_cert and gateway.tls_key, or neither")
    if not cfg.tls_cert or not cfg.tls_key:
        if risks:
            return warn("; ".join(risks), "see above: keep gateway.host on 127.0.0.1 behind "
                        "nginx with TLS, or set gateway.tls_cert and tls_key")
        return ok(f"plain HTTP on loopback ({cfg.host}); put nginx with TLS in front for "
                  "remote access")
    result = await in_thread(inspect_tls_files, cfg.tls_cert, cfg.tls_key, "gateway.tls_cert")
    if risks and result.status == "ok":
        return warn(f"{result.found}; " + "; ".join(risks), "list the origins you use in "
                    "gateway.allowed_origins")
    return result


def inspect_tls_files(cert: str, key: str, owner: str, ca: str | None = None) -> Result:
    """Parse a certificate chain and key: key matches, chain order, expiry (warn < 30 days)."""
    try:
        report = validate_client_files(TlsFiles(ca, cert, key))
    except UsageError as exc:
        position = _key_position(cert, key)
        if position:
            return fail(f"{owner}: chain out of order: the certificate for {key} is number "
                        f"{position} in {cert}", "put the certificate first, then each issuer "
                        "after the certificate it signed")
        return fail(f"{owner}: {exc.message}", exc.hint or "replace the file")
    found = (f"{owner}: {report.subject}, key matches, chain in order, valid until "
             f"{report.not_after:%Y-%m-%d} ({report.days_left} d)")
    if report.warnings:
        return warn(f"{found}; " + "; ".join(report.warnings),
                    "renew the certificate before it expires and replace the files")
    return ok(found)


def _key_position(cert: str, key: str) -> int:
    """1-based position of the certificate matching `key` when it is not the first (else 0)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    def spki(public: Any) -> bytes:
        return bytes(public.public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo))

    try:
        chain = x509.load_pem_x509_certificates(Path(cert).expanduser().read_bytes())
        private = serialization.load_pem_private_key(Path(key).expanduser().read_bytes(), None)
    except (OSError, ValueError, TypeError):
        return 0
    mine = spki(private.public_key())
    return next((i for i, c in enumerate(chain, 1) if i > 1 and spki(c.public_key()) == mine),
                0)
