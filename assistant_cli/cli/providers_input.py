"""Checking what `providers add` is given: URLs and TLS files, each refusal naming the flag,
the value and the fix, before anything is written."""

from __future__ import annotations

URL_SCHEMES = ("http", "https", "ws", "wss", "grpc", "grpcs")
WEB = ("http", "https")


def usage_error(message: str, hint: str) -> Exception:
    from assistant_cli.errors import UsageError

    return UsageError(message, hint=hint)


def check_url(url: str, flag: str = "--base-url", schemes: tuple[str, ...] | None = None,
              *, query: bool = False, kind: str | None = None) -> str:
    """`url` when it is a usable absolute URL with one of `schemes` (default: any known,
    the ones provider `kind` takes); otherwise a UsageError naming `flag`. A query string is
    refused unless `query`, since adapters append paths to base_url."""
    import ipaddress
    import re
    from urllib.parse import urlsplit

    schemes = schemes or URL_SCHEMES
    example = ("grpc://127.0.0.1:8001" if schemes[0].startswith("grpc")
               else "https://api.example.com/v1")

    def bad(why: str) -> Exception:
        return usage_error(f"{flag}: malformed URL {url!r}: {why}",
                      hint=f"give a full URL like {example}")

    if any(c.isspace() or not c.isprintable() for c in url):
        raise bad("it contains spaces or control characters")
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a malformed port
    except ValueError as exc:
        raise bad(str(exc)) from None
    if parts.scheme not in URL_SCHEMES or not parts.hostname:
        raise bad(f"expected {'/'.join(schemes)}://host[:port][/path]")
    if parts.scheme not in schemes:
        who = f"kind {kind!r}" if kind else flag
        raise bad(f"{who} takes {'/'.join(schemes)}:// addresses, not {parts.scheme}://")
    host = parts.hostname
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise bad(f"{host!r} is not an IPv6 address") from None
    elif not re.fullmatch(r"[A-Za-z0-9_.-]+", host):
        raise bad(f"{host!r} is not a host name")
    if parts.username is not None or parts.password is not None:
        raise usage_error(f"{flag}: {url!r} carries a user name or password",
                     hint="leave credentials out of URLs (they would be written to "
                     "config.yaml); secrets go to the keyring, e.g. with --api-key-stdin")
    if parts.fragment or (parts.query and not query):
        raise bad("it has a query string or fragment; request paths are appended to it")
    return url


def tls_files(cert: str | None, key: str | None, ca: str | None) -> dict[str, str]:
    """The TLS files given, as absolute paths, once each is known to be a readable file."""
    from pathlib import Path

    out = {}
    for flag, field, value in (("--ca", "ca_file", ca), ("--cert", "cert_file", cert),
                               ("--key", "key_file", key)):
        if not value:
            continue
        path = Path(value).expanduser()
        if not path.exists():
            raise usage_error(f"{flag}: no such file: {value}", hint="check the path")
        if not path.is_file():
            raise usage_error(f"{flag}: {value} is not a file", hint="give the PEM file itself")
        try:
            with path.open("rb"):
                pass
        except OSError as exc:
            raise usage_error(f"{flag}: cannot read {value}: {exc.strerror}",
                         hint="make it readable by the user that runs assistant-cli "
                         "(and a private key by nobody else: chmod 600)") from None
        out[field] = str(path.resolve())
    return out
