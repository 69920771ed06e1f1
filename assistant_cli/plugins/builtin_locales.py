"""The catalogs shipped in the package, registered under `assistant_cli.locales` exactly
as a locale plugin registers its own (so `plugins list` shows them)."""

from __future__ import annotations

from assistant_cli.i18n import LOCALE_DIR
from assistant_cli.plugins.api import Locale

CATALOGS = Locale(LOCALE_DIR)
