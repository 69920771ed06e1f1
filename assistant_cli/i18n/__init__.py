"""Gettext catalogs for what chat users read, and choosing one per sender's language.

Catalogs are compiled into the package (`locales/<lang>/LC_MESSAGES/assistant_cli.mo`);
locale plugins add directories of the same shape. A message missing from a catalog is
shown in English (the msgid), never an exception. CLI output is not translated.
"""

from __future__ import annotations

import gettext
import threading
from pathlib import Path
from typing import Protocol

DOMAIN = "assistant_cli"
LOCALE_DIR = Path(__file__).parent / "locales"
ENGLISH = "en"
# Platform language codes whose catalog name is not just the code with "-" → "_".
ALIASES = {"zh": "zh_CN", "zh_hans": "zh_CN", "zh_sg": "zh_CN", "zh_hant": "zh_TW",
           "zh_hk": "zh_TW", "zh_mo": "zh_TW"}

_extra_dirs: list[Path] = []
_cache: dict[str, gettext.NullTranslations] = {}
_available: list[str] = []  # filled on first use; normalize() runs on every message
_lock = threading.Lock()


class Translator(Protocol):
    """What message functions need: gettext and ngettext for one language."""

    def gettext(self, message: str, /) -> str: ...

    def ngettext(self, singular: str, plural: str, n: int, /) -> str: ...


def N_(message: str) -> str:
    """Mark a text for extraction where it is defined; it is translated where it is shown."""
    return message


def add_directory(directory: Path) -> None:
    """Add a locale plugin's catalog directory (searched before the built-in catalogs)."""
    with _lock:
        if directory not in _extra_dirs:
            _extra_dirs.insert(0, directory)
        _cache.clear()
        _available.clear()


def reset_directories() -> None:
    """Forget locale plugins' directories (tests)."""
    with _lock:
        _extra_dirs.clear()
        _cache.clear()
        _available.clear()


def available() -> list[str]:
    """Every language with a compiled catalog, built-in or from a locale plugin."""
    if not _available:
        found = {ENGLISH}
        for base in (*_extra_dirs, LOCALE_DIR):
            found.update(p.parent.parent.name for p in base.glob(f"*/LC_MESSAGES/{DOMAIN}.mo"))
        _available[:] = sorted(found)
    return list(_available)


def normalize(code: str | None) -> str | None:
    """The catalog for a platform's language code (`zh-hans` → zh_CN, `en-US` → en), or
    None when no catalog covers it."""
    if not code:
        return None
    key = code.strip().replace("-", "_").lower()
    key = ALIASES.get(key, key)
    by_lower = {name.lower(): name for name in available()}
    for candidate in (key, key.split("_")[0], ALIASES.get(key.split("_")[0], "")):
        if candidate and candidate.lower() in by_lower:
            return by_lower[candidate.lower()]
    return None


def translator(language: str) -> gettext.NullTranslations:
    """The catalog chain for `language`: plugin directories, then ours, then English."""
    cached = _cache.get(language)
    if cached is not None:
        return cached
    chain: gettext.NullTranslations = gettext.NullTranslations()  # English: the msgids
    with _lock:
        dirs = [LOCALE_DIR, *reversed(_extra_dirs)]  # the first plugin directory wins
    for base in dirs:
        found = gettext.translation(DOMAIN, base, languages=[language], fallback=True)
        if type(found) is not gettext.NullTranslations:
            found.add_fallback(chain)
            chain = found
    _cache[language] = chain
    return chain
