"""Render a :class:`~m2io.types.MultimodalAnswer` as Markdown or as a self-contained HTML page.

Everything in an answer came from outside (documents, index rows, model output), so both
renderers treat it as hostile (``docs/design.md``, "Hostile input"):

* text, captions and notes are escaped for the format they go into, so no live HTML or Markdown
  link reaches the reader;
* a local image is used only if its path, with symlinks followed, lies inside the answer's
  ``image_root`` (the index's corpus root); the HTML page also checks that the file is a regular
  file of at most :data:`MAX_IMAGE_BYTES` whose first bytes are a raster image, and takes the data
  URI's type from those bytes, never from the file name;
* a remote URL is written only when the caller allows it (``allow_remote_images``) and only if it
  is an absolute http(s) URL.

An image that is not shown leaves a placeholder and a note naming its id and the reason.

Both renderings cite the answer's sources: each paragraph ends with the numbers of the sources
its sentences came from (``[1]``), and a numbered list at the end names each source (document
title and section) with a link back to it: an http(s) URL as given, a file of the corpus (a path
relative to the corpus root, inside it) as a path relative to ``relative_to`` (or absolute), and
anything else (``javascript:``, ``file:``, a path leaving the corpus) as plain text. A caption that
is only a file name (``radicale_web.png``, ``IMG_0042``) is not shown as a caption. An answer with
no text says so plainly (:data:`NOTHING_FOUND` when retrieval found nothing relevant).

Example::

    page = to_html(answer)
    md = to_markdown(answer, relative_to="out/")
"""

from __future__ import annotations

import html
import logging
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from m2io.mergers.images import (
    confine_any,
    html_src,
    image_roots,
    local_image,
    not_shown,
    remote_image,
)
from m2io.mergers.lines import (
    html_prose,
    html_rows,
    marks_at,
    md_code,
    md_line,
    md_rows,
    md_text,
    row_runs,
)
from m2io.safety import remote_image_url
from m2io.text import introduced_command, is_code_block, is_table_row
from m2io.types import ImageSegment, MultimodalAnswer, Source, TextSegment

log = logging.getLogger(__name__)

NOTHING_FOUND = "No relevant passage was found in the corpus for this question."
"""What an answer says when retrieval found nothing relevant (and so it has no text)."""
NO_TEXT = "No answer text was produced for this question."
"""What an answer with no text says otherwise."""

_NOTHING_NOTE = re.compile(r"nothing relevant|no relevant", re.IGNORECASE)
_IMAGE_SUFFIX = r"\.(?:png|jpe?g|gif|bmp|tiff?|webp|svg|ico|avif|heic)"
_FILE_NAME = re.compile(
    rf"^(?:\S*{_IMAGE_SUFFIX}|\S*[/\\]\S*|\S*_\S*|[A-Za-z]+[-_]?\d+|\S*-\S*\d\S*)$",
    re.IGNORECASE,
)
_FRAGMENT_SAFE = "-._~!$&'()*+,;=:@/?"
# a list item starts a line of its own: "1. ", "2) ", "- ", "• ", and a step label "Step 3: "
_LIST_ITEM = re.compile(r"^(?:\d{1,3}[.)]|[-*+•]|[Ss]tep \d{1,3}[:.)])\s")


def looks_like_file_name(caption: str) -> bool:
    """Whether ``caption`` is a file name or an id rather than words (``radicale_web.png``,
    ``IMG_0042.JPG``, ``screenshot-1``, ``images/foo``): one token with a file suffix, a path
    separator, an underscore, or letters followed by a number."""
    text = caption.strip()
    return bool(text) and _FILE_NAME.match(text) is not None


def shown_caption(seg: ImageSegment) -> str:
    """The caption a reader sees: whitespace collapsed, "" when it is only a file name."""
    cap = " ".join(seg.caption.split())
    return "" if looks_like_file_name(cap) else cap


@dataclass(frozen=True)
class _Paragraph:
    """A run of sentences between images: its lines (a list item or a table row starts a line)
    and the numbers of the sources they came from, in first-use order."""

    lines: tuple[str, ...]
    sources: tuple[int, ...]


def _paragraphs(answer: MultimodalAnswer) -> list[_Paragraph | ImageSegment]:
    """Text runs between images joined into paragraphs; images stand alone."""
    out: list[_Paragraph | ImageSegment] = []
    lines: list[str] = []
    nums: list[int] = []

    def flush() -> None:
        if lines:
            out.append(_Paragraph(tuple(lines), tuple(dict.fromkeys(nums))))
            lines.clear()
            nums.clear()

    after_row = False  # the last text segment was a table row or a command
    before = ""  # the last text segment
    for seg in answer.segments:
        if isinstance(seg, TextSegment):
            # a list item, a table row or a command starts a line, and the sentence after a
            # row or a command too; a command ("Build it:" then "make") shows as code
            row = is_table_row(seg.text)
            block = not row and is_code_block(seg.text)
            command = block or (not row and introduced_command(seg.text, before))
            text = (
                f"`{seg.text.strip()}`"
                if command and not block and "`" not in seg.text
                else seg.text
            )
            if lines and not (row or command or after_row or _LIST_ITEM.match(seg.text)):
                lines[-1] = f"{lines[-1]} {text}"
            else:
                lines.append(text)
            after_row = row or command
            before = seg.text
            if seg.source is not None and 1 <= seg.source <= len(answer.sources):
                nums.append(seg.source)
        else:
            flush()
            out.append(seg)
    flush()
    return out


def empty_message(answer: MultimodalAnswer) -> str | None:
    """What to say instead of an answer that has no text (None when it has some)."""
    if any(isinstance(s, TextSegment) and s.text.strip() for s in answer.segments):
        return None
    return NOTHING_FOUND if any(_NOTHING_NOTE.search(n) for n in answer.notes) else NO_TEXT


def source_label(src: Source) -> str:
    """``Title › Section`` ("document <id>" when it has no title)."""
    title = " ".join((src.title or "").split())
    if not title:
        title = f"document {src.doc_id}" if src.doc_id else src.location or "untitled"
    section = " ".join(src.section.split())
    return f"{title} › {section}" if section and section != title else title


def _source_link(src: Source, roots: tuple[str, ...], relative_to: str | Path | None) -> str | None:
    """Where a source links to, already percent-encoded, or None when it must not link.

    An http(s) URL links as given. A relative path links to the file inside the corpus root
    (relative to ``relative_to`` when given, else absolute); without a known root, as given if it
    does not climb out with ``..``. Anything else (other schemes, absolute paths, paths that leave
    the corpus) is not linked. The section anchor becomes the link's fragment.
    """
    loc = src.location.strip()
    if not loc or any(ch in loc for ch in "\x00\r\n\t"):
        return None
    anchor = src.anchor.strip()
    url = remote_image_url(loc)
    if url is not None:
        frag = f"#{anchor}" if anchor and "#" not in url else ""
        return _md_dest(url + frag, is_url=True)
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", loc) or loc.startswith(("/", "\\")):
        return None  # javascript:, data:, file:, mailto:, C:, an absolute path
    path, _, frag = loc.partition("#")
    frag = anchor or frag
    if not roots:
        if ".." in Path(path).parts:
            return None
        target = Path(path).as_posix()
    else:
        real = confine_any(path, roots)
        if real is None:
            return None
        target = real.as_posix()
        if relative_to is not None:
            target = Path(os.path.relpath(real, Path(relative_to).resolve())).as_posix()
    dest = _md_dest(target, is_url=False)
    # a fragment keeps what RFC 3986 allows there, so a PDF link reads #page=37, not #page%3D37
    return dest + (f"#{quote(frag, safe=_FRAGMENT_SAFE)}" if frag else "")


# --------------------------------------------------------------------------------------------
# Markdown


def _md_dest(target: str, *, is_url: bool) -> str:
    """A link destination safe inside ``<...>``: no angle brackets, backslashes or whitespace.

    A local path is percent-encoded whole; a URL keeps its reserved characters and escapes.
    """
    return quote(target, safe="/:@!$&'()*+,;=-._~%?#" if is_url else "/-._~")


def _md_target(
    seg: ImageSegment, roots: tuple[str, ...], relative_to: str | Path | None, allow_remote: bool
) -> tuple[str | None, str]:
    """The image's link destination, already encoded, or None and why not."""
    why = ""
    if seg.path:
        real, why = local_image(seg, roots)
        if real is not None:
            if relative_to is not None:  # like the source links: ../ where needed
                try:
                    rel = os.path.relpath(real, Path(relative_to).resolve())
                    return _md_dest(Path(rel).as_posix(), is_url=False), ""
                except ValueError:  # another drive (Windows): no relative path exists
                    pass
            return _md_dest(real.as_posix(), is_url=False), ""
        if not seg.url:
            return None, why
    url, why_remote = remote_image(seg, allow_remote)
    if url is not None:
        return _md_dest(url, is_url=True), ""
    return None, "; ".join(r for r in (why, why_remote) if r)


def to_markdown(
    answer: MultimodalAnswer,
    *,
    relative_to: str | Path | None = None,
    image_root: str | os.PathLike[str] | None = None,
    allow_remote_images: bool = False,
) -> str:
    """Markdown with ``![caption](path "caption")`` after each anchor sentence.

    Text, captions and notes are escaped: ``<``, ``>`` and ``&`` become entities and brackets are
    backslash-escaped, so a document or a model cannot inject HTML, links or images.

    Args:
        relative_to: Write image paths relative to this folder (e.g. where the .md file goes).
        image_root: Folder local images must lie in (default: ``answer.image_root``); without
            one, no local path is written.
        allow_remote_images: Write http(s) image URLs (off by default).
    """
    roots = image_roots(answer, image_root)
    blocks: list[str] = []
    refused: list[str] = []
    empty = empty_message(answer)
    if empty is not None:
        blocks.append(empty)
    for item in _paragraphs(answer):
        if isinstance(item, _Paragraph):
            marks = f" [{', '.join(map(str, item.sources))}]" if item.sources else ""
            groups = row_runs(item.lines)
            at = marks_at(groups)
            for k, (rows, lines) in enumerate(groups):
                text = (
                    md_rows(lines)
                    if rows
                    else "\n".join(
                        md_code(line) if is_code_block(line) else md_line(line) for line in lines
                    )
                )
                if k == at and marks:  # after a closing fence, marks go on a line of their own
                    text += f"\n{marks.strip()}" if is_code_block(lines[-1]) else marks
                blocks.append(text)
            if at is None and marks:
                blocks.append(marks.strip())
            continue
        dest, why = _md_target(item, roots, relative_to, allow_remote_images)
        if dest is None:
            blocks.append(f"*image {md_text(item.image_id)} unavailable*")
            refused.append(not_shown(item, why))
            continue
        cap = md_text(shown_caption(item)).replace('"', "&quot;")
        alt = cap or "figure"
        blocks.append(f'![{alt}](<{dest}> "{cap}")' if cap else f"![{alt}](<{dest}>)")
    where = _continued(answer, roots, relative_to)
    if where is not None:
        says, k, label, link = where
        label = md_text(label)
        place = (f"[{label}](<{link}>)" if link else label) + (f" [{k}]" if k else "")
        blocks.append("*" + md_text(says).replace("\x00", place) + "*")
    if answer.sources:
        blocks.append(_md_sources(answer.sources, roots, relative_to))
    notes = [*answer.notes, *refused]
    if notes:
        blocks.append("\n".join(f"> note: {md_text(' '.join(n.split()))}" for n in notes))
    return "\n\n".join(blocks) + "\n"


def _listed(
    sources: tuple[Source, ...],
    roots: tuple[str, ...],
    relative_to: str | Path | None,
    escape: Callable[[str], str],
) -> Iterator[tuple[int, str, str, str | None]]:
    """Each source numbered from 1: its label and location made safe by ``escape``, and its link
    (None: it must not link, see :func:`_source_link`). Both renderers list sources from this."""
    for k, src in enumerate(sources, 1):
        link = _source_link(src, roots, relative_to)
        yield k, escape(source_label(src)), escape(src.location or ""), link


def _continued(
    answer: MultimodalAnswer, roots: tuple[str, ...], relative_to: str | Path | None
) -> tuple[str, int | None, str, str | None] | None:
    """Where the answer's procedure goes on (:attr:`MultimodalAnswer.continued`), or None:
    the sentence that says so with ``\\x00`` where the source goes, the source's number in
    ``answer.sources`` (None when it is not one of them), its label and its link (None: it must
    not link, :func:`_source_link`)."""
    c = answer.continued
    if c is None:
        return None
    says = c.says("\x00")
    if c.source is None:
        return says, None, "the source", None
    for k, src in enumerate(answer.sources, 1):
        if (src.doc_id, src.section) == (c.source.doc_id, c.source.section):
            return says, k, source_label(src), _source_link(src, roots, relative_to)
    return says, None, source_label(c.source), None


def _md_sources(
    sources: tuple[Source, ...], roots: tuple[str, ...], relative_to: str | Path | None
) -> str:
    """``Sources:`` and one numbered line per source, linked where it may be."""
    lines = ["Sources:", ""]
    for k, label, location, link in _listed(sources, roots, relative_to, md_text):
        if link is None:
            lines.append(f"{k}. {label}" + (f" ({location})" if location else ""))
        else:
            lines.append(f"{k}. [{label}](<{link}>)")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# HTML

_CSS = """
body{font:16px/1.6 system-ui,-apple-system,"Segoe UI",sans-serif;max-width:46rem;margin:2rem auto;
padding:0 1rem;color:#1d1d1f;background:#fff}
h1{font-size:1.35rem;margin-bottom:1.5rem}
figure{margin:1.2rem 0;padding:.75rem;border:1px solid #e3e3e8;border-radius:8px;background:#fafafc}
figure img{display:block;max-width:100%;max-height:20rem;width:auto;height:auto;margin:0 auto}
figcaption{font-size:.85rem;color:#555;margin-top:.5rem;text-align:center}
details{margin-top:2rem;font-size:.85rem;color:#444}
table{border-collapse:collapse}td,th{padding:.15rem .6rem;border-bottom:1px solid #eee;text-align:left}
h2{font-size:1.05rem;margin-top:2rem}sup.cite a{text-decoration:none;font-size:.75rem}
.sources li{font-size:.9rem}.empty{font-style:italic}
.note{background:#fff7e0;border-left:3px solid #e0a800;padding:.4rem .8rem;margin:.5rem 0}
"""


def _html_sources(
    sources: tuple[Source, ...], roots: tuple[str, ...], relative_to: str | Path | None
) -> str:
    """A numbered list of the sources, each linked where it may be."""
    items: list[str] = []
    for k, label, location, link in _listed(sources, roots, relative_to, html.escape):
        if link is None:
            where = f' <span class="loc">({location})</span>' if location else ""
            items.append(f'<li id="source-{k}">{label}{where}</li>')
        else:
            anchor = f'<a href="{html.escape(link)}" rel="noreferrer noopener">{label}</a>'
            items.append(f'<li id="source-{k}">{anchor}</li>')
    return f'<section class="sources"><h2>Sources</h2><ol>{"".join(items)}</ol></section>'


def to_html(
    answer: MultimodalAnswer,
    *,
    title: str | None = None,
    image_root: str | os.PathLike[str] | None = None,
    allow_remote_images: bool = False,
    relative_to: str | Path | None = None,
) -> str:
    """A single HTML file with every image embedded as a data URI (opens anywhere, offline).

    Args:
        title: Page heading (default: the question).
        relative_to: Link source files relative to this folder (where the page goes); without
            it, by absolute path.
        image_root: Folder local images must lie in (default: ``answer.image_root``); without
            one, no local file is embedded.
        allow_remote_images: Place http(s) image URLs in the page (off by default: the page
            then loads nothing from the network).
    """
    esc = html.escape
    roots = image_roots(answer, image_root)
    body: list[str] = [f"<h1>{esc(title or answer.question)}</h1>"]
    refused: list[str] = []
    empty = empty_message(answer)
    if empty is not None:
        body.append(f'<p class="empty">{esc(empty)}</p>')
    for item in _paragraphs(answer):
        if isinstance(item, _Paragraph):
            marks = "".join(
                f'<sup class="cite"><a href="#source-{k}">[{k}]</a></sup>' for k in item.sources
            )
            groups = row_runs(item.lines)
            at = marks_at(groups)
            for k, (rows, lines) in enumerate(groups):
                tail = marks if k == at else ""
                if rows:
                    body.append(html_rows(lines))
                else:
                    body.extend(html_prose(lines, tail))
            if at is None and marks:
                body.append(f"<p>{marks}</p>")
            continue
        src, why = html_src(item, roots, allow_remote_images)
        cap = shown_caption(item)
        if src is None:
            img = f"<em>image {esc(item.image_id)} unavailable</em>"
            refused.append(not_shown(item, why))
        else:
            img = f'<img src="{esc(src)}" alt="{esc(cap)}" referrerpolicy="no-referrer">'
        figcap = f"<figcaption>{esc(cap)}</figcaption>" if cap else ""
        body.append(
            f'<figure data-image-id="{esc(item.image_id)}" data-after-sentence='
            f'"{esc(str(item.after_sentence))}">{img}{figcap}</figure>'
        )
    where = _continued(answer, roots, relative_to)
    if where is not None:
        says, k, label, link = where
        place = (
            f'<a href="{esc(link)}" rel="noreferrer noopener">{esc(label)}</a>'
            if link
            else esc(label)
        )
        if k:
            place += f' <sup class="cite"><a href="#source-{k}">[{k}]</a></sup>'
        body.append(f'<p class="continued"><em>{esc(says).replace(chr(0), place)}</em></p>')
    if answer.sources:
        body.append(_html_sources(answer.sources, roots, relative_to))
    for note in (*answer.notes, *refused):
        body.append(f'<div class="note">{esc(note)}</div>')
    rows = "".join(
        f"<tr><td>{esc(k)}</td><td>{v:.1f} ms</td></tr>" for k, v in answer.timings_ms.items()
    )
    cands = "".join(
        f"<tr><td>{esc(c.image_id)}</td><td>{esc(c.image.caption[:90])}</td>"
        f"<td>{c.score:.3f}</td></tr>"
        for c in answer.candidates
    )
    body.append(
        "<details><summary>How this answer was made</summary>"
        f"<h3>Stage timings</h3><table>{rows}</table>"
        f"<h3>Candidate images ({len(answer.candidates)})</h3>"
        f"<table><tr><th>id</th><th>caption</th><th>score</th></tr>{cands}</table></details>"
    )
    # The page runs no script and, unless remote images are allowed, loads nothing.
    img_src = "data: http: https:" if allow_remote_images else "data:"
    csp = f"default-src 'none'; img-src {img_src}; style-src 'unsafe-inline'"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        f"<title>{esc(title or answer.question)}</title>"
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><style>{_CSS}</style>'
        f"</head><body>{''.join(body)}</body></html>\n"
    )
