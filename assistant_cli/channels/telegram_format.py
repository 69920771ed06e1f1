"""Model Markdown → Telegram HTML, and splitting long answers into messages Telegram accepts."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

MAX_MESSAGE = 4096

_FENCE_RE = re.compile(r"^\s{0,3}(`{3,}|~{3,})\s*([\w+#.-]{0,24})")
_HEADING_RE = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_BULLET_RE = re.compile(r"^(\s*)[-*+]\s+(?=\S)")
_QUOTE_RE = re.compile(r"^\s{0,3}>\s?(.*)$")
_INLINE_RE = re.compile(
    r"(?P<tick>`+)(?P<code>.+?)(?P=tick)"
    r"|\[(?P<label>[^\]\n]+)\]\((?P<url>[^()\s]+)\)"
    r"|\*\*(?P<b1>(?=\S).+?(?<=\S))\*\*"
    r"|(?<!\w)__(?P<b2>(?=\S).+?(?<=\S))__(?!\w)"
    r"|~~(?P<s>(?=\S).+?(?<=\S))~~"
    r"|(?<![\w*])\*(?P<i1>(?=[^\s*]).*?(?<=[^\s*]))\*(?![\w*])"
    # `_` italics need word boundaries so snake_case names stay as they are.
    r"|(?<![\w_])_(?P<i2>(?=[^\s_]).*?(?<=[^\s_]))_(?![\w_])"
)
_SAFE_SCHEMES = ("http://", "https://", "tg://", "mailto:")


@dataclass(frozen=True)
class Chunk:
    """One Telegram message: its HTML, and the source text to send if the HTML is refused."""

    html: str
    plain: str


def escape(text: str) -> str:
    """Escape the three characters Telegram's HTML parser requires escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def inline_to_html(text: str) -> str:
    """Render inline Markdown (code, links, bold, italics, strikethrough) on one line."""
    out: list[str] = []
    pos = 0
    for match in _INLINE_RE.finditer(text):
        out.append(escape(text[pos:match.start()]))
        pos = match.end()
        group = match.lastgroup
        if match.group("code") is not None:
            out.append(f"<code>{escape(match.group('code'))}</code>")
        elif match.group("label") is not None:
            url, label = match.group("url"), inline_to_html(match.group("label"))
            if url.lower().startswith(_SAFE_SCHEMES):
                out.append(f'<a href="{html.escape(url, quote=True)}">{label}</a>')
            else:  # Telegram refuses some schemes outright; show the address instead
                out.append(f"{label} ({escape(url)})")
        elif group in ("b1", "b2"):
            out.append(f"<b>{inline_to_html(match.group(group))}</b>")
        elif group == "s":
            out.append(f"<s>{inline_to_html(match.group('s'))}</s>")
        else:
            out.append(f"<i>{inline_to_html(match.group(group or 'i1'))}</i>")
    out.append(escape(text[pos:]))
    return "".join(out)


def markdown_to_html(text: str) -> str:
    """Render a model's Markdown as Telegram HTML; always well-formed, whatever the input."""
    out: list[str] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = _FENCE_RE.match(line)
        if fence:
            marker, language = fence.group(1), fence.group(2)
            body: list[str] = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(marker):
                body.append(lines[i])
                i += 1
            i += 1  # the closing fence (an unclosed block runs to the end)
            code = escape("\n".join(body))
            if language:
                out.append(f'<pre><code class="language-{escape(language)}">{code}</code></pre>')
            else:
                out.append(f"<pre>{code}</pre>")
            continue
        if _QUOTE_RE.match(line):
            quoted: list[str] = []
            while i < len(lines) and (m := _QUOTE_RE.match(lines[i])):
                quoted.append(inline_to_html(m.group(1)))
                i += 1
            out.append("<blockquote>" + "\n".join(quoted) + "</blockquote>")
            continue
        heading = _HEADING_RE.match(line)
        if heading:
            out.append(f"<b>{inline_to_html(heading.group(1))}</b>" if heading.group(1) else "")
        else:
            out.append(inline_to_html(_BULLET_RE.sub(r"\1• ", line)))
        i += 1
    return "\n".join(out)


def split_text(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Cut text into pieces of at most `limit` characters, preferring paragraph breaks, then
    line breaks, then spaces; only a single unbroken run longer than `limit` is cut hard."""
    pieces: list[str] = []
    rest = text.strip("\n")
    while len(rest) > limit:
        window = rest[: limit + 1]
        # A break too near the start would leave a uselessly small message.
        floor = limit // 3
        for sep in ("\n\n", "\n", " "):
            cut = window.rfind(sep)
            if cut >= floor:
                head, rest = rest[:cut], rest[cut + len(sep):]
                break
        else:
            head, rest = rest[:limit], rest[limit:]
        head = head.rstrip()
        if head:
            pieces.append(head)
        rest = rest.lstrip("\n")
    if rest.strip():
        pieces.append(rest)
    return pieces


def _balance_fences(pieces: list[str]) -> list[str]:
    """Close a code block at the end of a piece and reopen it in the next one."""
    balanced: list[str] = []
    open_fence: tuple[str, str] | None = None
    for piece in pieces:
        reopen = f"{open_fence[0]}{open_fence[1]}\n" if open_fence is not None else ""
        for line in piece.split("\n"):
            fence = _FENCE_RE.match(line)
            if fence is None:
                continue
            if open_fence is None:
                open_fence = (fence.group(1), fence.group(2))
            elif line.strip().startswith(open_fence[0]):
                open_fence = None
        close = f"\n{open_fence[0]}" if open_fence is not None else ""
        balanced.append(f"{reopen}{piece}{close}")
    return balanced


def render_chunks(text: str, limit: int = MAX_MESSAGE) -> list[Chunk]:
    """Split Markdown and render each piece, so that both the HTML and the plain fallback of
    every chunk fit in `limit` characters and no tag is ever cut in half."""
    if limit < 512:
        raise ValueError("limit must leave room for markup (at least 512 characters)")
    todo = _balance_fences(split_text(text, limit - 16))
    done: list[Chunk] = []
    while todo:
        piece = todo.pop(0)
        rendered = markdown_to_html(piece)
        if len(rendered) <= limit and len(piece) <= limit:
            if rendered.strip():
                done.append(Chunk(rendered, piece))
            continue
        # Markup and escapes made it too long: cut the source smaller in proportion.
        size = max(len(rendered), len(piece))
        budget = max(limit // 8, min(len(piece) - 1, len(piece) * limit // size - 32))
        todo[:0] = _balance_fences(split_text(piece, budget))
    return done
