"""The password-encrypted secrets file: a keyring backend for machines without an OS keyring."""

from __future__ import annotations

import base64
import binascii
import json
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from keyring.backend import KeyringBackend
from keyring.compat import properties
from keyring.errors import PasswordDeleteError

from assistant_cli.errors import SecretError
from assistant_cli.paths import atomic_write
from assistant_cli.secrets import PASSWORD_ENV

FORMAT_VERSION = 1
SALT_BYTES = 16
NONCE_BYTES = 12
KEY_BYTES = 32
# Fixed by FORMAT_VERSION: changing them needs a new version so old files stay readable.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
# Binds the ciphertext to this format so it cannot be replayed under another header version.
_AAD = b"assistant-cli secrets v1"

Entries = dict[str, dict[str, str]]


def _b64decode(value: object) -> bytes:
    if not isinstance(value, str):
        raise ValueError("not a base64 string")
    return base64.b64decode(value.encode("ascii"), validate=True)


def _b64encode(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


class EncryptedFileKeyring(KeyringBackend):
    """All (service, username) -> password entries in one scrypt + AES-GCM encrypted file.

    The constructor needs arguments, so keyring's auto-detection (which instantiates
    backends without arguments) never picks this class: it is only used explicitly.
    """

    def __init__(self, path: Path, password: str) -> None:
        # KeyringBackend.__init__ applies KEYRING_PROPERTY_* environment variables as
        # attributes; assigning ours afterwards keeps the environment from redirecting them.
        super().__init__()  # type: ignore[no-untyped-call]  # keyring leaves it unannotated
        self.path = Path(path)
        self._password = password.encode("utf-8")
        # Keyed by salt: the salt is kept across rewrites, so one scrypt run serves every
        # operation, yet a file recreated by another process with a new salt still works.
        self._keys: dict[bytes, bytes] = {}

    @properties.classproperty
    def priority(cls) -> float:
        return 0.5

    # -- keyring API -----------------------------------------------------------------

    def get_password(self, service: str, username: str) -> str | None:
        _, entries = self._load()
        return entries.get(service, {}).get(username)

    def set_password(self, service: str, username: str, password: str) -> None:
        salt, entries = self._load()
        entries.setdefault(service, {})[username] = password
        self._store(salt, entries)

    def delete_password(self, service: str, username: str) -> None:
        salt, entries = self._load()
        users = entries.get(service, {})
        if username not in users:
            raise PasswordDeleteError(f"no secret {username!r} for {service!r} in {self.path}")
        del users[username]
        if not users:
            del entries[service]
        self._store(salt, entries)

    # -- file format -----------------------------------------------------------------

    def _key(self, salt: bytes) -> bytes:
        key = self._keys.get(salt)
        if key is None:
            kdf = Scrypt(salt=salt, length=KEY_BYTES, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
            key = kdf.derive(self._password)
            self._keys[salt] = key
        return key

    def _damaged(self, detail: str) -> SecretError:
        return SecretError(
            f"cannot decrypt the secrets file {self.path}: {detail}",
            hint=(
                f"the password in {PASSWORD_ENV} is wrong or the file is damaged; "
                f"set the right password, or move {self.path} aside and store the secrets again"
            ),
        )

    def _load(self) -> tuple[bytes | None, Entries]:
        """Read and decrypt the whole file; (None, {}) when it does not exist yet."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None, {}
        except OSError as exc:
            raise SecretError(
                f"cannot read the secrets file {self.path}: {exc.strerror or exc}",
                hint=self._fix_location(),
            ) from None
        try:
            header = json.loads(raw)
            if not isinstance(header, dict):
                raise ValueError("header is not a JSON object")
            if header.get("v") != FORMAT_VERSION or header.get("kdf") != "scrypt":
                raise ValueError(f"unsupported format {header.get('v')!r}/{header.get('kdf')!r}")
            salt = _b64decode(header.get("salt"))
            nonce = _b64decode(header.get("nonce"))
            ct = _b64decode(header.get("ct"))
            if len(salt) != SALT_BYTES or len(nonce) != NONCE_BYTES:
                raise ValueError("bad salt or nonce length")
        except (ValueError, binascii.Error, UnicodeError) as exc:
            raise self._damaged(f"malformed header ({exc})") from exc
        try:
            plaintext = AESGCM(self._key(salt)).decrypt(nonce, ct, _AAD)
        except InvalidTag as exc:
            raise self._damaged("authentication failed") from exc
        try:
            entries = _parse_entries(json.loads(plaintext))
        except (ValueError, UnicodeError) as exc:
            # Authenticated but unparsable means a bug or a foreign writer, not a bad password.
            raise self._damaged(f"unexpected content ({exc})") from exc
        return salt, entries

    def _store(self, salt: bytes | None, entries: Entries) -> None:
        if salt is None:
            salt = os.urandom(SALT_BYTES)
        nonce = os.urandom(NONCE_BYTES)
        plaintext = json.dumps(entries, separators=(",", ":"), sort_keys=True).encode("utf-8")
        ct = AESGCM(self._key(salt)).encrypt(nonce, plaintext, _AAD)
        document = {
            "v": FORMAT_VERSION,
            "kdf": "scrypt",
            "salt": _b64encode(salt),
            "nonce": _b64encode(nonce),
            "ct": _b64encode(ct),
        }
        try:
            atomic_write(self.path, json.dumps(document).encode("ascii") + b"\n")
        except OSError as exc:
            raise SecretError(
                f"cannot write the secrets file {self.path}: {exc.strerror or exc}",
                hint=self._fix_location(),
            ) from None

    def _fix_location(self) -> str:
        return (f"make {self.path.parent} a writable directory (move aside a file in its "
                "place), or set ASSISTANT_CLI_HOME to another directory")


def _parse_entries(data: Any) -> Entries:
    if not isinstance(data, dict):
        raise ValueError("entries are not a JSON object")
    entries: Entries = {}
    for service, users in data.items():
        if not isinstance(users, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in users.items()
        ):
            raise ValueError(f"entries for {service!r} are not a string mapping")
        entries[service] = dict(users)
    return entries
