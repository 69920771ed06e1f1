"""The German locale example: a complete catalog, used for German senders."""

from __future__ import annotations

from assistant_cli_de import CATALOGS
from babel.messages.pofile import read_po

from assistant_cli.testing import catalog_template, translations

PAIRED = "You're paired! Send me a message and I'll answer."


def _ids(path: object) -> set[str]:
    with open(str(path), "rb") as f:
        return {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(f) if m.id}


def test_the_catalog_translates_every_message_assistant_cli_sends() -> None:
    assert CATALOGS.languages() == ["de"]
    po = CATALOGS.directory / "de" / "LC_MESSAGES" / "assistant_cli.po"
    missing = _ids(catalog_template()) - _ids(po)
    assert missing == set(), "merge the new messages: pybabel update, then translate"
    with open(po, "rb") as f:
        assert all(m.string and not m.fuzzy for m in read_po(f) if m.id)


def test_german_texts_and_plurals() -> None:
    german = translations(CATALOGS, "de")
    assert german.gettext(PAIRED) == "Gekoppelt! Schreib mir, und ich antworte."
    waiting = ("{n} message waiting", "{n} messages waiting")
    assert german.ngettext(*waiting, 1).format(n=1) == "1 Nachricht wartet"
    assert german.ngettext(*waiting, 2).format(n=2) == "2 Nachrichten warten"
    assert german.gettext("not a message of ours") == "not a message of ours"  # English


def test_tool_confirmation_in_german_fits_whatsapp_buttons() -> None:
    german = translations(CATALOGS, "de")
    prompt = "The assistant wants to use {tool} with:\n{arguments}\nAllow it?"
    assert german.gettext(prompt).format(tool="dice.roll", arguments="{}") == (
        "Der Assistent möchte dice.roll verwenden mit:\n{}\nErlauben?")
    labels = [german.gettext(s) for s in ("Allow once", "Allow in this chat", "Deny")]
    assert labels == ["Einmal erlauben", "Für diesen Chat", "Ablehnen"]
    assert all(len(label) <= 20 for label in labels)  # WhatsApp's button title limit
