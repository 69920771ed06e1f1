"""In-place config edits: comments, quoting and layout survive; unsafe edits are refused."""

from __future__ import annotations

import pytest
import yaml

from assistant_cli.config.edit import ConfigEditor
from assistant_cli.errors import ConfigError

BLOCK = {"kind": "openai", "base_url": "http://127.0.0.1:1/v1", "model": "m",
         "auth": {"type": "oauth", "scopes": ["a", "b"]}}


def edited(text: str, *ops: tuple[str, tuple[str, ...], object]) -> str:
    editor = ConfigEditor(text)
    for op, path, value in ops:
        if op == "set":
            editor.set(path, value)
        else:
            assert editor.remove(path)
    return editor.text


def test_new_provider_goes_after_the_last_one_and_before_the_next_sections_comment() -> None:
    text = ("providers:\n  a:\n    model: m  # mine\n    # temperature: 0.2\n\n"
            "# --- who answers ---\nassistant:\n  provider: a\n")
    out = edited(text, ("set", ("providers", "b"), BLOCK))
    assert out.startswith("providers:\n  a:\n    model: m  # mine\n    # temperature: 0.2\n"
                          "  b:\n    kind: openai\n")
    assert "    auth:\n      type: oauth\n      scopes: [a, b]\n" in out
    assert out.endswith("\n# --- who answers ---\nassistant:\n  provider: a\n")


def test_removing_a_provider_takes_its_own_comments_and_leaves_its_neighbours_alone() -> None:
    text = ("providers:\n  # first\n  a: {model: m}\n  # about b\n  b:\n    model: n\n"
            "    # b's commented-out option\n  # about c\n  c:\n    model: o\n")
    out = edited(text, ("remove", ("providers", "b"), None))
    assert out == "providers:\n  # first\n  a: {model: m}\n  # about c\n  c:\n    model: o\n"


def test_removing_the_last_provider_leaves_an_empty_mapping() -> None:
    out = edited("providers:\n  a:\n    model: m\nassistant: {}\n",
                 ("remove", ("providers", "a"), None))
    assert yaml.safe_load(out) == {"providers": {}, "assistant": {}}


def test_scalar_replacement_keeps_quotes_elsewhere_and_the_inline_comment() -> None:
    text = 'assistant:\n  provider: "a"   # default\n  system_prompt: "Be: brief"\n'
    out = edited(text, ("set", ("assistant", "provider"), "b"))
    assert out == 'assistant:\n  provider: b     # default\n  system_prompt: "Be: brief"\n'


def test_missing_sections_are_created_with_the_files_indentation() -> None:
    text = "logging:\n    level: info\n"
    out = edited(text, ("set", ("assistant", "fallbacks"), ["x"]))
    assert out == "logging:\n    level: info\nassistant:\n    fallbacks: [x]\n"


def test_block_lists_stay_block_lists() -> None:
    text = "assistant:\n  fallbacks:\n    - a\n    - b\n  workers: 2\n"
    out = edited(text, ("set", ("assistant", "fallbacks"), ["b", "c"]))
    assert out == "assistant:\n  fallbacks:\n    - b\n    - c\n  workers: 2\n"


def test_an_edit_that_would_change_anything_else_is_refused_and_the_text_kept() -> None:
    # Removing the anchored block would break the alias that reuses it.
    text = "providers:\n  a: &base\n    model: m\n  b: *base\n"
    editor = ConfigEditor(text)
    with pytest.raises(ConfigError, match=r"cannot safely edit providers\.a"):
        editor.remove(("providers", "a"))
    assert editor.text == text


def test_invalid_yaml_is_not_edited() -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        ConfigEditor("providers: [\n").set(("assistant", "provider"), "a")


def test_an_alias_bomb_is_refused_before_editing() -> None:
    levels = ["a0: &a0 [x, x, x, x, x, x]"]
    levels += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 6)}]" for n in range(1, 7)]
    with pytest.raises(ConfigError, match="aliases"):
        ConfigEditor("\n".join(levels) + "\n").data()
