"""Which keyring holds assistant-cli's secrets: the OS keyring, or an explicitly chosen file.

keyring and the encrypted-file backend (cryptography) are imported inside functions:
they take noticeable time to import, and most commands never touch a secret. Where no OS
keyring can exist (Linux without a D-Bus session bus: a VPS, a container, a service), that
is found out without importing keyring's backends at all: detecting them loads
secretstorage and cryptography, 7-9 MB that a headless serve would carry for nothing.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from assistant_cli.errors import KeyringUnavailable
from assistant_cli.secrets import PASSWORD_ENV

if TYPE_CHECKING:
    # keyring (and cryptography, for the file backend) take noticeable time to import, and
    # most commands never touch a secret, so both are imported only inside functions.
    from keyring.backend import KeyringBackend

SERVICE = "assistant-cli"
PASSWORD_FILE_ENV = "ASSISTANT_CLI_KEYRING_PASSWORD_FILE"
# The name of the password among a systemd service's credentials (LoadCredential=).
CREDENTIAL_NAME = "assistant-cli-keyring-password"
BACKEND_ENV = "PYTHON_KEYRING_BACKEND"

_FRIENDLY_NAMES = {
    "keyring.backends.SecretService.Keyring": "SecretService",
    "keyring.backends.libsecret.Keyring": "libsecret",
    "keyring.backends.kwallet.DBusKeyring": "KWallet",
    "keyring.backends.kwallet.DBusKeyringKWallet4": "KWallet 4",
    "keyring.backends.macOS.Keyring": "macOS Keychain",
    "keyring.backends.Windows.WinVaultKeyring": "Windows Credential Locker",
    "keyring.backends.fail.Keyring": "no backend found",
    "keyring.backends.null.Keyring": "null backend, keyring is disabled",
}


def select_backend(secrets_file: Path) -> KeyringBackend:
    """Return the backend to keep secrets in, or raise KeyringUnavailable explaining the options.

    A password in ASSISTANT_CLI_KEYRING_PASSWORD (or in the file named by
    ASSISTANT_CLI_KEYRING_PASSWORD_FILE, or a systemd credential) selects the encrypted
    file; otherwise
    keyring's own choice is used (honouring PYTHON_KEYRING_BACKEND, keyringrc.cfg and
    `keyring.set_keyring`), provided it can actually store something.
    """
    password = os.environ.get(PASSWORD_ENV) or _password_from_file()
    if password:
        from assistant_cli.secrets.keyring_file import EncryptedFileKeyring

        return EncryptedFileKeyring(secrets_file, password)

    headless = no_session_bus()
    if headless is not None:
        raise _unavailable(secrets_file, headless)
    import keyring

    try:
        backend = keyring.get_keyring()
    except Exception as exc:
        # keyring raises whatever loading a misnamed or broken PYTHON_KEYRING_BACKEND or
        # keyringrc.cfg backend raises (ImportError, AttributeError, RuntimeError, TypeError).
        raise _unavailable(
            secrets_file, f"the configured keyring backend failed to load: {exc}"
        ) from exc
    if not _usable(backend):
        raise _unavailable(secrets_file, f"keyring's choice is: {backend_name(backend)}")
    return backend


def no_session_bus() -> str | None:
    """Why no OS keyring can answer here, when that is certain without loading keyring's
    backends; None when one might (then keyring itself decides).

    Certain only on Linux with no D-Bus session bus to reach (the Secret Service, KWallet
    and libsecret all live on it), no display that could start one, no backend chosen in
    this process, by PYTHON_KEYRING_BACKEND or by keyringrc.cfg, and no keyring backends
    installed beyond keyring's own.
    """
    if not sys.platform.startswith("linux") or os.environ.get(BACKEND_ENV):
        return None
    if _session_bus_hint() or _backend_chosen():
        return None
    return ("there is no D-Bus session bus: DBUS_SESSION_BUS_ADDRESS is unset, so no Secret "
            "Service or KWallet can answer; usual on a server, in a container or a service")


def _session_bus_hint() -> bool:
    """A session bus, or a display that could start one, is (or may be) there."""
    if any(os.environ.get(name) for name in
           ("DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "WAYLAND_DISPLAY")):
        return True
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    return os.path.exists(os.path.join(runtime, "bus"))


def _backend_chosen() -> bool:
    """A backend was set in this process, is named in keyringrc.cfg, or comes from another
    package: each must be asked, not assumed away."""
    core = sys.modules.get("keyring.core")
    if core is not None and getattr(core, "_keyring_backend", None) is not None:
        return True
    config_home = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    if os.path.exists(os.path.join(config_home, "python_keyring", "keyringrc.cfg")):
        return True
    from importlib.metadata import entry_points

    return any(not ep.value.startswith("keyring.backends.")
               for ep in entry_points(group="keyring.backends"))


def _password_from_file() -> str | None:
    """The encrypted file's password from a file: ASSISTANT_CLI_KEYRING_PASSWORD_FILE, or a
    systemd credential (LoadCredential=, so it never sits in the unit or the environment)."""
    named = os.environ.get(PASSWORD_FILE_ENV)
    creds = os.environ.get("CREDENTIALS_DIRECTORY")
    path = Path(named) if named else Path(creds) / CREDENTIAL_NAME if creds else None
    if path is None or (not named and not path.is_file()):
        return None
    try:
        return path.read_text(encoding="utf-8").rstrip("\r\n") or None
    except OSError as exc:
        raise KeyringUnavailable(f"cannot read the keyring password from {path}: {exc}",
                                 hint=f"check {PASSWORD_FILE_ENV} and the file's mode (0600, "
                                 "owned by the user that runs assistant-cli)") from None


def backend_name(backend: KeyringBackend) -> str:
    """A short human name for `backend`, for `doctor` output and messages."""
    from keyring.backends.chainer import ChainerBackend

    # Checked by module name so naming an OS backend never imports cryptography.
    path = getattr(backend, "path", None)
    if type(backend).__module__ == "assistant_cli.secrets.keyring_file" and path is not None:
        return f"encrypted file ({path})"
    if isinstance(backend, ChainerBackend):
        try:
            inner = [backend_name(b) for b in backend.backends]
        except Exception:
            # Listing the chain re-probes every backend; a name must never raise.
            inner = []
        return f"chain of {', '.join(inner)}" if inner else "empty chain of backends"
    cls = type(backend)
    qualified = f"{cls.__module__}.{cls.__qualname__}"
    return _FRIENDLY_NAMES.get(qualified, qualified)


def _usable(backend: KeyringBackend) -> bool:
    """False for the backends keyring falls back to when it has nowhere to store secrets.

    Priority is deliberately not consulted: backends chosen explicitly (set_keyring,
    PYTHON_KEYRING_BACKEND) are trusted whatever priority they report.
    """
    from keyring.backends import fail, null
    from keyring.backends.chainer import ChainerBackend

    if isinstance(backend, (fail.Keyring, null.Keyring)):
        return False
    # keyrings.alt's plaintext file would be a silent plaintext fallback when keyring picks
    # it on its own; it is accepted only when the user names it explicitly.
    if type(backend).__name__ == "PlaintextKeyring" and BACKEND_ENV not in os.environ:
        return False
    if isinstance(backend, ChainerBackend):
        try:
            return len(backend.backends) > 0
        except Exception:
            return False
    return True


def _unavailable(secrets_file: Path, reason: str) -> KeyringUnavailable:
    message = f"no usable keyring to store secrets in ({reason})"
    hint = (
        "choose one of:\n"
        "    (a) run a Secret Service (e.g. gnome-keyring or KeePassXC) on Linux, or use the\n"
        "        login Keychain on macOS, then retry;\n"
        f"    (b) set {BACKEND_ENV} to another keyring backend class\n"
        "        (see `python -m keyring --list-backends`);\n"
        f"    (c) set {PASSWORD_ENV} to a password (or {PASSWORD_FILE_ENV}\n"
        f"        to a file holding it) to keep secrets in the encrypted file\n"
        f"        {secrets_file} (mode 0600).\n"
        "    Alternatively, reference secrets as `env:NAME` in config.yaml to avoid the keyring."
    )
    return KeyringUnavailable(message, hint=hint)
