"""Reading untrusted XML: defusedxml (no entity declarations, no external references, nothing
fetched), a size cap, and helpers that ignore namespaces where a format's files disagree."""

from __future__ import annotations

import html
from collections.abc import Iterator
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from question_bank.interop.base import FileError

MAX_XML_BYTES = 16 * 1024 * 1024
# Tags written without a closing tag in XHTML (serialised as <br>, not <br></br>).
_VOID = {"br", "hr", "img", "col", "wbr", "input", "source", "area", "embed", "param"}


def parse_xml(data: bytes, what: str = "the file") -> Element:
    if len(data) > MAX_XML_BYTES:
        raise FileError(f"{what} is larger than {MAX_XML_BYTES // (1024 * 1024)} MiB")
    try:
        return fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise FileError(f"{what} declares entities or external references: {exc}") from None
    except ParseError as exc:
        raise FileError(f"{what} is not well-formed XML: {exc}") from None
    except (ValueError, LookupError, RecursionError, MemoryError) as exc:
        raise FileError(f"{what} cannot be parsed: {exc}") from None


def local(tag: object) -> str:
    """An element's name without its namespace (`{ns}item` → `item`); '' for comments."""
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def namespace(tag: object) -> str:
    if isinstance(tag, str) and tag.startswith("{"):
        return tag[1:].split("}", 1)[0]
    return ""


def children(element: Element, name: str) -> list[Element]:
    return [c for c in element if local(c.tag) == name]


def child(element: Element | None, *path: str) -> Element | None:
    """The first element along a path of local names, or None."""
    for name in path:
        if element is None:
            return None
        element = next((c for c in element if local(c.tag) == name), None)
    return element


def descendants(element: Element, name: str) -> Iterator[Element]:
    return (e for e in element.iter() if local(e.tag) == name)


def text(element: Element | None, *path: str) -> str:
    found = child(element, *path) if path else element
    if found is None:
        return ""
    return "".join(found.itertext())


def inner_html(element: Element, skip: set[str] | None = None) -> str:
    """The element's content as HTML, namespaces dropped (QTI writes XHTML in its namespace);
    elements named in `skip` are left out with their content."""
    parts = [html.escape(element.text or "", quote=False)]
    for node in element:
        name = local(node.tag)
        if name and not (skip and name in skip):
            parts.append(outer_html(node, skip))
        parts.append(html.escape(node.tail or "", quote=False))
    return "".join(parts)


def outer_html(element: Element, skip: set[str] | None = None) -> str:
    name = local(element.tag)
    attrs = "".join(
        f' {local(k)}="{html.escape(v)}"' for k, v in element.attrib.items() if local(k)
    )
    if name in _VOID and not len(element) and not element.text:
        return f"<{name}{attrs}>"
    return f"<{name}{attrs}>{inner_html(element, skip)}</{name}>"
