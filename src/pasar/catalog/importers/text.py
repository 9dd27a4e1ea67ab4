"""Imported descriptions arrive as HTML; Pasar keeps and shows them as plain text."""

from __future__ import annotations

import re
from html.parser import HTMLParser

# "<" followed by what a browser would take for a tag: escaped markup such as
# "&lt;script&gt;" decodes to it, so it is broken up ("< script>") to keep the
# text inert even where a consumer renders descriptions as HTML.
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")

_BLOCKS = {"p", "br", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr"}


class _TextOnly(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    if not html:
        return ""
    parser = _TextOnly()
    parser.feed(html)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    text = "\n".join(line for line in lines if line).strip()
    return _TAG_START.sub("< ", text)[:20_000]
