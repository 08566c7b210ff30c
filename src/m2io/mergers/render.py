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

import base64
import html
import logging
import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from m2io.safety import MIME, UNSUPPORTED_SUFFIXES, confine, image_kind, remote_image_url
from m2io.text import code_lines, introduced_command, is_code_block, is_table_row, row_cells
from m2io.types import ImageSegment, MultimodalAnswer, Source, TextSegment

log = logging.getLogger(__name__)

MAX_IMAGE_BYTES = 20 * 1024 * 1024
"""Largest image file the HTML page embeds."""

_NO_ROOT = (
    "no corpus folder is known to check its file against, so local files are not embedded "
    "(rebuild the index with the current m2io, or pass image_root)"
)
_REMOTE_OFF = "remote images were not loaded (pass --allow-remote-images to show them)"

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
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.DOTALL)
_BACKTICKS = re.compile(r"`+")
_FRAGMENT_SAFE = "-._~!$&'()*+,;=:@/?"
_LIST_ITEM = re.compile(r"^(?:\d{1,3}[.)]|[-*+•])\s")


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


def _groups(lines: tuple[str, ...]) -> list[tuple[bool, list[str]]]:
    """A paragraph's lines as runs: ``(True, rows)`` for consecutive table rows, ``(False,
    lines)`` for the rest."""
    out: list[tuple[bool, list[str]]] = []
    for line in lines:
        row = is_table_row(line)
        if out and out[-1][0] == row:
            out[-1][1].append(line)
        else:
            out.append((row, [line]))
    return out


def _marks_at(groups: list[tuple[bool, list[str]]]) -> int | None:
    """Which run of a paragraph carries its source marks: the last run of prose (None: the
    paragraph is all table rows, and the marks stand after them)."""
    return max((k for k, (rows, _) in enumerate(groups) if not rows), default=None)


def _same_headers(rows: list[str]) -> tuple[str, ...] | None:
    """The header cells all ``rows`` share (None when they differ or the table has none)."""
    heads = {row_cells(r)[0] for r in rows}  # type: ignore[index]
    head = heads.pop() if len(heads) == 1 else ()
    return head or None


def _md_cell(text: str) -> str:
    return _md_line(text).replace("|", "\\|")


def _md_rows(rows: list[str]) -> str:
    """Table rows as a Markdown table when they share their headers, else one list line each."""
    head = _same_headers(rows)
    if head is None:
        return "\n".join(f"- {_md_line(r)}" for r in rows)
    out = ["| " + " | ".join(_md_cell(h) for h in head) + " |", "|" + " --- |" * len(head)]
    out += ["| " + " | ".join(_md_cell(c) for c in row_cells(r)[1]) + " |" for r in rows]  # type: ignore[index]
    return "\n".join(out)


def _html_rows(rows: list[str]) -> str:
    """Table rows as an HTML table (a header row when they share their headers)."""
    esc = html.escape
    head = _same_headers(rows)
    thead = (
        "<thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr></thead>"
        if head
        else ""
    )
    body = "".join(
        "<tr>" + "".join(f"<td>{_html_line(c)}</td>" for c in row_cells(r)[1]) + "</tr>"  # type: ignore[index]
        for r in rows
    )
    return f"<table>{thead}<tbody>{body}</tbody></table>"


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
        real = _confine_any(path, roots)
        if real is None:
            return None
        target = real.as_posix()
        if relative_to is not None:
            target = Path(os.path.relpath(real, Path(relative_to).resolve())).as_posix()
    dest = _md_dest(target, is_url=False)
    # a fragment keeps what RFC 3986 allows there, so a PDF link reads #page=37, not #page%3D37
    return dest + (f"#{quote(frag, safe=_FRAGMENT_SAFE)}" if frag else "")


def _roots(answer: MultimodalAnswer, image_root: str | os.PathLike[str] | None) -> tuple[str, ...]:
    """The folders local files may lie in: the corpus root (or the caller's), then the index's
    folder of documents added after the build (empty when no root is known at all)."""
    root = image_root if image_root is not None else answer.image_root
    if root is None:
        return ()
    return (os.fspath(root), *((answer.added_root,) if answer.added_root else ()))


def _confine_any(path: str, roots: tuple[str, ...]) -> Path | None:
    for root in roots:
        real = confine(path, root)
        if real is not None:
            return real
    return None


def _local(seg: ImageSegment, roots: tuple[str, ...]) -> tuple[Path | None, str]:
    """The image's real path if it lies inside one of ``roots``, else None and why not."""
    if not roots:
        return None, _NO_ROOT
    real = _confine_any(seg.path or "", roots)
    if real is None:
        log.warning("image %s: %s is outside %s; not used", seg.image_id, seg.path, roots[0])
        return None, "its file lies outside the corpus folder"
    return real, ""


def _remote(seg: ImageSegment, allow_remote: bool) -> tuple[str | None, str]:
    """The image's URL if the caller allows remote images and it is http(s), else why not."""
    if not seg.url:
        return None, "no file or URL is known for it"
    if not allow_remote:
        return None, _REMOTE_OFF
    url = remote_image_url(seg.url)
    if url is None:
        return None, "its URL is not an absolute http(s) URL"
    return url, ""


def _read_image(path: Path) -> tuple[bytes | None, str]:
    """The bytes of ``path`` if it is a regular raster-image file of bounded size, else why not."""
    if path.suffix.lower() in UNSUPPORTED_SUFFIXES:
        return None, f"{path.suffix.lower()} images are not supported"
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        # stat first so a FIFO or device is never opened; fstat again on what was opened
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None, "its path is not a regular file"
        fd = os.open(path, flags)
        with os.fdopen(fd, "rb") as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode):
                return None, "its path is not a regular file"
            if info.st_size > MAX_IMAGE_BYTES:
                return None, f"its file is larger than {MAX_IMAGE_BYTES // 2**20} MB"
            raw = fh.read(MAX_IMAGE_BYTES + 1)
    except OSError as err:
        log.warning("cannot embed image %s: %s", path, err)
        return None, f"its file cannot be read ({err.strerror or type(err).__name__})"
    if len(raw) > MAX_IMAGE_BYTES:
        return None, f"its file is larger than {MAX_IMAGE_BYTES // 2**20} MB"
    if image_kind(raw[:16]) is None:
        return None, "its file is not a PNG, JPEG, GIF, BMP, TIFF or WebP image"
    return raw, ""


def _html_src(
    seg: ImageSegment, roots: tuple[str, ...], allow_remote: bool
) -> tuple[str | None, str]:
    """What goes in ``<img src>`` (a data URI or an http(s) URL), or None and why not."""
    why = ""
    if seg.path:
        real, why = _local(seg, roots)
        if real is not None:
            raw, why = _read_image(real)
            if raw is not None:
                mime = MIME[image_kind(raw[:16]) or "png"]
                return f"data:{mime};base64,{base64.b64encode(raw).decode('ascii')}", ""
        if not seg.url:
            return None, why
    url, why_remote = _remote(seg, allow_remote)
    if url is not None:
        return url, ""
    return None, "; ".join(r for r in (why, why_remote) if r)


def _not_shown(seg: ImageSegment, why: str) -> str:
    return f"image {seg.image_id!r} not shown: {why}"


# --------------------------------------------------------------------------------------------
# Markdown


def _md_text(text: str) -> str:
    """``text`` with HTML and link/image syntax made inert (it still reads naturally)."""
    text = (
        text.replace("\\", "\\\\").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    )
    return text.replace("[", "\\[").replace("]", "\\]")


def _code_spans(text: str) -> list[tuple[bool, str]]:
    """``text`` cut into (is_code, piece): a code span is its content between matching
    backtick runs, as CommonMark pairs them."""
    out: list[tuple[bool, str]] = []
    pos = 0
    for m in _CODE_SPAN.finditer(text):
        if m.start() > pos:
            out.append((False, text[pos : m.start()]))
        out.append((True, m.group(0)))
        pos = m.end()
    if pos < len(text):
        out.append((False, text[pos:]))
    return out


def _md_code(text: str) -> str:
    """A code block for Markdown: its lines as written, between fences longer than any run of
    backticks inside (so no line of it can close the block early)."""
    lines = code_lines(text)
    longest = max((len(m.group(0)) for ln in lines for m in _BACKTICKS.finditer(ln)), default=0)
    fence = "`" * max(3, longest + 1)
    return "\n".join([fence, *lines, fence])


def _html_code(text: str) -> str:
    """A code block for HTML: escaped, in ``<pre><code>``."""
    return f"<pre><code>{html.escape(chr(10).join(code_lines(text)))}</code></pre>"


def _md_line(text: str) -> str:
    """One line of answer text for Markdown: escaped (:func:`_md_text`) outside code spans, kept
    as written inside them (a code span shows its content literally, HTML included, so
    ```<img>``` stays ``<img>``); a stray backtick is escaped."""
    return "".join(
        " ".join(piece.split()) if code else _md_text(piece).replace("`", "\\`")
        for code, piece in _code_spans(text)
    )


def _html_line(text: str) -> str:
    """One line of answer text for HTML: escaped, code spans as ``<code>``."""
    return "".join(
        f"<code>{html.escape(piece.strip('`'))}</code>" if code else html.escape(piece)
        for code, piece in _code_spans(text)
    )


def _html_prose(lines: list[str], tail: str) -> list[str]:
    """A paragraph's lines for HTML: runs of prose as ``<p>`` (lines broken by ``<br>``), each
    code block as ``<pre>`` between them (a ``<pre>`` cannot sit inside a ``<p>``); ``tail``
    (the source marks) closes the last element."""
    out: list[str] = []
    run: list[str] = []
    for line in lines:
        if is_code_block(line):
            if run:
                out.append(f"<p>{'<br>'.join(_html_line(x) for x in run)}</p>")
                run = []
            out.append(_html_code(line))
        else:
            run.append(line)
    if run:
        out.append(f"<p>{'<br>'.join(_html_line(x) for x in run)}{tail}</p>")
    elif tail:
        out.append(f"<p>{tail}</p>")
    return out


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
        real, why = _local(seg, roots)
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
    url, why_remote = _remote(seg, allow_remote)
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
    roots = _roots(answer, image_root)
    blocks: list[str] = []
    refused: list[str] = []
    empty = empty_message(answer)
    if empty is not None:
        blocks.append(empty)
    for item in _paragraphs(answer):
        if isinstance(item, _Paragraph):
            marks = f" [{', '.join(map(str, item.sources))}]" if item.sources else ""
            groups = _groups(item.lines)
            at = _marks_at(groups)
            for k, (rows, lines) in enumerate(groups):
                text = (
                    _md_rows(lines)
                    if rows
                    else "\n".join(
                        _md_code(line) if is_code_block(line) else _md_line(line) for line in lines
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
            blocks.append(f"*image {_md_text(item.image_id)} unavailable*")
            refused.append(_not_shown(item, why))
            continue
        cap = _md_text(shown_caption(item)).replace('"', "&quot;")
        alt = cap or "figure"
        blocks.append(f'![{alt}](<{dest}> "{cap}")' if cap else f"![{alt}](<{dest}>)")
    where = _continued(answer, roots, relative_to)
    if where is not None:
        says, k, label, link = where
        label = _md_text(label)
        place = (f"[{label}](<{link}>)" if link else label) + (f" [{k}]" if k else "")
        blocks.append("*" + _md_text(says).replace("\x00", place) + "*")
    if answer.sources:
        blocks.append(_md_sources(answer.sources, roots, relative_to))
    notes = [*answer.notes, *refused]
    if notes:
        blocks.append("\n".join(f"> note: {_md_text(' '.join(n.split()))}" for n in notes))
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
    for k, label, location, link in _listed(sources, roots, relative_to, _md_text):
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
    roots = _roots(answer, image_root)
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
            groups = _groups(item.lines)
            at = _marks_at(groups)
            for k, (rows, lines) in enumerate(groups):
                tail = marks if k == at else ""
                if rows:
                    body.append(_html_rows(lines))
                else:
                    body.extend(_html_prose(lines, tail))
            if at is None and marks:
                body.append(f"<p>{marks}</p>")
            continue
        src, why = _html_src(item, roots, allow_remote_images)
        cap = shown_caption(item)
        if src is None:
            img = f"<em>image {esc(item.image_id)} unavailable</em>"
            refused.append(_not_shown(item, why))
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
