"""python-telegram-bot, loaded without Telegram Passport's cryptography.

When `cryptography` is installed, PTB imports it as it loads, only for Telegram Passport
(decrypting passport data with the bot's private key), which the gateway never uses.
cryptography's Rust extension and modules cost a serve about 7 MB of memory, so when
nothing has loaded cryptography yet, `telegram` is imported inside functions (`load`) with
cryptography hidden from the importing thread: PTB then notes that Passport decryption is
unavailable, as it does when cryptography is not installed. Afterwards cryptography imports
as usual (the encrypted-file keyring needs it).

`channels/telegram.py` imports this module before anything from `telegram`.
"""

from __future__ import annotations

import importlib.abc
import sys
import threading
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

HIDDEN = "cryptography"


class _Hide(importlib.abc.MetaPathFinder):
    """Refuse `cryptography` to one thread while it imports PTB."""

    def __init__(self) -> None:
        self.thread = threading.get_ident()

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if threading.get_ident() == self.thread and fullname.split(".")[0] == HIDDEN:
            raise ModuleNotFoundError(f"{fullname} is not loaded for python-telegram-bot "
                                      "(Telegram Passport is not used)", name=fullname)
        return None


def load() -> ModuleType:
    """Import `telegram` (once), without cryptography unless something already loaded it."""
    if "telegram" in sys.modules or HIDDEN in sys.modules:
        import telegram

        return telegram
    hide = _Hide()
    sys.meta_path.insert(0, hide)
    try:
        import telegram
    except ImportError:
        # A release of PTB that needs cryptography after all: forget the half-loaded
        # package and load it the usual way (memory matters less than a working channel).
        for name in [m for m in sys.modules if m == "telegram" or m.startswith("telegram.")]:
            del sys.modules[name]
    else:
        return telegram
    finally:
        sys.meta_path.remove(hide)
    import telegram

    return telegram


load()
