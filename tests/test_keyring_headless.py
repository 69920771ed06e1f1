"""A headless Linux (no D-Bus session bus) is told it has no OS keyring without loading
keyring's backends: they import secretstorage and cryptography, 7-9 MB of a serve's memory."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.core
import pytest

from assistant_cli.errors import KeyringUnavailable
from assistant_cli.secrets.keyring_backend import no_session_bus, select_backend
from tests.memkeyring import MemoryKeyring

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the D-Bus shortcut is Linux's")

HINTS = ("DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "WAYLAND_DISPLAY", "PYTHON_KEYRING_BACKEND",
         "ASSISTANT_CLI_KEYRING_PASSWORD", "ASSISTANT_CLI_KEYRING_PASSWORD_FILE",
         "CREDENTIALS_DIRECTORY")


def headless_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a VPS shell or a service: no bus, no display, no keyring config."""
    env = {k: v for k, v in os.environ.items() if k not in HINTS}
    (tmp_path / "run").mkdir(exist_ok=True)
    env.update(XDG_RUNTIME_DIR=str(tmp_path / "run"), XDG_CONFIG_HOME=str(tmp_path / "config"))
    return env


@pytest.fixture
def headless(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    previous = keyring.get_keyring()
    for name in HINTS:
        monkeypatch.delenv(name, raising=False)
    for name, value in headless_env(tmp_path).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(keyring.core, "_keyring_backend", None)  # nothing chosen yet
    yield tmp_path
    keyring.set_keyring(previous)


def test_no_bus_means_no_keyring_and_says_why(headless: Path) -> None:
    reason = no_session_bus()
    assert reason is not None and "D-Bus session bus" in reason
    with pytest.raises(KeyringUnavailable) as info:
        select_backend(headless / "secrets.enc")
    text = str(info.value)
    assert "DBUS_SESSION_BUS_ADDRESS is unset" in text
    assert "ASSISTANT_CLI_KEYRING_PASSWORD" in text and "env:" in text


@pytest.mark.parametrize("hint", ["DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "WAYLAND_DISPLAY"])
def test_a_bus_or_a_display_leaves_the_choice_to_keyring(
        headless: Path, monkeypatch: pytest.MonkeyPatch, hint: str) -> None:
    monkeypatch.setenv(hint, "unix:path=/nonexistent" if hint.startswith("DBUS") else ":0")
    assert no_session_bus() is None


def test_the_bus_socket_in_the_runtime_dir_counts(headless: Path) -> None:
    (headless / "run" / "bus").touch()
    assert no_session_bus() is None


def test_a_keyringrc_is_obeyed(headless: Path) -> None:
    rc = headless / "config" / "python_keyring" / "keyringrc.cfg"
    rc.parent.mkdir(parents=True)
    rc.write_text("[backend]\ndefault-keyring=keyrings.alt.file.EncryptedKeyring\n")
    assert no_session_bus() is None


def test_a_backend_named_in_the_environment_is_obeyed(
        headless: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "tests.memkeyring.MemoryKeyring")
    assert no_session_bus() is None
    assert type(select_backend(headless / "secrets.enc")).__name__ == "MemoryKeyring"


def test_a_backend_set_in_this_process_is_used(headless: Path) -> None:
    memory = MemoryKeyring()
    keyring.set_keyring(memory)
    assert no_session_bus() is None
    assert select_backend(headless / "secrets.enc") is memory


def test_a_backend_from_another_package_is_asked(
        headless: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.metadata.entry_points

    def with_alt(*, group: str) -> importlib.metadata.EntryPoints:
        found = list(real(group=group))
        if group == "keyring.backends":
            found.append(importlib.metadata.EntryPoint(
                name="file", value="keyrings.alt.file", group="keyring.backends"))
        return importlib.metadata.EntryPoints(found)

    monkeypatch.setattr(importlib.metadata, "entry_points", with_alt)
    assert no_session_bus() is None


def test_the_answer_loads_neither_keyring_backends_nor_cryptography(tmp_path: Path) -> None:
    """The memory this is for: checked in a fresh interpreter, as serve starts."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from assistant_cli.errors import KeyringUnavailable\n"
        "from assistant_cli.secrets.keyring_backend import select_backend\n"
        "try:\n"
        "    select_backend(Path(sys.argv[1]))\n"
        "except KeyringUnavailable as exc:\n"
        "    print(exc)\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(\n"
        "    ('cryptography', 'secretstorage', 'jeepney', 'keyring.backends')))\n"
        "print('loaded:', loaded)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "secrets.enc")],
                          env=headless_env(tmp_path), capture_output=True, text=True,
                          check=True, timeout=60)
    assert "no usable keyring" in done.stdout and "D-Bus" in done.stdout
    assert "loaded: []" in done.stdout
