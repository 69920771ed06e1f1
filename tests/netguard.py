"""Test network guard: refuse any socket connection or name lookup that leaves loopback."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable
from typing import Any

__all__ = [
    "NetworkBlockedError",
    "install",
    "is_installed",
    "is_loopback_host",
    "uninstall",
]

# Only names the system resolves from /etc/hosts are allowed; anything else
# (even "*.localhost") may be forwarded to a DNS server, which is a leak.
_LOOPBACK_NAMES = frozenset({"localhost", "localhost."})

_INET_FAMILIES = frozenset({socket.AF_INET, socket.AF_INET6})

_lock = threading.Lock()
_depth = 0
# Attribute name -> (owner, original value or _MISSING) so uninstall() restores exactly.
_saved: dict[str, tuple[Any, Any]] = {}
_MISSING = object()


class NetworkBlockedError(RuntimeError):
    """Raised instead of letting a test talk to a host outside loopback."""

    def __init__(self, host: object, port: object) -> None:
        super().__init__(f"network access outside loopback blocked in tests: {host}:{port}")
        self.host = host
        self.port = port


def _host_text(host: object) -> str:
    if isinstance(host, (bytes, bytearray)):
        return bytes(host).decode("ascii", "replace")
    return str(host)


def is_loopback_host(host: object) -> bool:
    """True for loopback IP literals, the unspecified address and the name "localhost"."""
    name = _host_text(host).strip().lower()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    # An IPv6 zone ("fe80::1%eth0") never changes whether the address is loopback.
    name = name.split("%", 1)[0]
    if name in _LOOPBACK_NAMES:
        return True
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    # 0.0.0.0 / :: are what servers bind to; connecting to them stays on this host.
    return ip.is_loopback or ip.is_unspecified


def _check_sockaddr(family: int, address: object) -> None:
    if family not in _INET_FAMILIES:
        # AF_UNIX paths, netlink and friends never leave the machine.
        return
    if not isinstance(address, tuple) or len(address) < 2:
        # Malformed: let the real call raise its usual TypeError/OSError.
        return
    host, port = address[0], address[1]
    if not is_loopback_host(host):
        raise NetworkBlockedError(_host_text(host), port)


def _patch(owner: Any, name: str, replacement: Any) -> None:
    _saved[name] = (owner, owner.__dict__.get(name, _MISSING))
    setattr(owner, name, replacement)


def _make_wrappers() -> dict[str, tuple[Any, Callable[..., Any]]]:
    orig_connect = socket.socket.connect
    orig_connect_ex = socket.socket.connect_ex
    orig_sendto = socket.socket.sendto
    orig_create_connection = socket.create_connection
    orig_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        _check_sockaddr(self.family, address)
        return orig_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        _check_sockaddr(self.family, address)
        return orig_connect_ex(self, address)

    def sendto(self: socket.socket, data: Any, *args: Any) -> int:
        # Unconnected UDP (pure-Python DNS resolvers) bypasses connect() entirely.
        if args:
            _check_sockaddr(self.family, args[-1])
        return orig_sendto(self, data, *args)

    def create_connection(address: tuple[Any, Any], *args: Any, **kwargs: Any) -> socket.socket:
        # Checked before resolution so the message names the host the caller asked for.
        if isinstance(address, tuple) and len(address) >= 2 and not is_loopback_host(address[0]):
            raise NetworkBlockedError(_host_text(address[0]), address[1])
        return orig_create_connection(address, *args, **kwargs)

    # Parameter names match socket.getaddrinfo because callers pass them by keyword.
    def getaddrinfo(
        host: Any,
        port: Any,
        family: int = 0,
        type: int = 0,
        proto: int = 0,
        flags: int = 0,
    ) -> Any:
        # host=None means "local/passive" (binding a server), which performs no lookup.
        if host is not None and _host_text(host) != "" and not is_loopback_host(host):
            raise NetworkBlockedError(_host_text(host), port)
        return orig_getaddrinfo(host, port, family, type, proto, flags)

    return {
        "connect": (socket.socket, connect),
        "connect_ex": (socket.socket, connect_ex),
        "sendto": (socket.socket, sendto),
        "create_connection": (socket, create_connection),
        "getaddrinfo": (socket, getaddrinfo),
    }


def install() -> None:
    """Start blocking non-loopback network access; nested calls are reference counted."""
    global _depth
    with _lock:
        _depth += 1
        if _depth > 1:
            return
        # Patching the socket *class* (not instances) also covers sockets that
        # asyncio, httpx/anyio, ssl and urllib create internally.
        for name, (owner, replacement) in _make_wrappers().items():
            _patch(owner, name, replacement)


def uninstall() -> None:
    """Undo one install(); the real socket functions return when the count reaches zero."""
    global _depth
    with _lock:
        if _depth == 0:
            return
        _depth -= 1
        if _depth > 0:
            return
        for name, (owner, original) in _saved.items():
            if original is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
        _saved.clear()


def is_installed() -> bool:
    """Whether the guard is currently active in this process."""
    with _lock:
        return _depth > 0
