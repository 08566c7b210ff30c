"""Render a :class:`~m2io.types.MultimodalAnswer` as Markdown or as a self-contained HTML page."""

from __future__ import annotations

import base64
import html
import logging
import mimetypes
from pathlib import Path

from m2io.types import ImageSegment, MultimodalAnswer, TextSegment

log = logging.getLogger(__name__)


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


def to_markdown(answer: MultimodalAnswer, *, relative_to: str | Path | None = None) -> str:
    """Markdown with ``![caption](path "caption")`` after each anchor sentence.

    Args:
        relative_to: Write image paths relative to this folder (e.g. where the .md file goes).
    """
    blocks: list[str] = []
    for item in _paragraphs(answer):
        if isinstance(item, str):
            blocks.append(item)
            continue
        target = item.url or item.path or item.image_id
        if item.path and relative_to is not None:
            try:
                target = Path(item.path).resolve().relative_to(Path(relative_to).resolve())
                target = target.as_posix()
            except ValueError:
                target = item.path
        cap = item.caption.replace('"', "'").replace("\n", " ")
        alt = cap.replace("[", "(").replace("]", ")") or item.image_id
        blocks.append(f'![{alt}](<{target}> "{cap}")' if cap else f"![{alt}](<{target}>)")
    if answer.notes:
        blocks.append("\n".join(f"> note: {n}" for n in answer.notes))
    return "\n\n".join(blocks) + "\n"


def _data_uri(seg: ImageSegment) -> str | None:
    if seg.path is None:
        return seg.url
    p = Path(seg.path)
    try:
        raw = p.read_bytes()
    except OSError as err:
        log.warning("cannot embed image %s: %s", p, err)
        return seg.url
    mime = mimetypes.guess_type(p.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(raw).decode('ascii')}"


_CSS = """
body{font:16px/1.6 system-ui,-apple-system,"Segoe UI",sans-serif;max-width:46rem;margin:2rem auto;
padding:0 1rem;color:#1d1d1f;background:#fff}
h1{font-size:1.35rem;margin-bottom:1.5rem}
figure{margin:1.2rem 0;padding:.75rem;border:1px solid #e3e3e8;border-radius:8px;background:#fafafc}
figure img{display:block;max-width:100%;max-height:20rem;width:auto;height:auto;margin:0 auto}
figcaption{font-size:.85rem;color:#555;margin-top:.5rem;text-align:center}
.anchor{font-size:.75rem;color:#888}
details{margin-top:2rem;font-size:.85rem;color:#444}
table{border-collapse:collapse}td,th{padding:.15rem .6rem;border-bottom:1px solid #eee;text-align:left}
.note{background:#fff7e0;border-left:3px solid #e0a800;padding:.4rem .8rem;margin:.5rem 0}
"""


def to_html(answer: MultimodalAnswer, *, title: str | None = None) -> str:
    """A single HTML file with every image embedded as a data URI (opens anywhere, offline)."""
    esc = html.escape
    body: list[str] = [f"<h1>{esc(title or answer.question)}</h1>"]
    for item in _paragraphs(answer):
        if isinstance(item, str):
            body.append(f"<p>{esc(item)}</p>")
            continue
        src = _data_uri(item)
        img = (
            f'<img src="{esc(src)}" alt="{esc(item.caption or item.image_id)}">'
            if src
            else f"<em>image {esc(item.image_id)} unavailable</em>"
        )
        cap = esc(item.caption) if item.caption else esc(item.image_id)
        body.append(
            f'<figure data-image-id="{esc(item.image_id)}" data-after-sentence='
            f'"{item.after_sentence}">{img}<figcaption>{cap} '
            f'<span class="anchor">(after sentence {item.after_sentence})</span>'
            f"</figcaption></figure>"
        )
    for note in answer.notes:
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
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title or answer.question)}</title>"
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><style>{_CSS}</style>'
        f"</head><body>{''.join(body)}</body></html>\n"
    )
