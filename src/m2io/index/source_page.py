"""A source document as a readable, sanitised HTML page: what a source link opens.

The page is rebuilt from the index's own chunks of the document (so it shows exactly the text
that answers quote, furniture already gone, for every input format alike) and written as HTML
from scratch: every piece of text is escaped, no markup of the source survives, there is no
script and no link other than the images', which are referenced by id through ``image_url``.
Each heading (a one-line paragraph that reads as one, :func:`~m2io.index.sections.is_heading`)
gets an id from :func:`section_anchor`, the fragment a source link carries, so the page opens
at the cited section. A PDF section (``file.pdf#page=N``) keeps its page in the link instead.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence

from m2io.index.sections import is_heading
from m2io.types import Chunk

_PARAGRAPH = re.compile(r"\n[ \t]*\n")


PAGE_STYLE = (
    "body{max-width:46em;margin:2em auto;font:16px/1.5 sans-serif;padding:0 1em}"
    "img{max-width:100%}figure{margin:1em 0}figcaption{color:#555;font-size:90%}"
)
"""The page's only style (a server's Content-Security-Policy can allow it by its hash)."""


def _id(anchor: str) -> str:
    return f' id="{html.escape(anchor)}"' if anchor else ""


def section_anchor(title: str) -> str:
    """The fragment id of a section heading: lower-case words joined by ``-``.

    Example:
        >>> section_anchor("1.3 Software Installation")
        '1-3-software-installation'
    """
    words = re.findall(r"\w+", title.lower())
    return "-".join(words)[:80] or "section"


def document_of(chunks: Sequence[Chunk]) -> tuple[str, list[tuple[int, str, str]]]:
    """The document's text rebuilt from its chunks (overlaps merged, in document order), and its
    images as ``(offset, image id, caption)``."""
    text = ""
    images: dict[tuple[int, str], str] = {}
    for chunk in sorted(chunks, key=lambda c: c.start):
        if chunk.start >= len(text):
            base = len(text) + (2 if text else 0)
            text += ("\n\n" if text else "") + chunk.text
        else:
            base = chunk.start
            text += chunk.text[len(text) - chunk.start :]
        for anchor in chunk.images:
            images.setdefault((base + anchor.offset, anchor.image.image_id), anchor.image.caption)
    # by offset; images at one offset keep the document's order (a stable sort, not by id)
    placed = [(off, image_id, cap) for (off, image_id), cap in images.items()]
    return text, sorted(placed, key=lambda item: item[0])


def render_source(
    title: str,
    chunks: Sequence[Chunk],
    image_url: Callable[[str], str | None],
    *,
    language: str = "",
    top_id: str = "",
) -> str:
    """The HTML page of one source document (see the module docstring); ``top_id`` is the
    fragment id of its title (a PDF section's ``page=N``, so a link to that page lands here)."""
    text, images = document_of(chunks)
    out = [
        "<!DOCTYPE html>",
        f'<html lang="{html.escape(language or "und")}"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{PAGE_STYLE}</style>",
        f"</head><body><h1{_id(top_id)}>{html.escape(title)}</h1>",
    ]
    used: set[str] = set()
    start, k = 0, 0
    for part in [*_PARAGRAPH.split(text)]:
        end = text.find(part, start) + len(part) if part else start
        line = part.strip()
        if line and "\n" not in line and is_heading(line):
            anchor = section_anchor(line)
            while anchor in used:
                anchor += "-"
            used.add(anchor)
            out.append(f'<h2 id="{html.escape(anchor)}">{html.escape(line)}</h2>')
        elif line:
            body = "<br>".join(html.escape(ln) for ln in line.split("\n"))
            out.append(f"<p>{body}</p>")
        while k < len(images) and images[k][0] <= end:
            _, image_id, caption = images[k]
            url = image_url(image_id)
            if url:
                cap = html.escape(caption)
                out.append(
                    f'<figure><img src="{html.escape(url)}" alt="{cap}">'
                    + (f"<figcaption>{cap}</figcaption>" if cap else "")
                    + "</figure>"
                )
            k += 1
        start = end
    out.append("</body></html>")
    return "\n".join(out)
