"""Tests for choosing the keyring backend and for the encrypted-file keyring."""

from __future__ import annotations

import base64
import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import keyring.backends.chainer
import keyring.backends.fail
import keyring.backends.null
import pytest
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

from assistant_cli.errors import KeyringUnavailable, SecretError
from assistant_cli.secrets.keyring_backend import SERVICE, backend_name, select_backend
from assistant_cli.secrets.keyring_file import EncryptedFileKeyring
from tests.memkeyring import MemoryKeyring

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def restore_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("ASSISTANT_CLI_KEYRING_PASSWORD", raising=False)
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    previous = keyring.get_keyring()
    yield
    keyring.set_keyring(previous)


@pytest.fixture
def secrets_file(tmp_path: Path) -> Path:
    return tmp_path / "state" / "secrets.enc"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- encrypted file ------------------------------------------------------------------


def test_roundtrip(secrets_file: Path) -> None:
    ring = EncryptedFileKeyring(secrets_file, PASSWORD)
    assert ring.get_password(SERVICE, "openai") is None
    ring.set_password(SERVICE, "openai", "sk-123")
    ring.set_password(SERVICE, "telegram", "bot:tok")
    ring.set_password("other", "openai", "x")
    assert ring.get_password(SERVICE, "openai") == "sk-123"
    assert ring.get_password(SERVICE, "telegram") == "bot:tok"
    assert ring.get_password("other", "openai") == "x"
    ring.delete_password(SERVICE, "openai")
    assert ring.get_password(SERVICE, "openai") is None
    with pytest.raises(PasswordDeleteError):
        ring.delete_password(SERVICE, "openai")


def test_file_is_encrypted_json_header(secrets_file: Path) -> None:
    EncryptedFileKeyring(secrets_file, PASSWORD).set_password(SERVICE, "openai", "sk-secret")
    raw = secrets_file.read_bytes()
    assert b"sk-secret" not in raw
    header = json.loads(raw)
    assert header["v"] == 1 and header["kdf"] == "scrypt"
    assert len(base64.b64decode(header["salt"])) == 16
    assert len(base64.b64decode(header["nonce"])) == 12


def test_nonce_changes_salt_kept_per_write(secrets_file: Path) -> None:
    ring = EncryptedFileKeyring(secrets_file, PASSWORD)
    ring.set_password(SERVICE, "a", "1")
    first = json.loads(secrets_file.read_bytes())
    ring.set_password(SERVICE, "a", "1")
    second = json.loads(secrets_file.read_bytes())
    assert first["nonce"] != second["nonce"]
    assert first["salt"] == second["salt"]


def test_file_and_directory_modes(secrets_file: Path) -> None:
    EncryptedFileKeyring(secrets_file, PASSWORD).set_password(SERVICE, "a", "1")
    assert mode(secrets_file) == 0o600
    assert mode(secrets_file.parent) == 0o700


def test_existing_loose_mode_is_tightened(secrets_file: Path) -> None:
    ring = EncryptedFileKeyring(secrets_file, PASSWORD)
    ring.set_password(SERVICE, "a", "1")
    secrets_file.chmod(0o644)
    ring.set_password(SERVICE, "b", "2")
    assert mode(secrets_file) == 0o600


def test_wrong_password_names_file(secrets_file: Path) -> None:
    EncryptedFileKeyring(secrets_file, PASSWORD).set_password(SERVICE, "a", "1")
    before = secrets_file.read_bytes()
    wrong = EncryptedFileKeyring(secrets_file, "not it")
    with pytest.raises(SecretError) as info:
        wrong.get_password(SERVICE, "a")
    text = str(info.value)
    assert str(secrets_file) in text
    assert "ASSISTANT_CLI_KEYRING_PASSWORD" in text
    # A wrong password must never overwrite the existing secrets.
    with pytest.raises(SecretError):
        wrong.set_password(SERVICE, "b", "2")
    assert secrets_file.read_bytes() == before


def test_tampered_ciphertext(secrets_file: Path) -> None:
    EncryptedFileKeyring(secrets_file, PASSWORD).set_password(SERVICE, "a", "1")
    header = json.loads(secrets_file.read_bytes())
    ct = bytearray(base64.b64decode(header["ct"]))
    ct[0] ^= 0x01
    header["ct"] = base64.b64encode(bytes(ct)).decode()
    secrets_file.write_text(json.dumps(header))
    with pytest.raises(SecretError, match="damaged") as info:
        EncryptedFileKeyring(secrets_file, PASSWORD).get_password(SERVICE, "a")
    assert str(secrets_file) in str(info.value)


@pytest.mark.parametrize("content", [b"", b"not json", b"[]", b'{"v": 2, "kdf": "scrypt"}'])
def test_malformed_file(secrets_file: Path, content: bytes) -> None:
    secrets_file.parent.mkdir(parents=True)
    secrets_file.write_bytes(content)
    with pytest.raises(SecretError, match="damaged"):
        EncryptedFileKeyring(secrets_file, PASSWORD).get_password(SERVICE, "a")


def test_atomic_write_leaves_no_temp_files(secrets_file: Path) -> None:
    ring = EncryptedFileKeyring(secrets_file, PASSWORD)
    for i in range(3):
        ring.set_password(SERVICE, f"user{i}", str(i))
    ring.delete_password(SERVICE, "user0")
    assert [p.name for p in secrets_file.parent.iterdir()] == [secrets_file.name]


def test_second_instance_sees_writes(secrets_file: Path) -> None:
    one = EncryptedFileKeyring(secrets_file, PASSWORD)
    two = EncryptedFileKeyring(secrets_file, PASSWORD)
    assert two.get_password(SERVICE, "a") is None
    one.set_password(SERVICE, "a", "1")
    assert two.get_password(SERVICE, "a") == "1"
    two.set_password(SERVICE, "b", "2")
    assert one.get_password(SERVICE, "b") == "2"
    assert one.get_password(SERVICE, "a") == "1"


def test_file_recreated_with_new_salt_is_read(secrets_file: Path) -> None:
    one = EncryptedFileKeyring(secrets_file, PASSWORD)
    one.set_password(SERVICE, "a", "1")
    secrets_file.unlink()
    EncryptedFileKeyring(secrets_file, PASSWORD).set_password(SERVICE, "a", "2")
    assert one.get_password(SERVICE, "a") == "2"


def test_derived_key_is_cached(secrets_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt as real

    calls = 0

    def counting_scrypt(**kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return real(**kwargs)

    monkeypatch.setattr("assistant_cli.secrets.keyring_file.Scrypt", counting_scrypt)
    ring = EncryptedFileKeyring(secrets_file, PASSWORD)
    ring.set_password(SERVICE, "a", "1")
    ring.set_password(SERVICE, "b", "2")
    assert ring.get_password(SERVICE, "a") == "1"
    assert calls == 1


# -- select_backend ------------------------------------------------------------------


def test_env_password_selects_file(secrets_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keyring.set_keyring(MemoryKeyring())
    monkeypatch.setenv("ASSISTANT_CLI_KEYRING_PASSWORD", PASSWORD)
    backend = select_backend(secrets_file)
    assert isinstance(backend, EncryptedFileKeyring)
    assert backend.path == secrets_file
    assert backend_name(backend) == f"encrypted file ({secrets_file})"


def test_empty_env_password_is_ignored(secrets_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    memory = MemoryKeyring()
    keyring.set_keyring(memory)
    monkeypatch.setenv("ASSISTANT_CLI_KEYRING_PASSWORD", "")
    assert select_backend(secrets_file) is memory


@pytest.mark.parametrize(
    "unusable",
    [keyring.backends.fail.Keyring, keyring.backends.null.Keyring],
)
def test_no_backend_raises_helpful_error(
    secrets_file: Path, unusable: type[KeyringBackend]
) -> None:
    keyring.set_keyring(unusable())
    with pytest.raises(KeyringUnavailable) as info:
        select_backend(secrets_file)
    text = str(info.value)
    assert "PYTHON_KEYRING_BACKEND" in text
    assert "ASSISTANT_CLI_KEYRING_PASSWORD" in text
    assert str(secrets_file) in text
    assert "env:" in text
    assert not secrets_file.exists()


def test_empty_chainer_is_unusable(secrets_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chainer = keyring.backends.chainer.ChainerBackend
    monkeypatch.setattr(chainer, "backends", [])
    keyring.set_keyring(chainer())  # type: ignore[no-untyped-call]
    with pytest.raises(KeyringUnavailable):
        select_backend(secrets_file)


def test_bad_env_backend_raises_keyring_unavailable(
    secrets_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(keyring.core, "_keyring_backend", None)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "no_such_module.Keyring")
    with pytest.raises(KeyringUnavailable, match="failed to load"):
        select_backend(secrets_file)


def test_memory_keyring_is_returned(secrets_file: Path) -> None:
    memory = MemoryKeyring()
    keyring.set_keyring(memory)
    backend = select_backend(secrets_file)
    assert backend is memory
    backend.set_password(SERVICE, "a", "1")
    assert memory.get_password(SERVICE, "a") == "1"
    with pytest.raises(PasswordDeleteError):
        memory.delete_password(SERVICE, "missing")
    assert backend_name(memory) == "tests.memkeyring.MemoryKeyring"


def test_backend_names() -> None:
    from keyring.backends import SecretService

    fail = keyring.backends.fail.Keyring()  # type: ignore[no-untyped-call]
    assert backend_name(fail) == "no backend found"
    assert backend_name(SecretService.Keyring()) == "SecretService"  # type: ignore[no-untyped-call]


def test_select_backend_module_does_not_import_keyring() -> None:
    import subprocess
    import sys

    code = (
        "import sys, assistant_cli.secrets.keyring_backend; "
        "assert 'keyring' not in sys.modules, 'keyring imported'; "
        "assert 'cryptography' not in sys.modules, 'cryptography imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_plaintext_backend_chosen_implicitly_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from keyring.backend import KeyringBackend

    class PlaintextKeyring(KeyringBackend):  # stands in for keyrings.alt's plaintext file
        priority = 0.5  # type: ignore[assignment]

        def get_password(self, service: str, username: str) -> str | None:
            return None

        def set_password(self, service: str, username: str, password: str) -> None:
            raise AssertionError("must never be written")

        def delete_password(self, service: str, username: str) -> None:
            return None

    keyring.set_keyring(PlaintextKeyring())  # type: ignore[no-untyped-call]
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    with pytest.raises(KeyringUnavailable):
        select_backend(tmp_path / "secrets.enc")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    assert type(select_backend(tmp_path / "secrets.enc")).__name__ == "PlaintextKeyring"


def test_the_file_password_comes_from_a_file_or_a_systemd_credential(
        secrets_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A service gets the password without it being in its unit or environment."""
    from assistant_cli.secrets.keyring_backend import CREDENTIAL_NAME, PASSWORD_FILE_ENV

    EncryptedFileKeyring(secrets_file, "pw-from-file").set_password(SERVICE, "k", "v-123")
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / CREDENTIAL_NAME).write_text("pw-from-file\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    assert select_backend(secrets_file).get_password(SERVICE, "k") == "v-123"
    monkeypatch.delenv("CREDENTIALS_DIRECTORY")
    monkeypatch.setenv(PASSWORD_FILE_ENV, str(creds / CREDENTIAL_NAME))
    assert select_backend(secrets_file).get_password(SERVICE, "k") == "v-123"
    monkeypatch.setenv(PASSWORD_FILE_ENV, str(tmp_path / "missing"))
    with pytest.raises(KeyringUnavailable, match="cannot read the keyring password"):
        select_backend(secrets_file)
