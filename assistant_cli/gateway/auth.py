"""Who may open the gateway's WebSocket: token, browser Origin, and lockout after failures.

Order of checks: a locked-out address is refused first (429) without looking at the
token; then a browser `Origin` outside the allow-list (403) — not counted as a failure,
so a hostile web page cannot lock the owner out of their own loopback gateway; then the
token (401), where every failure counts towards the lockout. Clients that send no
Origin (the dashboard, scripts) are not browsers and skip the Origin check.

The address the lockout counts is the peer's, unless the peer is one of
`gateway.trusted_proxies`: then it is the nearest address in `X-Forwarded-For` that is not
itself a trusted proxy (read from the right, since a proxy appends what it saw and the
client can only prepend). Behind nginx without this, every client shares the proxy's
address and ten bad tokens from anyone would lock the owner out.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from assistant_cli.gateway.tls import is_loopback
from assistant_cli.gateway.tokens import TokenError

if TYPE_CHECKING:
    from aiohttp import web

    from assistant_cli.gateway.tokens import JwtKeys

log = logging.getLogger("assistant_cli.gateway.auth")

MAX_TRACKED_ADDRESSES = 10_000


@dataclass(frozen=True)
class Refusal:
    """An HTTP refusal of the upgrade: status, a stable code, and a sentence."""

    status: int
    code: str
    message: str
    retry_after: int | None = None  # seconds, sent as Retry-After


class Lockout:
    """Counts failures per address; too many within `window` locks it out for `seconds`."""

    def __init__(self, failures: int, seconds: float, *, window: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = failures
        self.seconds = seconds
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._locked: dict[str, float] = {}
        # Several replicas behind one nginx: each failure is also told to the others (the
        # replica event relay, app/replicas.py), which count it with `failure(shared=False)`.
        self.on_failure: Callable[[str], None] | None = None

    def remaining(self, address: str) -> float:
        """Seconds until `address` may try again (0 when it may now)."""
        until = self._locked.get(address)
        if until is None:
            return 0.0
        left = until - self.clock()
        if left <= 0:
            del self._locked[address]
            return 0.0
        return left

    def failure(self, address: str, *, shared: bool = True) -> bool:
        """Record a failure; True when it locked the address out. `shared=False`: a failure
        another replica saw (not told onwards again)."""
        if shared and self.on_failure is not None:
            self.on_failure(address)
        now = self.clock()
        if len(self._failures) >= MAX_TRACKED_ADDRESSES and address not in self._failures:
            self._forget_stale(now)
        times = self._failures.setdefault(address, deque(maxlen=self.limit))
        times.append(now)
        if len(times) >= self.limit and now - times[0] <= self.window:
            self._locked[address] = now + self.seconds
            times.clear()
            return True
        return False

    def success(self, address: str) -> None:
        self._failures.pop(address, None)

    def _forget_stale(self, now: float) -> None:
        for addr in [a for a, t in self._failures.items() if not t or now - t[-1] > self.window]:
            del self._failures[addr]
        if len(self._failures) >= MAX_TRACKED_ADDRESSES:
            # Under a flood from many addresses, forget the oldest half rather than grow.
            for addr in list(self._failures)[: MAX_TRACKED_ADDRESSES // 2]:
                del self._failures[addr]


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(entries: list[str]) -> list[Network]:
    return [ipaddress.ip_network(e, strict=False) for e in entries]


def _trusted(address: str, proxies: list[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in net for net in proxies)


def client_address(request: web.Request, proxies: list[Network]) -> str:
    """The real client: the peer, or behind trusted proxies the nearest untrusted hop."""
    peer = request.remote or "?"
    if not proxies or not _trusted(peer, proxies):
        return peer
    hops = [h.strip() for value in request.headers.getall("X-Forwarded-For", [])
            for h in value.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            return hop
    return hops[0] if hops else peer


def token_from(request: web.Request) -> str | None:
    """`Authorization: Bearer TOKEN`, else `?token=TOKEN` (browsers cannot set headers)."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.query.get("token") or None


def origin_allowed(origin: str | None, request: web.Request, allowed: list[str]) -> bool:
    """No Origin (not a browser), `*`, listed, or the gateway's own loopback origin.

    The own origin counts only on a loopback address: a page on a rebound DNS name
    (evil.example resolving to 127.0.0.1) sends a matching Host and Origin, so a name
    proves nothing.
    """

    if origin is None:
        return True
    origin = origin.rstrip("/").lower()
    if "*" in allowed or origin in {o.rstrip("/").lower() for o in allowed}:
        return True
    own = f"{request.scheme}://{request.host}".lower()
    try:
        hostname = urlsplit(own).hostname or ""
    except ValueError:
        return False
    return origin == own and is_loopback(hostname)


class Authenticator:
    """Decides on one upgrade request: the token's claims, or a Refusal."""

    def __init__(self, keys: JwtKeys, allowed_origins: list[str], lockout: Lockout,
                 trusted_proxies: list[str] | None = None) -> None:
        self.keys = keys
        self.allowed_origins = allowed_origins
        self.lockout = lockout
        self.proxies = _networks(trusted_proxies or [])

    def check(self, request: web.Request) -> dict[str, Any] | Refusal:
        address = client_address(request, self.proxies)
        wait = self.lockout.remaining(address)
        if wait > 0:
            seconds = int(wait) + 1
            return Refusal(429, "locked_out", f"too many failed attempts from {address}; "
                           f"try again in {seconds} s", retry_after=seconds)
        origin = request.headers.get("Origin")
        if not origin_allowed(origin, request, self.allowed_origins):
            log.warning("refused a WebSocket from origin %s", origin, extra={
                "event": "gateway.refused", "fields": {"code": "bad_origin", "remote": address}})
            return Refusal(403, "bad_origin", f"origin {origin} is not allowed; add it to "
                           "gateway.allowed_origins (or --allowed-origins)")
        token = token_from(request)
        try:
            if token is None:
                raise TokenError("missing_token", "no token: send `Authorization: Bearer "
                                 "TOKEN` or ?token=TOKEN")
            claims = self.keys.verify(token)
        except TokenError as exc:
            locked = self.lockout.failure(address)
            log.warning("refused a WebSocket from %s: %s", address, exc.message, extra={
                "event": "gateway.refused",
                "fields": {"code": exc.code, "remote": address, "locked_out": locked}})
            return Refusal(401, exc.code, exc.message)
        self.lockout.success(address)
        return claims
