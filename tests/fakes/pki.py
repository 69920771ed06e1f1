"""Certificates made by the test suite: CAs, a server certificate for 127.0.0.1, client chains.

EC P-256 keys keep generation fast. Layout written by `make_pki(dir)`:

    root CA ──┬── server (127.0.0.1)
              └── client intermediate ──┬── client (good, 90 days)
                                        ├── client-soon (10 days left)
                                        └── client-expired (ended yesterday)
    client-reversed.pem: intermediate before leaf; client-misordered.pem: leaf, root, interm.
    rogue CA ──── client-rogue           (a CA the server does not trust)
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

Key = ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class Issued:
    cert: x509.Certificate
    key: Key


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def issue(cn: str, issuer: Issued | None, *, ca: bool = False, server_ip: str | None = None,
          days: float = 90, starts_days_ago: float = 1) -> Issued:
    """A certificate for `cn`, signed by `issuer` (self-signed when None)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    signer_key = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer.cert.subject if issuer else _name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=starts_days_ago))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                          content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, encipher_only=False,
                          decipher_only=False), critical=True)
    else:
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server_ip else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if server_ip:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(server_ip))]),
            critical=False)
    return Issued(builder.sign(signer_key, hashes.SHA256()), key)


def pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def key_pem(key: Key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@dataclass(frozen=True)
class Pki:
    """Paths of everything `make_pki` wrote."""

    dir: Path

    def path(self, name: str) -> str:
        return str(self.dir / name)


def make_pki(directory: Path) -> Pki:
    directory.mkdir(parents=True, exist_ok=True)
    root = issue("Test Root CA", None, ca=True, days=3650)
    intermediate = issue("Test Client Intermediate", root, ca=True, days=1825)
    server = issue("127.0.0.1", root, server_ip="127.0.0.1")
    rogue = issue("Rogue CA", None, ca=True, days=3650)
    files: dict[str, bytes] = {
        "root.pem": pem(root.cert),
        "rogue-ca.pem": pem(rogue.cert),
        "server.pem": pem(server.cert),
        "server.key": key_pem(server.key),
    }
    clients = {
        "client": issue("client", intermediate),
        "client-soon": issue("client-soon", intermediate, days=10),
        "client-expired": issue("client-expired", intermediate, days=-1, starts_days_ago=30),
    }
    for name, leaf in clients.items():
        files[f"{name}.pem"] = pem(leaf.cert, intermediate.cert)
        files[f"{name}.key"] = key_pem(leaf.key)
    files["client-reversed.pem"] = pem(intermediate.cert, clients["client"].cert)
    files["client-misordered.pem"] = pem(clients["client"].cert, root.cert, intermediate.cert)
    rogue_client = issue("client-rogue", rogue)
    files["client-rogue.pem"] = pem(rogue_client.cert)
    files["client-rogue.key"] = key_pem(rogue_client.key)
    files["other.key"] = key_pem(ec.generate_private_key(ec.SECP256R1()))
    files["not-a-cert.pem"] = b"hello\n"
    for name, data in files.items():
        (directory / name).write_bytes(data)
        (directory / name).chmod(0o600)
    return Pki(directory)
