"""Imported text becomes the bank's Markdown: sanitised, never raw HTML, math kept."""

from __future__ import annotations

import pytest
from markdown_it import MarkdownIt

from question_bank.interop.base import Refusal
from question_bank.interop.text import AUTO, HTML, MARKDOWN, PLAIN, to_markdown, to_plain

VECTORS = [
    '<script>alert("x")</script>Hello',
    '<p onmouseover="alert(1)">Hello</p>',
    '<a href="javascript:alert(1)">Hello</a>',
    "<style>body{display:none}</style>Hello",
    "&lt;script&gt;alert(1)&lt;/script&gt;Hello",
    "<svg/onload=alert(1)>Hello",
    '<iframe src="https://example.org"></iframe>Hello',
    "<b>Hello</b><!-- <script>alert(1)</script> -->",
]
RAW_HTML = MarkdownIt("commonmark", {"html": True})


def html_tokens(markdown: str) -> list[str]:
    tokens = list(RAW_HTML.parse(markdown))
    found = []
    while tokens:
        token = tokens.pop()
        if token.type in ("html_inline", "html_block"):
            found.append(token.content)
        tokens.extend(token.children or [])
    return found


@pytest.mark.parametrize("markup", VECTORS)
def test_no_raw_html_survives(markup: str) -> None:
    try:
        markdown = to_markdown(markup, HTML)
    except Refusal as exc:
        assert "cannot import" in str(exc)  # media: the question is refused instead
        return
    assert html_tokens(markdown) == []
    assert "alert(1)" not in markdown or "\\<" in markdown
    assert "javascript:" not in markdown and "onmouseover" not in markdown


def test_markdown_with_html_goes_through_the_sanitiser_and_without_is_kept() -> None:
    kept = "A *list*:\n\n- one\n- two $x^2$\n"
    assert to_markdown(kept, MARKDOWN) == kept
    assert to_markdown("Some <b>bold</b><script>x()</script>", MARKDOWN) == "Some **bold**"


def test_math_is_kept_as_written() -> None:
    html = "<p>Here \\(a_1 &lt; b\\) and \\[\\sum_i x_i\\] and $$y$$.</p>"
    assert to_markdown(html, HTML) == "Here $a_1 < b$ and $$\\sum_i x_i$$ and $$y$$."
    assert to_markdown("costs $5", PLAIN) == "costs \\$5"


def test_line_breaks_of_auto_format_and_plain_text() -> None:
    assert to_markdown("one\ntwo\n\nthree", AUTO) == "one\\\ntwo\n\nthree"
    assert to_markdown("a <b>", PLAIN) == "a \\<b\\>"


def test_media_refuse_a_prompt_but_become_words_in_feedback() -> None:
    with pytest.raises(Refusal, match="image"):
        to_markdown('<img src="x.png" alt="a graph">', HTML, "the prompt")
    assert (
        to_markdown('<img src="x.png" alt="a graph"> see', HTML, feedback=True) == "(a graph) see"
    )


def test_plain_answers() -> None:
    assert to_plain("<p>Paris&nbsp;</p>") == "Paris"
    assert to_plain("a  b", PLAIN) == "a b"
