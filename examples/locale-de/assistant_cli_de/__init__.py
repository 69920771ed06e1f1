"""German catalogs for assistant-cli's chat replies (locales/de/LC_MESSAGES/)."""

from __future__ import annotations

from pathlib import Path

from assistant_cli.plugin import API_VERSION, Locale

CATALOGS = Locale(Path(__file__).parent / "locales", api_version=API_VERSION)
