"""Markdown prompts as HTML: raw HTML in them is escaped; `$...$` and `$$...$$` become math
elements that the bundled KaTeX typesets in the browser (the TeX stays readable without it).
Headings move one level down, under the page's own h1, and a leading heading that repeats the
page's title is left out."""

from __future__ import annotations

from functools import lru_cache

from markdown_it import MarkdownIt
from markupsafe import Markup
from mdit_py_plugins.dollarmath import dollarmath_plugin

_md = (
    MarkdownIt("commonmark", {"html": False})
    .enable("table")
    .use(dollarmath_plugin, double_inline=True)
)


@lru_cache(maxsize=512)
def markdown(text: str, title: str | None = None) -> Markup:
    tokens = _md.parse(text or "")
    if (
        title is not None
        and len(tokens) >= 3
        and tokens[0].type == "heading_open"
        and tokens[1].content.strip().lower() == title.strip().lower()
    ):
        tokens = tokens[3:]
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(6, int(token.tag[1]) + 1)}"
    return Markup(_md.renderer.render(tokens, _md.options, {}))  # markdown-it escapes raw HTML
