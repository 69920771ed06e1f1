"""First-run setup, step one: where the API key will live, settled before any question.

On a machine without a usable OS keyring (the usual VPS: no Secret Service) the user picks,
right there: the encrypted file (a password, asked twice), an `env:` reference, or another
keyring backend. Nothing typed later can then be lost to "no usable keyring".
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant_cli.paths import Paths

if TYPE_CHECKING:
    from rich.console import Console

    from assistant_cli.secrets.store import SecretStore


@dataclass
class SecretPlace:
    """Either a working store (keyring or encrypted file), or env: references (store None)."""

    store: SecretStore | None
    label: str

    @property
    def uses_env(self) -> bool:
        return self.store is None


def choose_secret_place(paths: Paths, out: Console) -> SecretPlace:
    """The working keyring if there is one; otherwise ask which of the other places to use."""
    from assistant_cli.errors import KeyringUnavailable
    from assistant_cli.secrets.store import SecretStore

    store = SecretStore(paths)
    try:
        store.backend  # noqa: B018
        return SecretPlace(store, store.backend_name)
    except KeyringUnavailable as exc:
        reason = exc.message
    out.print(f"[yellow]{reason}.[/yellow] API keys need a place to live; choose one now "
              "(before any other question):", markup=True)
    while True:
        out.print("  1. An encrypted file, protected by a password you choose\n"
                  "  2. Environment variables (config.yaml says env:NAME)\n"
                  "  3. Another keyring backend (a class from "
                  "`python -m keyring --list-backends`)")
        from rich.prompt import IntPrompt

        pick = IntPrompt.ask("Where should secrets live?", choices=["1", "2", "3"], default=1,
                             console=out)
        if pick == 2:
            return SecretPlace(None, "environment variables")
        place = _encrypted_file(paths, out) if pick == 1 else _other_backend(paths, out)
        if place is not None:
            return place


def _encrypted_file(paths: Paths, out: Console) -> SecretPlace | None:
    from rich.prompt import Prompt

    from assistant_cli.secrets import PASSWORD_ENV
    from assistant_cli.secrets.keyring_backend import CREDENTIAL_NAME, PASSWORD_FILE_ENV
    from assistant_cli.secrets.store import SecretStore

    password = Prompt.ask("Password for the encrypted file (input hidden)", password=True,
                          console=out)
    again = Prompt.ask("The same password again", password=True, console=out)
    if not password or password != again:
        out.print("The passwords were empty or did not match; choose again.")
        return None
    os.environ[PASSWORD_ENV] = password  # for this run of serve only
    store = SecretStore(paths)
    out.print(f"Secrets go to {paths.secrets_file} (mode 0600). Later starts need the "
              f"password: export {PASSWORD_ENV}=..., or put it in a 0600 file named by "
              f"{PASSWORD_FILE_ENV}; as a service, `assistant-cli service install` passes it "
              f"as the systemd credential {CREDENTIAL_NAME} (LoadCredential=), never in the "
              "unit itself.", markup=False)
    return SecretPlace(store, store.backend_name)


def _other_backend(paths: Paths, out: Console) -> SecretPlace | None:
    import keyring
    import keyring.core
    from rich.prompt import Prompt

    from assistant_cli.errors import KeyringUnavailable
    from assistant_cli.secrets.keyring_backend import BACKEND_ENV
    from assistant_cli.secrets.store import SecretStore

    name = Prompt.ask("Keyring backend class (e.g. keyrings.alt.file.EncryptedKeyring)",
                      console=out).strip()
    try:
        keyring.set_keyring(keyring.core.load_keyring(name))
        os.environ[BACKEND_ENV] = name
        store = SecretStore(paths)
        store.backend  # noqa: B018
    except (KeyringUnavailable, Exception) as exc:  # keyring raises anything on a bad name
        out.print(f"That backend cannot be used: {exc}; choose again.", markup=False)
        return None
    out.print(f"Using {store.backend_name}. Later starts need {BACKEND_ENV}={name} in the "
              "environment (also in a service's).", markup=False)
    return SecretPlace(store, store.backend_name)
