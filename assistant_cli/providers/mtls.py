"""Mutual TLS: checking a client certificate chain, key and CA bundle, and building contexts.

`validate_client_files` runs at `providers add` (and in `doctor`), so that a wrong key, a
chain in the wrong order or an expired certificate is refused before it is written to the
config instead of surfacing later as an opaque handshake failure. `ssl_context` is what
the HTTP and WebSocket adapters use; gRPC takes the files' bytes (`TlsFiles.read_bytes`).

cryptography is imported inside functions: only certificate checks need it, and
`providers add` for a key-only provider stays quick.
"""

from __future__ import annotations

import datetime as dt
import itertools
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from assistant_cli.errors import UsageError

if TYPE_CHECKING:
    from cryptography import x509

    from assistant_cli.config.models import ProviderConfig

WARN_DAYS = 30


@dataclass(frozen=True)
class TlsFiles:
    """PEM paths for one provider's TLS: CA bundle to trust, client chain and its key."""

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None

    @classmethod
    def of(cls, config: ProviderConfig) -> TlsFiles:
        return cls(config.ca_file, config.cert_file, config.key_file)

    @property
    def client_auth(self) -> bool:
        return bool(self.cert_file and self.key_file)

    @property
    def custom(self) -> bool:
        """True when anything differs from the system's default verification."""
        return bool(self.ca_file or self.client_auth)

    def read_bytes(self) -> tuple[bytes | None, bytes | None, bytes | None]:
        """(CA bundle, private key, certificate chain) as bytes, the form gRPC wants."""
        return (_read(self.ca_file, "CA bundle"), _read(self.key_file, "private key"),
                _read(self.cert_file, "certificate chain"))


@dataclass(frozen=True)
class ChainReport:
    """What validation found: the leaf's subject and expiry, and any warnings."""

    subject: str
    not_after: dt.datetime
    days_left: int
    warnings: list[str] = field(default_factory=list)


def ssl_context(files: TlsFiles) -> ssl.SSLContext:
    """A client-side context: the CA bundle (or system CAs) to verify the server, and our
    certificate chain when mutual TLS is configured."""
    loading = f"the CA bundle {files.ca_file}" if files.ca_file else "the system's CAs"
    try:
        ctx = ssl.create_default_context(cafile=files.ca_file or None)
        if files.client_auth:
            assert files.cert_file and files.key_file
            loading = f"the client certificate {files.cert_file} with key {files.key_file}"
            ctx.load_cert_chain(files.cert_file, files.key_file)
    except (OSError, ssl.SSLError) as exc:
        # Name the file that failed: a missing CA bundle is not the certificate's fault.
        raise UsageError(
            f"cannot load {loading}: {exc}",
            hint="check the paths and that they hold PEM data; re-add the provider with "
            "`assistant-cli providers add NAME --cert ... --key ... --ca ...`",
        ) from None
    return ctx


def _read(path: str | None, what: str) -> bytes | None:
    if path is None:
        return None
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the {what} {path}: {exc.strerror}",
                         hint="check the path and its permissions") from None


def _load_certs(path: str, what: str) -> list[x509.Certificate]:
    from cryptography import x509

    data = _read(path, what) or b""
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        certs = []
    if not certs:
        raise UsageError(f"{path} holds no PEM certificate (expected the {what})",
                         hint="give a file with -----BEGIN CERTIFICATE----- blocks")
    return certs


def _subject(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string() or "(empty subject)"


def _spki(key: object) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(  # type: ignore[attr-defined, no-any-return]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _ca_bundle(ca_file: str, now: dt.datetime) -> tuple[list[x509.Certificate], list[str]]:
    """The bundle's certificates (UsageError when it holds none) and a warning for each
    expired one."""
    bundle = _load_certs(ca_file, "CA bundle")
    return bundle, [f"{ca_file}: CA {_subject(ca)} expired on {ca.not_valid_after_utc:%Y-%m-%d}"
                    for ca in bundle if ca.not_valid_after_utc < now]


def validate_ca_file(ca_file: str, now: dt.datetime | None = None) -> list[str]:
    """Check a CA bundle given without a client certificate; its warnings, if any."""
    return _ca_bundle(ca_file, now or dt.datetime.now(dt.timezone.utc))[1]


def validate_client_files(files: TlsFiles, now: dt.datetime | None = None) -> ChainReport:
    """Check chain, key and CA bundle; raise UsageError naming the file and the fix."""
    now = now or dt.datetime.now(dt.timezone.utc)
    if not files.client_auth:
        raise UsageError("mutual TLS needs both --cert and --key",
                         hint="pass the client certificate chain and its private key")
    assert files.cert_file and files.key_file
    chain = _load_certs(files.cert_file, "client certificate chain")
    _check_key_matches(files.cert_file, files.key_file, chain)
    _check_chain_order(files.cert_file, chain)
    _check_validity(files.cert_file, chain, now)
    warnings: list[str] = []
    if files.ca_file:
        warnings += _check_against_ca(files.ca_file, chain, now)
    # The chain is only as good as its first certificate to expire.
    soonest = min(chain, key=lambda c: c.not_valid_after_utc)
    not_after = soonest.not_valid_after_utc
    days_left = int((not_after - now).total_seconds() // 86400)
    if days_left < WARN_DAYS:
        which = "client certificate" if soonest is chain[0] else f"chain's {_subject(soonest)}"
        warnings.insert(0, f"the {which} expires in {days_left} day(s), on "
                        f"{not_after:%Y-%m-%d}; renew it soon")
    return ChainReport(_subject(chain[0]), not_after, days_left, warnings)


def _check_key_matches(cert_file: str, key_file: str, chain: list[x509.Certificate]) -> None:
    """The private key belongs to the first certificate (else: which one, if any)."""
    from cryptography.hazmat.primitives import serialization

    key_data = _read(key_file, "private key") or b""
    try:
        key = serialization.load_pem_private_key(key_data, password=None)
    except TypeError:
        raise UsageError(f"the private key {key_file} is encrypted",
                         hint="decrypt it (e.g. `openssl pkey -in KEY -out KEY.plain`) and "
                         "keep it readable only by you (chmod 600)") from None
    except ValueError:
        raise UsageError(f"{key_file} holds no PEM private key",
                         hint="give the key that belongs to the client certificate") from None
    leaf = chain[0]
    ours = _spki(key.public_key())
    if ours == _spki(leaf.public_key()):
        return
    position = next((i for i, c in enumerate(chain[1:], start=2)
                     if _spki(c.public_key()) == ours), None)
    if position is not None:
        raise UsageError(
            f"{cert_file}: the chain is out of order: the key belongs to certificate "
            f"{position} ({_subject(chain[position - 1])}), which must come first",
            hint="order the chain leaf first, then each issuer after the certificate it "
            "signed")
    raise UsageError(
        f"the private key {key_file} does not match the certificate "
        f"{_subject(leaf)} in {cert_file}",
        hint="give the key that was generated with this certificate")


def _check_chain_order(cert_file: str, chain: list[x509.Certificate]) -> None:
    for i, (cert, issuer) in enumerate(itertools.pairwise(chain), start=1):
        try:
            cert.verify_directly_issued_by(issuer)
        except Exception:
            raise UsageError(
                f"{cert_file}: certificate {i} ({_subject(cert)}) is not issued by "
                f"certificate {i + 1} ({_subject(issuer)})",
                hint="order the chain leaf first, then each issuer after the certificate it "
                "signed") from None


def _check_validity(cert_file: str, chain: list[x509.Certificate], now: dt.datetime) -> None:
    for i, cert in enumerate(chain, start=1):
        if cert.not_valid_after_utc < now:
            raise UsageError(
                f"{cert_file}: certificate {i} ({_subject(cert)}) expired on "
                f"{cert.not_valid_after_utc:%Y-%m-%d}",
                hint="get a renewed certificate and add the provider again")
        if cert.not_valid_before_utc > now:
            raise UsageError(
                f"{cert_file}: certificate {i} ({_subject(cert)}) is not valid before "
                f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC",
                hint="check this machine's clock, or wait until then")


def _check_against_ca(ca_file: str, chain: list[x509.Certificate], now: dt.datetime) -> list[str]:
    bundle, warnings = _ca_bundle(ca_file, now)
    top = chain[-1]
    if top.issuer != top.subject and not any(ca.subject == top.issuer for ca in bundle):
        # Only a note: the server may trust a different CA than the one we trust for it.
        warnings.append(f"the chain's top certificate is issued by "
                        f"{top.issuer.rfc4514_string()}, which is not in {ca_file}; "
                        "make sure the server trusts it")
    return warnings
