"""TLS for the gateway (server and dashboard contexts) and the start-up security warnings."""

from __future__ import annotations

import ipaddress
import ssl
from pathlib import Path
from typing import TYPE_CHECKING

from assistant_cli.errors import ConfigError

if TYPE_CHECKING:
    from assistant_cli.config.models import GatewayConfig


SERVER_MISSING_HINT = ("fix the path in --{option} / {key}, or remove both TLS settings to "
                       "serve plain HTTP on loopback")


def _read_pem(path_text: str, key: str, missing_hint: str) -> tuple[Path, bytes]:
    """The file's path and bytes, or a ConfigError naming `key` and the file."""
    path = Path(path_text).expanduser()
    try:
        with path.open("rb") as fh:
            data = fh.read(1_000_000)
    except FileNotFoundError:
        raise ConfigError(f"{key}: {path} does not exist", hint=missing_hint) from None
    except IsADirectoryError:
        raise ConfigError(f"{key}: {path} is a directory, not a PEM file",
                          hint="point it at the PEM file itself") from None
    except PermissionError:
        raise ConfigError(f"{key}: cannot read {path}: permission denied",
                          hint="make it readable by the user running serve "
                          f"(e.g. `chmod 600 {path}` as its owner)") from None
    except OSError as exc:
        raise ConfigError(f"{key}: cannot read {path}: {exc.strerror}",
                          hint="check the path and its permissions") from None
    return path, data


def _server_file(path_text: str, key: str, marker: bytes, what: str) -> Path:
    option = key.split(".")[-1].replace("_", "-")
    path, data = _read_pem(path_text, key, SERVER_MISSING_HINT.format(option=option, key=key))
    if marker not in data:
        # Said here because OpenSSL's own complaint ("PEM lib") names neither file.
        raise ConfigError(f"{key}: {path} is not a PEM {what}",
                          hint=f"point --{option} / {key} at the PEM {what} file")
    return path


def server_context(config: GatewayConfig) -> ssl.SSLContext | None:
    """The TLS context for `tls_cert` + `tls_key`, None when neither is set."""
    if not config.tls_cert and not config.tls_key:
        return None
    if not config.tls_cert or not config.tls_key:
        missing = "tls_key" if config.tls_cert else "tls_cert"
        raise ConfigError(f"gateway.{missing} is not set, but TLS needs both a certificate "
                          "and its private key",
                          hint="pass both --tls-cert and --tls-key (or set both in config.yaml)")
    cert = _server_file(config.tls_cert, "gateway.tls_cert", b"-----BEGIN CERTIFICATE",
                        "certificate")
    key = _server_file(config.tls_key, "gateway.tls_key", b"PRIVATE KEY-----", "private key")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        raise ConfigError(
            f"gateway.tls_cert / gateway.tls_key: cannot load {cert} with {key}: "
            f"{exc.reason or exc}",
            hint="both must be PEM; the key must belong to the certificate (and must not "
            "need a passphrase)") from None
    return context


def _trusting(cafile: str, key: str, missing_hint: str) -> ssl.SSLContext:
    path, _ = _read_pem(cafile, key, missing_hint)
    try:
        return ssl.create_default_context(cafile=str(path))
    except ssl.SSLError as exc:
        raise ConfigError(f"{key}: {path} holds no PEM certificate ({exc.reason or exc})",
                          hint=f"point {key} at a PEM certificate file") from None


def pinned_client_context(cert_file: str) -> ssl.SSLContext:
    """For the local dashboard: trust exactly the certificate `serve` is configured with."""
    context = _trusting(cert_file, "gateway.tls_cert",
                        "fix gateway.tls_cert in config.yaml (the dashboard trusts that file)")
    # Pinned to that one certificate, which may be a leaf issued for another name.
    context.check_hostname = False
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    return context


def client_context(ca_file: str | None) -> ssl.SSLContext:
    """For a dashboard given a URL: system CAs, plus `ca_file` when given."""
    if ca_file is None:
        return ssl.create_default_context()
    return _trusting(ca_file, "--ca-file",
                     "pass the PEM certificate the gateway serves (or the CA that issued it)")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def plain_http_exposed(config: GatewayConfig) -> bool:
    return (config.enabled and not is_loopback(config.host)
            and not (config.tls_cert and config.tls_key))


def refuse_plain_http(config: GatewayConfig, *, insecure_http: bool) -> None:
    """Tokens and events must not cross a network in the clear by accident: binding beyond
    loopback without TLS needs the explicit `--insecure-http`."""
    if plain_http_exposed(config) and not insecure_http:
        raise ConfigError(
            f"the gateway would listen on {config.host} without TLS: tokens and events "
            "would cross the network unencrypted",
            hint="pass --tls-cert/--tls-key; or keep gateway.host at 127.0.0.1 behind a TLS "
            "reverse proxy (nginx); or, knowing the risk, pass --insecure-http")


def startup_warnings(config: GatewayConfig) -> list[str]:
    """Plain sentences about risky gateway settings, printed when `serve` starts."""
    warnings: list[str] = []
    if plain_http_exposed(config):
        warnings.append(
            f"the gateway listens on {config.host} without TLS: tokens and events cross the "
            "network unencrypted (serve refuses this unless --insecure-http is given). Pass "
            "--tls-cert/--tls-key, or keep it on 127.0.0.1 behind a TLS reverse proxy "
            "(nginx)")
    if "*" in config.allowed_origins:
        warnings.append(
            "allowed origins include '*': any web page the owner opens may use a leaked "
            "token against the gateway. List the origins you use instead")
    return warnings
