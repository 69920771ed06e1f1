"""python-telegram-bot loads without cryptography (Telegram Passport is never used): ~6 MB."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from assistant_cli.channels.ptb import _Hide


def run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60)
    return done.stdout


def test_the_telegram_channel_loads_without_cryptography_and_it_still_imports_later() -> None:
    out = run(
        "import sys\n"
        "import assistant_cli.channels.telegram\n"
        "import telegram._bot\n"
        "print('before:', 'cryptography' in sys.modules, telegram._bot.CRYPTO_INSTALLED)\n"
        "from cryptography.hazmat.primitives.ciphers.aead import AESGCM\n"
        "print('after:', len(AESGCM.generate_key(bit_length=128)))\n"
        "print('hiders left:', sum(type(f).__name__ == '_Hide' for f in sys.meta_path))\n"
    )
    assert "before: False False" in out
    assert "after: 16" in out
    assert "hiders left: 0" in out


def test_when_cryptography_is_already_loaded_ptb_gets_it() -> None:
    out = run(
        "import cryptography.hazmat.backends\n"
        "import assistant_cli.channels.telegram\n"
        "import telegram._bot\n"
        "print('passport:', telegram._bot.CRYPTO_INSTALLED)\n"
    )
    assert "passport: True" in out


def test_only_the_importing_thread_is_refused() -> None:
    hide = _Hide()
    with pytest.raises(ModuleNotFoundError, match="Telegram Passport"):
        hide.find_spec("cryptography.hazmat", None)
    assert hide.find_spec("cryptographyx", None) is None
    assert hide.find_spec("telegram", None) is None
    other: list[object] = []
    thread = threading.Thread(target=lambda: other.append(hide.find_spec("cryptography", None)))
    thread.start()
    thread.join()
    assert other == [None]


def test_a_ptb_that_cannot_load_without_it_is_loaded_the_usual_way() -> None:
    """Stands in for a PTB release whose import needs cryptography: here the hidden module
    is httpx, which PTB always imports."""
    out = run(
        "import sys\n"
        "import assistant_cli.channels.ptb as ptb\n"
        "for name in [m for m in sys.modules if m.split('.')[0] in ('telegram', 'httpx')]:\n"
        "    del sys.modules[name]\n"
        "ptb.HIDDEN = 'httpx'\n"
        "telegram = ptb.load()\n"
        "print('bot:', telegram.Bot.__name__, 'httpx' in sys.modules)\n"
        "print('hiders left:', sum(type(f).__name__ == '_Hide' for f in sys.meta_path))\n"
    )
    assert "bot: Bot True" in out
    assert "hiders left: 0" in out
