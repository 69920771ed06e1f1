"""Translations of what chat users read: catalogs complete, every text marked, per-sender
language (platform hint, /lang, config), plurals, locale plugins, English fallback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from assistant_cli import i18n
from assistant_cli.engine.language import SenderLanguages
from assistant_cli.i18n import messages as texts
from assistant_cli.i18n import normalize, translator
from assistant_cli.store.db import Database
from assistant_cli.store.kv import language_store
from assistant_cli.testing import fake_message

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ["en", "zh_CN"]


@pytest.fixture(autouse=True)
def no_plugin_dirs() -> Iterator[None]:
    i18n.reset_directories()
    yield
    i18n.reset_directories()


def catalog(lang: str, base: Path = i18n.LOCALE_DIR) -> Any:
    with open(base / lang / "LC_MESSAGES" / "assistant_cli.po", "rb") as f:
        return read_po(f, locale=lang)


@pytest.mark.parametrize("lang", SHIPPED)
def test_shipped_catalogs_have_no_untranslated_or_fuzzy_entry_and_mo_matches_po(
        lang: str) -> None:
    cat = catalog(lang)
    bad = [m.id for m in cat if m.id and (m.fuzzy or not all(
        m.string if isinstance(m.string, tuple) else (m.string,)))]
    assert bad == []
    with open(i18n.LOCALE_DIR / lang / "LC_MESSAGES" / "assistant_cli.mo", "rb") as f:
        compiled = read_mo(f)
    assert _entries(compiled) == _entries(cat), "run scripts/i18n.sh to compile"


def _entries(cat: Any) -> dict[object, object]:
    def flat(value: object) -> object:
        return tuple(value) if isinstance(value, (list, tuple)) else value

    return {flat(m.id): flat(m.string) for m in cat if m.id}


def test_every_marked_text_in_the_source_is_in_the_catalogs() -> None:
    found = {msgid if isinstance(msgid, str) else msgid[0]
             for _, _, msgid, _, _ in extract_from_dir(str(ROOT / "assistant_cli"))}
    assert len(found) >= 20
    with open(i18n.LOCALE_DIR / "assistant_cli.pot", "rb") as f:
        template = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(f) if m.id}
    assert template == found, "the .pot that locale plugins start from is stale: scripts/i18n.sh"
    for lang in SHIPPED:
        ids = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog(lang) if m.id}
        assert found - ids == set(), f"{lang}: run scripts/i18n.sh and translate"


def test_platform_language_codes_map_to_catalogs() -> None:
    assert [normalize(c) for c in ("zh-hans", "zh", "zh-CN", "en-US", "EN", "fr", "", None)] == [
        "zh_CN", "zh_CN", "zh_CN", "en", "en", None, None, None]


@pytest.mark.parametrize("lang", SHIPPED)
def test_confirmation_buttons_fit_whatsapp_and_keep_the_console_letters(lang: str) -> None:
    t = translator(lang)
    labels = [texts.decision_label(t, d) for d in texts.DECISION_LABELS]
    assert all(0 < len(label) <= 20 for label in labels), labels  # WhatsApp's title limit
    assert len(set(labels)) == len(labels)
    choices = texts.tool_console_choices(t)
    assert all(f"[{key}]" in choices for key in "ocad")  # console.CHOICES reads these


def test_plural_forms_follow_each_language() -> None:
    en, zh = translator("en"), translator("zh_CN")
    assert texts.reset_done(en, 1) == "Done — I forgot this conversation (1 exchange)."
    assert texts.reset_done(en, 3) == "Done — I forgot this conversation (3 exchanges)."
    assert texts.reset_done(zh, 1) == "好了——我忘掉了这段对话（1 轮问答）。"
    assert texts.reset_done(zh, 3) == "好了——我忘掉了这段对话（3 轮问答）。"
    assert texts.capped(en, 1_000).startswith(
        "Sorry — you've used today's allowance of 1,000 tokens")


def test_language_is_the_choice_else_the_platform_hint_else_config(tmp_path: Path) -> None:
    langs = SenderLanguages(language_store(Database(tmp_path / "s.db")), default="zh-CN")
    assert langs.for_message(fake_message("hi")) == "zh_CN"  # config locale
    assert langs.for_message(fake_message("hi", language_code="en-GB")) == "en"
    langs.choose("test", "1001", "zh_CN")
    assert langs.for_message(fake_message("hi", language_code="en-GB")) == "zh_CN"
    langs.remember_hint(fake_message("hi", sender="7", language_code="zh-hans"))
    assert langs.for_sender("test", "7") == "zh_CN"
    assert SenderLanguages(None, default="xx").for_message(fake_message("hi")) == "en"


def test_a_locale_plugin_adds_a_language_and_missing_messages_fall_back_to_english(
        tmp_path: Path) -> None:
    out = tmp_path / "de" / "LC_MESSAGES"
    out.mkdir(parents=True)
    from babel.messages.catalog import Catalog

    cat = Catalog(locale="de")
    cat.add("You're paired! Send me a message and I'll answer.",
            "Gekoppelt! Schreib mir, und ich antworte.")
    with open(out / "assistant_cli.mo", "wb") as f:
        write_mo(f, cat)
    assert normalize("de-AT") is None
    i18n.add_directory(tmp_path)
    assert normalize("de-AT") == "de" and "de" in i18n.available()
    assert texts.paired(translator("de")) == "Gekoppelt! Schreib mir, und ich antworte."
    assert texts.help_text(translator("de")).startswith("Send me a message")  # English
