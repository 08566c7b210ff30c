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

Example:
    >>> page = to_html(answer)                                   # doctest: +SKIP
    >>> md = to_markdown(answer, relative_to="out/")             # doctest: +SKIP
"""

from __future__ import annotations

import base64
import html
import logging
import os
import stat
from pathlib import Path
from urllib.parse import quote

from m2io.safety import MIME, UNSUPPORTED_SUFFIXES, confine, image_kind, remote_image_url
from m2io.types import ImageSegment, MultimodalAnswer, TextSegment

log = logging.getLogger(__name__)

MAX_IMAGE_BYTES = 20 * 1024 * 1024
"""Largest image file the HTML page embeds."""

_NO_ROOT = (
    "no corpus folder is known to check its file against, so local files are not embedded "
    "(rebuild the index with the current m2io, or pass image_root)"
)
_REMOTE_OFF = "remote images were not loaded (pass --allow-remote-images to show them)"


def _paragraphs(answer: MultimodalAnswer) -> list[str | ImageSegment]:
    """Text runs between images joined into paragraphs; images stand alone."""
    out: list[str | ImageSegment] = []
    run: list[str] = []
    for seg in answer.segments:
        if isinstance(seg, TextSegment):
            run.append(seg.text)
        else:
            if run:
                out.append(" ".join(run))
                run = []
            out.append(seg)
    if run:
        out.append(" ".join(run))
    return out


def _root(answer: MultimodalAnswer, image_root: str | os.PathLike[str] | None) -> str | None:
    root = image_root if image_root is not None else answer.image_root
    return None if root is None else os.fspath(root)


def _local(seg: ImageSegment, root: str | None) -> tuple[Path | None, str]:
    """The image's real path if it lies inside ``root``, else None and why not."""
    if root is None:
        return None, _NO_ROOT
    real = confine(seg.path or "", root)
    if real is None:
        log.warning("image %s: %s is outside %s; not used", seg.image_id, seg.path, root)
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


def _html_src(seg: ImageSegment, root: str | None, allow_remote: bool) -> tuple[str | None, str]:
    """What goes in ``<img src>`` (a data URI or an http(s) URL), or None and why not."""
    why = ""
    if seg.path:
        real, why = _local(seg, root)
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


def _md_dest(target: str, *, is_url: bool) -> str:
    """A link destination safe inside ``<...>``: no angle brackets, backslashes or whitespace.

    A local path is percent-encoded whole; a URL keeps its reserved characters and escapes.
    """
    return quote(target, safe="/:@!$&'()*+,;=-._~%?#" if is_url else "/-._~")


def _md_target(
    seg: ImageSegment, root: str | None, relative_to: str | Path | None, allow_remote: bool
) -> tuple[str | None, str]:
    """The image's link destination, already encoded, or None and why not."""
    why = ""
    if seg.path:
        real, why = _local(seg, root)
        if real is not None:
            if relative_to is not None:
                try:
                    rel = real.relative_to(Path(relative_to).resolve())
                    return _md_dest(rel.as_posix(), is_url=False), ""
                except ValueError:
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
    root = _root(answer, image_root)
    blocks: list[str] = []
    refused: list[str] = []
    for item in _paragraphs(answer):
        if isinstance(item, str):
            blocks.append(_md_text(item))
            continue
        dest, why = _md_target(item, root, relative_to, allow_remote_images)
        if dest is None:
            blocks.append(f"*image {_md_text(item.image_id)} unavailable*")
            refused.append(_not_shown(item, why))
            continue
        cap = _md_text(" ".join(item.caption.split())).replace('"', "&quot;")
        alt = cap or _md_text(item.image_id)
        blocks.append(f'![{alt}](<{dest}> "{cap}")' if cap else f"![{alt}](<{dest}>)")
    notes = [*answer.notes, *refused]
    if notes:
        blocks.append("\n".join(f"> note: {_md_text(' '.join(n.split()))}" for n in notes))
    return "\n\n".join(blocks) + "\n"


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
.note{background:#fff7e0;border-left:3px solid #e0a800;padding:.4rem .8rem;margin:.5rem 0}
"""


def to_html(
    answer: MultimodalAnswer,
    *,
    title: str | None = None,
    image_root: str | os.PathLike[str] | None = None,
    allow_remote_images: bool = False,
) -> str:
    """A single HTML file with every image embedded as a data URI (opens anywhere, offline).

    Args:
        title: Page heading (default: the question).
        image_root: Folder local images must lie in (default: ``answer.image_root``); without
            one, no local file is embedded.
        allow_remote_images: Place http(s) image URLs in the page (off by default: the page
            then loads nothing from the network).
    """
    esc = html.escape
    root = _root(answer, image_root)
    body: list[str] = [f"<h1>{esc(title or answer.question)}</h1>"]
    refused: list[str] = []
    for item in _paragraphs(answer):
        if isinstance(item, str):
            body.append(f"<p>{esc(item)}</p>")
            continue
        src, why = _html_src(item, root, allow_remote_images)
        if src is None:
            img = f"<em>image {esc(item.image_id)} unavailable</em>"
            refused.append(_not_shown(item, why))
        else:
            img = (
                f'<img src="{esc(src)}" alt="{esc(item.caption or item.image_id)}" '
                'referrerpolicy="no-referrer">'
            )
        cap = esc(item.caption) if item.caption else esc(item.image_id)
        body.append(
            f'<figure data-image-id="{esc(item.image_id)}" data-after-sentence='
            f'"{esc(str(item.after_sentence))}">{img}<figcaption>{cap}</figcaption></figure>'
        )
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
