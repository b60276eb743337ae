"""Text of imported questions as the bank's Markdown: sanitised, never raw HTML.

Formats write text as HTML (Moodle's default, QTI's XHTML, Canvas), as Moodle's auto-format
(plain text whose line breaks count, HTML allowed), as plain text or as Markdown. Everything goes
through one path: to HTML, sanitised by nh3 (an allowlist: scripts and styles are dropped with
their content, attributes other than a link's address are dropped), then to Markdown by
markdownify, with anything left that looks like a tag escaped. Math written for MathJax
(`\\( \\)`, `\\[ \\]`, `$$ $$`) becomes the bank's `$…$` and `$$…$$`. An image, a video or
another embedded object is refused with its name: holdout cannot show the file, and a question
that refers to a picture nobody sees is broken. Markdown with no HTML in it is kept as written.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import nh3
from markdown_it import MarkdownIt
from markdownify import markdownify

from question_bank.interop.base import Refusal

HTML = "html"
AUTO = "moodle_auto_format"
PLAIN = "plain_text"
MARKDOWN = "markdown"
FORMATS = (HTML, AUTO, PLAIN, MARKDOWN)

# What a question may be written with; other tags are unwrapped (their text is kept).
ALLOWED_TAGS = {
    "a", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em", "h1", "h2", "h3",
    "h4", "h5", "h6", "hr", "i", "kbd", "li", "ol", "p", "pre", "s", "span", "strong", "sub",
    "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "tt", "u", "ul",
}  # fmt: skip
DROPPED_WITH_CONTENT = {"script", "style", "noscript", "template", "head", "title"}
# Content holdout cannot show: the question is refused rather than shown without it.
MEDIA = {
    "img": "an image",
    "svg": "an SVG image",
    "picture": "an image",
    "canvas": "a drawing",
    "video": "a video",
    "audio": "an audio clip",
    "iframe": "an embedded page",
    "object": "an embedded object",
    "embed": "an embedded object",
    "applet": "an applet",
    "math": "MathML",
}
MAX_TEXT = 200_000

_MATH = re.compile(r"\\\((?P<i>.+?)\\\)|\\\[(?P<d>.+?)\\\]|\$\$(?P<dd>.+?)\$\$", re.DOTALL)
_PLACEHOLDER = "HOLDOUTMATH{}Z"
_TAG_LIKE = re.compile(r"(?<!\\)<(?=[A-Za-z/!?])")
_md_with_html = MarkdownIt("commonmark", {"html": True})


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs).get("alt") or ""))


def _media_in(markup: str, where: str) -> None:
    parser = _Tags()
    parser.feed(markup)
    parser.close()
    for tag, _ in parser.tags:
        if tag in MEDIA:
            raise Refusal(f"{where} shows {MEDIA[tag]} (<{tag}>), which holdout cannot import")


_MEDIA_TAG = re.compile(rf"<({'|'.join(MEDIA)})\b[^>]*>", re.IGNORECASE)


def _media_as_words(markup: str) -> str:
    """Media in feedback (shown after answering, never needed to answer): their alt text."""

    def words(match: re.Match[str]) -> str:
        parser = _Tags()
        parser.feed(match.group(0))
        alt = parser.tags[0][1] if parser.tags else ""
        return f" ({html.escape(alt)}) " if alt else " "

    return _MEDIA_TAG.sub(words, markup)


def _plain_math(markup: str) -> str:
    """The TeX of a math span, as it was written: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]*>", "", markup)).replace("\xa0", " ").strip()


def html_to_markdown(markup: str, where: str = "the text", feedback: bool = False) -> str:
    """`feedback`: media become their alt text instead of refusing the question."""
    if len(markup) > MAX_TEXT:
        raise Refusal(f"{where} is longer than {MAX_TEXT} characters")
    if feedback:
        markup = _media_as_words(markup)
    _media_in(markup, where)
    spans: list[str] = []

    def protect(match: re.Match[str]) -> str:
        inline = match.group("i")
        tex = _plain_math(inline if inline is not None else match.group("d") or match.group("dd"))
        spans.append(f"${tex}$" if inline is not None else f"$${tex}$$")
        return _PLACEHOLDER.format(len(spans) - 1)

    protected = _MATH.sub(protect, markup)
    clean = nh3.clean(
        protected,
        tags=ALLOWED_TAGS,
        clean_content_tags=DROPPED_WITH_CONTENT,
        attributes={"a": {"href"}},
        url_schemes={"http", "https", "mailto"},
        url_relative="deny",
        link_rel=None,
    )
    text = markdownify(
        clean,
        heading_style="ATX",
        bullets="-",
        escape_misc=True,
        newline_style="backslash",
        strip_document="strip",
    )
    text = text.replace("\xa0", " ").replace("$", "\\$")
    text = re.sub(r"\\&(?![A-Za-z0-9#]+;)", "&", text)  # `&` only before a name
    text = _TAG_LIKE.sub(r"\\<", text)
    for i, span in enumerate(spans):  # after the escapes: the TeX stays as it was written
        text = text.replace(_PLACEHOLDER.format(i), span)
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _has_html(markdown: str) -> bool:
    tokens = _md_with_html.parse(markdown)
    stack = list(tokens)
    while stack:
        token = stack.pop()
        if token.type in ("html_block", "html_inline"):
            return True
        stack.extend(token.children or [])
    return False


def _plain_to_html(text: str, breaks: bool) -> str:
    paragraphs = re.split(r"\n\s*\n", text.strip())
    joiner = "<br>\n" if breaks else "\n"
    return "".join(f"<p>{joiner.join(p.splitlines())}</p>" for p in paragraphs)


def to_markdown(
    text: str | None, fmt: str = HTML, where: str = "the text", feedback: bool = False
) -> str:
    """Text in one of FORMATS as the bank's Markdown (Refusal for what cannot be shown; in
    `feedback`, media are replaced by their alt text)."""
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    if len(text) > MAX_TEXT:
        raise Refusal(f"{where} is longer than {MAX_TEXT} characters")
    if fmt == MARKDOWN:
        if not _has_html(text):
            return _MATH.sub(
                lambda m: (
                    f"${m.group('i').strip()}$"
                    if m.group("i") is not None
                    else f"$${(m.group('d') or m.group('dd')).strip()}$$"
                ),
                text,
            )
        return html_to_markdown(_md_with_html.render(text), where, feedback)
    if fmt == PLAIN:
        escaped = _plain_to_html(html.escape(text, quote=False), True)
        return html_to_markdown(escaped, where, feedback)
    if fmt == AUTO:
        # Moodle's text_to_html: HTML is kept, blank lines make paragraphs, newlines breaks.
        return html_to_markdown(_plain_to_html(text, True), where, feedback)
    return html_to_markdown(text, where, feedback)


def to_plain(text: str | None, fmt: str = HTML) -> str:
    """A short answer or a title as plain text (tags dropped, entities decoded)."""
    text = text or ""
    if fmt in (HTML, AUTO) or re.search(r"<[A-Za-z/]", text):
        text = nh3.clean(text, tags=set(), clean_content_tags=DROPPED_WITH_CONTENT)
        text = html.unescape(text)
    return " ".join(text.replace("\xa0", " ").split())
