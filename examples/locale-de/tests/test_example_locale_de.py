"""The German locale example: a complete catalog that assistant-cli picks up."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from assistant_cli_de import CATALOGS
from babel.messages.pofile import read_po

from assistant_cli import i18n
from assistant_cli.i18n import messages as texts


@pytest.fixture(autouse=True)
def german() -> Iterator[None]:
    i18n.add_directory(CATALOGS.directory)
    yield
    i18n.reset_directories()


def test_the_catalog_is_complete_and_german_replies_use_it() -> None:
    assert CATALOGS.languages() == ["de"]
    with open(CATALOGS.directory / "de" / "LC_MESSAGES" / "assistant_cli.po", "rb") as f:
        catalog = read_po(f)
    ours = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}
    with open(i18n.LOCALE_DIR / "assistant_cli.pot", "rb") as f:
        wanted = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(f) if m.id}
    assert wanted - ours == set(), "merge the new messages: pybabel update, then translate"
    assert all(m.string and not m.fuzzy for m in catalog if m.id)
    assert i18n.normalize("de-AT") == "de"
    german = i18n.translator("de")
    assert texts.paired(german) == "Gekoppelt! Schreib mir, und ich antworte."
    assert texts.status(german, "1", "x", 2).endswith("2 Nachrichten warten")
    assert texts.status(german, "1", "x", 1).endswith("1 Nachricht wartet")
