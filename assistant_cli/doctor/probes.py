"""Live probes of a model service, in the specification's troubleshooting order.

DNS, TCP connect, TLS handshake, then `providers test`'s probe through the provider's own
adapter (its health check and a few-token answer), whose HTTP status becomes advice. A
probe's Result carries `verdict` in its data for `secrets rotate`: "accepted" (the
credential works), "rejected" (the service refused it) or "inconclusive" (something else
failed first).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from assistant_cli.doctor.base import Result, fail, in_thread, ok, warn
from assistant_cli.errors import AssistantError, ProviderError, UsageError
from assistant_cli.plugins import registry
from assistant_cli.providers.mtls import TlsFiles, ssl_context
from assistant_cli.providers.probe import probe

if TYPE_CHECKING:
    from assistant_cli.config.models import ProviderConfig

Resolver = Callable[[str, str], str]
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
TLS_SCHEMES = frozenset({"https", "wss", "grpcs"})
STAGE_CAP = 3.0  # seconds at most for each of DNS, TCP and TLS


def _ms(since: float) -> str:
    return f"{(time.monotonic() - since) * 1000:.0f} ms"


class _Budget:
    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    def left(self, cap: float | None = None) -> float:
        remaining = max(0.05, self.deadline - time.monotonic())
        return min(remaining, cap) if cap is not None else remaining


def _proxy_for(scheme: str, host: str) -> str | None:
    """The proxy httpx would use for this URL (from *_PROXY / NO_PROXY), if any."""
    if scheme not in ("http", "https"):
        return None
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(scheme) or proxies.get("all")
    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    if not proxy or bypass(host, proxies):
        return None
    return proxy


@dataclass(frozen=True)
class _Route:
    """Where a probe connects: the service, or the proxy in front of it."""

    scheme: str
    host: str
    port: int
    target: str
    target_port: int
    proxy: str | None

    @property
    def where(self) -> str:
        return f"{self.target}:{self.target_port}"


async def probe_provider(name: str, cfg: ProviderConfig, resolve: Resolver,
                         timeout: float, *, secret_hint: str = "") -> Result:
    """Probe one provider, DNS → TCP → TLS → an authenticated call; never raises for network
    or service trouble."""
    route = _route(name, cfg)
    if isinstance(route, Result):
        return route
    budget = _Budget(timeout)
    # Import the adapter (httpx and friends) off the event loop, so that loading it
    # neither stalls the other checks nor counts as network time below.
    await in_thread(_adapter_class, name, cfg)
    steps = [f"via proxy {route.where}"] if route.proxy else []

    def stop(result: Result) -> Result:
        shown = " · ".join([*steps, result.found])
        return Result(result.status, shown, result.fix, result.fixable,
                      {"verdict": "inconclusive", **result.data})

    firewall = (f"check that the service is up, and that network policy or a firewall lets "
                f"{route.where} through (or set HTTPS_PROXY if this network needs a proxy)")
    dns = await _dns(name, route, budget)
    if isinstance(dns, Result):
        return stop(dns)
    address, found = dns
    steps.append(found)
    tcp = await _tcp(route, address, budget, firewall)
    if isinstance(tcp, Result):
        return stop(tcp)
    steps.append(tcp)
    # Through a proxy the handshake happens inside the tunnel, so it is not tried.
    if route.scheme in TLS_SCHEMES and not route.proxy:
        tls = await _handshake(name, cfg, address, route.host, route.port, budget)
        if isinstance(tls, Result):
            return stop(tls)
        steps.append(tls)
    started = time.monotonic()
    answer = await _call(name, cfg, resolve, route, budget, secret_hint, firewall)
    if isinstance(answer, Result):
        if answer.data.get("verdict") is not None:  # the service answered: its verdict
            return Result(answer.status, " · ".join([*steps, answer.found]), answer.fix,
                          data=answer.data)
        return stop(answer)
    steps.append(f"answered in {_ms(started)}" + (f" (model {answer})" if answer else ""))
    return ok(" · ".join(steps), verdict="accepted")


def _route(name: str, cfg: ProviderConfig) -> _Route | Result:
    parts = urlsplit(cfg.base_url)
    scheme = (parts.scheme or "").lower()
    host = parts.hostname
    if not host:
        return fail(f"providers.{name}.base_url {cfg.base_url!r} names no host",
                    "write a full URL such as https://api.openai.com/v1", verdict="inconclusive")
    try:
        port = parts.port or DEFAULT_PORTS.get(scheme)
    except ValueError:
        port = None
    if port is None:
        return fail(f"providers.{name}.base_url {cfg.base_url!r} has no port",
                    "add the port to base_url, e.g. grpc://host:8001", verdict="inconclusive")
    proxy = _proxy_for(scheme, host)
    if not proxy:
        return _Route(scheme, host, port, host, port, None)
    pp = urlsplit(proxy if "//" in proxy else f"//{proxy}")
    return _Route(scheme, host, port, pp.hostname or host, pp.port or 8080, proxy)


async def _dns(name: str, route: _Route, budget: _Budget) -> tuple[str, str] | Result:
    """(address, what was found), or why the name did not resolve."""
    started = time.monotonic()
    try:
        infos = await asyncio.wait_for(in_thread(
            socket.getaddrinfo, route.target, route.target_port, 0, socket.SOCK_STREAM),
            budget.left(STAGE_CAP))
    except socket.gaierror as exc:
        return fail(f"DNS: cannot resolve {route.target}: {exc.strerror}",
                    f"check the host name in providers.{name}.base_url and this machine's "
                    "DNS (/etc/resolv.conf); a firewall may block DNS")
    except asyncio.TimeoutError:
        return fail(f"DNS: no answer for {route.target} within "
                    f"{budget.left(STAGE_CAP):.1f} s",
                    "check this machine's DNS servers (/etc/resolv.conf) and that network "
                    "policy lets DNS (port 53) through")
    address = str(infos[0][4][0])
    return address, f"DNS {route.target} → {address} ({_ms(started)})"


async def _tcp(route: _Route, address: str, budget: _Budget, firewall: str) -> str | Result:
    started = time.monotonic()
    limit = budget.left(STAGE_CAP)
    where = route.where
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(address, route.target_port),
                                           limit)
        writer.close()
    except ConnectionRefusedError:
        return fail(f"TCP: {where} refused the connection", firewall)
    except asyncio.TimeoutError:
        return fail(f"TCP: no answer from {where} within {limit:.1f} s (packets dropped?)",
                    firewall)
    except OSError as exc:
        return fail(f"TCP: cannot connect to {where}: {exc.strerror or exc}", firewall)
    return f"TCP {_ms(started)}"


async def _call(name: str, cfg: ProviderConfig, resolve: Resolver, route: _Route,
                budget: _Budget, secret_hint: str, firewall: str) -> str | Result | None:
    """Cheap authenticated calls through the adapter: the model that answered, or a Result
    (one with a verdict when the service itself refused)."""
    limit = budget.left()
    try:
        return await asyncio.wait_for(_ask_once(name, cfg, resolve, limit), limit)
    except asyncio.TimeoutError:
        return fail(f"HTTP: connected to {route.host}:{route.port} but no answer within "
                    f"{limit:.1f} s",
                    "the service may be overloaded or stuck (check its status page), or "
                    "a proxy or firewall holds the request; if it is merely slow, run "
                    "doctor with a larger --timeout")
    except ProviderError as exc:
        return _advice(name, cfg, exc, secret_hint, firewall)
    except AssistantError as exc:
        return fail(f"{exc.message}", exc.hint or "fix the config or the secret")


async def _handshake(name: str, cfg: ProviderConfig, address: str, host: str, port: int,
                     budget: _Budget) -> str | Result:
    files = TlsFiles.of(cfg)
    try:
        context = ssl_context(files) if files.custom else ssl.create_default_context()
    except UsageError as exc:
        return fail(f"TLS: {exc.message}", exc.hint or "fix the TLS files")
    started = time.monotonic()
    limit = budget.left(STAGE_CAP)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(
            address, port, ssl=context, server_hostname=host), limit)
    except ssl.SSLCertVerificationError as exc:
        return fail(f"TLS: the certificate of {host}:{port} is not trusted "
                    f"({exc.verify_message})",
                    "check this machine's clock; behind a TLS-inspecting proxy set "
                    f"providers.{name}.ca_file to its CA bundle")
    except ssl.SSLError as exc:
        return fail(f"TLS: handshake with {host}:{port} failed ({exc.reason or exc})",
                    "use http:// if the server speaks plain HTTP; for mutual TLS check "
                    f"providers.{name}.cert_file and key_file")
    except asyncio.TimeoutError:
        return fail(f"TLS: handshake with {host}:{port} did not finish within {limit:.1f} s",
                    f"a firewall or middlebox may be interfering with {host}:{port}")
    except OSError as exc:
        return fail(f"TLS: connection to {host}:{port} failed during the handshake ({exc})",
                    f"check that network policy lets {host}:{port} through")
    obj = writer.get_extra_info("ssl_object")
    version = obj.version() if obj is not None else "TLS"
    writer.close()
    return f"{version} {_ms(started)}"


async def _ask_once(name: str, cfg: ProviderConfig, resolve: Resolver,
                    timeout: float) -> str | None:
    """`providers test`'s probe (health check, then a tiny answer) through the adapter.

    Returns the model that answered; raises the failing step's ProviderError.
    """
    short = cfg.model_copy(update={"timeout": max(timeout, 0.1)})
    adapter = _adapter_class(name, cfg)(name, short, resolve)
    try:
        report = await probe(adapter)
    finally:
        await adapter.aclose()
    if report.ok:
        return report.steps[-1].model or cfg.model
    # As `providers test` reads it: a health endpoint the service lacks (404) is no fault.
    failed = next((s for s in report.steps if not s.ok and s.error_kind != "not_found"),
                  None) or next(s for s in reversed(report.steps) if not s.ok)
    raise ProviderError(failed.error or f"{name}: the probe failed",
                        kind=failed.error_kind or "bad_request", status=failed.status,
                        provider=name, hint=failed.hint)


def _adapter_class(name: str, cfg: ProviderConfig) -> Any:
    return registry.load(registry.PROVIDERS, cfg.kind, key=f"providers.{name}.kind")


def _advice(name: str, cfg: ProviderConfig, exc: ProviderError, secret_hint: str,
            firewall: str) -> Result:
    said = exc.message.removeprefix(f"{name}: ")  # the check's id already names it
    rotate = secret_hint or "assistant-cli secrets set NAME"
    if exc.kind == "auth":
        return fail(f"{said}: wrong, revoked, or for another account",
                    f"check the key at the provider; store a new one with `{rotate}`",
                    verdict="rejected")
    if exc.kind == "quota":
        return fail(said, "add credit or raise the spending limit in the provider's billing "
                    "settings; unlike a rate limit this does not pass by waiting",
                    verdict="rejected")
    if exc.kind == "rate_limit":
        return warn(f"{said}; the key itself works", "wait a little, lower the request "
                    "rate, or add a fallback provider; `assistant-cli logs --grep 429` shows "
                    "how often it happens", verdict="accepted")
    if exc.kind == "not_found":
        return fail(f"{said}; model is {cfg.model!r}", f"check providers.{name}.model and "
                    "base_url (the provider's model list names the valid ids)",
                    verdict="accepted")
    if exc.kind == "overload":
        return warn(said, "retry later and check the provider's status page; add a fallback "
                    "provider so turns fail over", verdict="inconclusive")
    if exc.kind == "network":
        return fail(said, exc.hint or firewall, verdict="inconclusive")
    return fail(said, exc.hint or f"check providers.{name} in config.yaml",
                verdict="accepted" if exc.status and exc.status < 500 else "inconclusive")
