"""Markdown → Telegram HTML rendering and splitting of long answers into messages."""

from __future__ import annotations

import pytest

from assistant_cli.channels.telegram_format import (
    MAX_MESSAGE,
    markdown_to_html,
    render_chunks,
    split_text,
)
from tests.fakes.telegram_server import parse_html


@pytest.mark.parametrize(
    ("markdown", "html"),
    [
        ("a < b & c > d", "a &lt; b &amp; c &gt; d"),
        ("**bold** and __also bold__", "<b>bold</b> and <b>also bold</b>"),
        ("*italic* and _italic_", "<i>italic</i> and <i>italic</i>"),
        ("`x < 1 && y`", "<code>x &lt; 1 &amp;&amp; y</code>"),
        ("~~gone~~", "<s>gone</s>"),
        ("**bold with *italic* inside**", "<b>bold with <i>italic</i> inside</b>"),
        ("[docs](https://x.test/?a=1&b=2)", '<a href="https://x.test/?a=1&amp;b=2">docs</a>'),
        ("[**b**](https://x.test)", '<a href="https://x.test"><b>b</b></a>'),
        ("## Heading *x*", "<b>Heading <i>x</i></b>"),
        ("- one\n* two\n+ three\n1. four", "• one\n• two\n• three\n1. four"),
        ("> quoted\n> more", "<blockquote>quoted\nmore</blockquote>"),
    ],
)
def test_markdown_renders_to_telegram_html(markdown: str, html: str) -> None:
    assert markdown_to_html(markdown) == html


def test_fenced_code_keeps_its_language_and_escapes_its_body() -> None:
    html = markdown_to_html("Look:\n```python\nif a < b:\n    print('**not bold**')\n```\nend")
    assert html == ('Look:\n<pre><code class="language-python">if a &lt; b:\n'
                    "    print('**not bold**')</code></pre>\nend")
    assert markdown_to_html("```\nplain\n```") == "<pre>plain</pre>"


def test_text_that_only_looks_like_markup_stays_literal() -> None:
    assert markdown_to_html("snake_case_name and 2 * 3 * 4") == "snake_case_name and 2 * 3 * 4"
    assert markdown_to_html("**unclosed bold") == "**unclosed bold"
    assert markdown_to_html("[x](javascript:alert(1))") == "[x](javascript:alert(1))"
    assert markdown_to_html("[x](ftp://host/f)") == "x (ftp://host/f)"


@pytest.mark.parametrize(
    "markdown",
    [
        "**a *b** c*", "`unclosed", "```\nnever closed", "_a **b_ c**", "[a](b", "<b>raw</b>",
        "&amp; &lt; &#1;", "> `x` **y", "# ", "*", "**", "~~~~", "[](https://x.test)",
        "***bold italic***", "a_b_c _d_ e__f__g",
    ],
)
def test_rendered_html_is_always_well_formed(markdown: str) -> None:
    parse_html(markdown_to_html(markdown))  # raises on malformed HTML


def test_a_10000_character_answer_is_sent_as_three_chunks_cut_between_paragraphs() -> None:
    paragraphs = [f"Paragraph {i}: " + "lorem ipsum dolor sit amet " * 18 for i in range(20)]
    answer = "\n\n".join(p.strip() for p in paragraphs)
    assert 9_500 <= len(answer) <= 10_500
    chunks = render_chunks(answer)
    assert len(chunks) == 3
    for chunk in chunks:
        assert len(chunk.html) <= MAX_MESSAGE
        for part in chunk.plain.split("\n\n"):
            assert part in (p.strip() for p in paragraphs)
    assert "\n\n".join(c.plain for c in chunks) == answer


def test_splitting_falls_back_to_lines_then_words_then_a_hard_cut() -> None:
    lines = "\n".join(f"line {i} " + "x" * 50 for i in range(200))
    assert all(len(p) <= 1000 and not p.startswith("\n") for p in split_text(lines, 1000))
    assert all(p.startswith("line ") for p in split_text(lines, 1000))
    words = " ".join(["word"] * 1000)
    assert all(p.startswith("word") and p.endswith("word") for p in split_text(words, 500))
    blob = "y" * 2500
    assert split_text(blob, 1000) == ["y" * 1000, "y" * 1000, "y" * 500]


def test_heavily_escaped_text_still_fits_every_chunk() -> None:
    chunks = render_chunks("a & b < c > " * 1500)
    assert len(chunks) > 1
    assert all(len(c.html) <= MAX_MESSAGE and len(c.plain) <= MAX_MESSAGE for c in chunks)
    assert "".join(parse_html(c.html)[0] for c in chunks).count("&") == 1500


def test_a_long_code_block_is_closed_and_reopened_across_chunks() -> None:
    code = "\n".join(f"value_{i} = {i} < {i + 1}" for i in range(600))
    chunks = render_chunks(f"Here:\n```python\n{code}\n```\nDone.")
    assert len(chunks) >= 3
    for chunk in chunks:
        assert len(chunk.html) <= MAX_MESSAGE
        _, entities = parse_html(chunk.html)
        assert any(e["type"] == "pre" and e.get("language") == "python" for e in entities)
    visible = "\n".join(parse_html(c.html)[0] for c in chunks)
    assert all(f"value_{i} = {i} < {i + 1}" in visible for i in range(600))
    assert visible.endswith("Done.")


def test_blank_answers_give_no_chunks() -> None:
    assert render_chunks("") == []
    assert render_chunks("\n\n  \n") == []
