"""Markdown to plain text with images at offsets.

Understands inline images ``![alt](path "title")``, reference images ``![alt][ref]`` /
``![alt][]`` / ``![alt]`` with ``[ref]: path "title"`` definitions, raw ``<img>`` tags and raw
``<figure>`` blocks with a ``<figcaption>``. The text keeps its paragraphs; heading marks,
emphasis, link targets, list bullets and raw tags are removed; fenced code is kept verbatim.
No Markdown library is needed.
"""

from __future__ import annotations

import html
import re

from bs4 import BeautifulSoup

from m2io.corpus.parsed import Parsed, RawImage, clean_text, finish, placeholder

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)
_TITLE_FIELD = re.compile(r"^title:[ \t]*([\"']?)(.*?)\1[ \t]*$", re.M)
_TITLE = r"""(?:"(?P<t1>(?:[^"\\]|\\.)*)"|'(?P<t2>(?:[^'\\]|\\.)*)'|\((?P<t3>(?:[^()\\]|\\.)*)\))"""
_REF_DEF = re.compile(
    r"""^ {0,3}\[(?P<label>[^\]]+)\]:[ \t]*<?(?P<dest>[^\s>]+)>?"""
    rf"""(?:[ \t]+{_TITLE})?[ \t]*$""",
    re.M,
)
_IMAGE = re.compile(
    r"(?P<figure>(?s:<figure\b[^>]*>.*?</figure\s*>))"
    r"|(?P<imgtag><img\b[^>]*>)"
    r"|!\[(?P<alt>(?:[^\]\\]|\\.)*)\]\(\s*(?P<dest><[^>\n]*>|[^\s)]+)"
    rf"(?:\s+{_TITLE})?\s*\)"
    r"|!\[(?P<ralt>(?:[^\]\\]|\\.)*)\](?:\[(?P<ref>[^\]]*)\])?",
    re.I,
)
_ATX = re.compile(r"^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$", re.M)
_SETEXT = re.compile(r"^(?! {0,3}[-=])(\S.*)\n {0,3}(?:=+|-+)[ \t]*$", re.M)
_LINE_RULES = [
    (re.compile(r"^ {0,3}#{1,6}[ \t]*$", re.M), ""),
    (_ATX, r"\1"),
    (re.compile(r"^ {0,3}(?:=+|-+)[ \t]*$", re.M), ""),  # setext underline or rule
    (re.compile(r"^ {0,3}([*_])(?:[ \t]*\1){2,}[ \t]*$", re.M), ""),  # thematic break
    (re.compile(r"^(?: {0,3}>[ \t]?)+", re.M), ""),  # blockquote marks
    (re.compile(r"^[ \t]*[-*+][ \t]+", re.M), ""),  # list bullets
    (re.compile(r"^\|?[ \t]*:?-{2,}:?[ \t]*(?:\|[ \t]*:?-{2,}:?[ \t]*)*\|?[ \t]*$", re.M), ""),
]
_INLINE_RULES = [
    (re.compile(r"<(https?://[^>\s]+)>"), r"\1"),  # autolink
    (re.compile(r"<br\s*/?>", re.I), "\n"),
    (re.compile(r"</?(?:p|div|section|table|tr|ul|ol|li|h[1-6]|blockquote)\b[^<>]*>", re.I), "\n"),
    (re.compile(r"</?[A-Za-z][\w-]*(?:\s[^<>]*)?/?>"), ""),  # any other raw tag
    (re.compile(r"\[((?:[^\]\\]|\\.)*)\]\([^)\n]*\)"), r"\1"),  # [text](url)
    (re.compile(r"\[((?:[^\]\\]|\\.)+)\]\[[^\]]*\]"), r"\1"),  # [text][ref]
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),
    (re.compile(r"(?<![\w*])\*(?=[^\s*])([^*\n]+?)(?<=\S)\*(?![\w*])"), r"\1"),
    (re.compile(r"(?<!\w)_(?=\S)([^_\n]+?)(?<=\S)_(?!\w)"), r"\1"),
    (re.compile(r"(`+)(.+?)\1"), r"\2"),
    (re.compile(r"\\([!-/:-@\[-`{-~])"), r"\1"),  # backslash escapes
]


def _label(text: str) -> str:
    return " ".join(text.lower().split())


def _unescape(text: str) -> str:
    return " ".join(html.unescape(re.sub(r"\\(.)", r"\1", text)).split())


def _inline(text: str) -> str:
    for pattern, repl in _INLINE_RULES:
        text = pattern.sub(repl, text)
    return html.unescape(text)


def _segments(text: str) -> list[tuple[bool, str]]:
    """Split into ``(is_code, text)`` runs; fence lines themselves are dropped."""
    out: list[tuple[bool, str]] = []
    buf: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        m = _FENCE.match(line)
        if fence is None and m:
            out.append((False, "\n".join(buf)))
            buf, fence = [], m.group(1)
        elif (
            fence is not None and m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence)
        ):
            out.append((True, "\n".join(buf)))
            buf, fence = [], None
        else:
            buf.append(line)
    out.append((fence is not None, "\n".join(buf)))
    return [(code, s) for code, s in out if s.strip()]


def _html_images(fragment: str, caption: str = "") -> list[RawImage]:
    soup = BeautifulSoup(fragment, "html.parser")
    return [
        RawImage(
            src=str(img.get("src") or "").strip(),
            alt=_unescape(str(img.get("alt") or "")),
            title=_unescape(str(img.get("title") or "")),
            caption=caption,
            decorative=str(img.get("role") or "").lower() in ("presentation", "none")
            or str(img.get("aria-hidden") or "").lower() == "true",
        )
        for img in soup.find_all("img")
    ]


class _ImageReplacer:
    """Replaces each image construct with placeholders, collecting the images in text order."""

    def __init__(self, refs: dict[str, tuple[str, str]]) -> None:
        self.refs = refs
        self.images: list[RawImage] = []

    def _add(self, images: list[RawImage]) -> str:
        marks = []
        for image in images:
            marks.append(placeholder(len(self.images)))
            self.images.append(image)
        return "".join(marks)

    def __call__(self, m: re.Match[str]) -> str:
        if m.group("figure"):
            soup = BeautifulSoup(m.group("figure"), "html.parser")
            cap_tag = soup.find("figcaption")
            caption = " ".join(cap_tag.get_text(" ").split()) if cap_tag else ""
            return f"\n\n{self._add(_html_images(m.group('figure'), caption))}\n\n{caption}\n\n"
        if m.group("imgtag"):
            return self._add(_html_images(m.group("imgtag")))
        title = m.group("t1") or m.group("t2") or m.group("t3") or ""
        if m.group("dest") is not None:
            dest = m.group("dest").strip("<>")
            return self._add([RawImage(dest, _unescape(m.group("alt")), _unescape(title))])
        alt = m.group("ralt")
        ref = self.refs.get(_label(m.group("ref") or alt))
        if ref is None:
            return m.group(0)  # not a defined reference: leave the text alone
        return self._add([RawImage(ref[0], _unescape(alt), _unescape(ref[1]))])


def _title(segments: list[tuple[bool, str]], front: str) -> str:
    m = _TITLE_FIELD.search(front)
    if m and m.group(2).strip():
        return m.group(2).strip()
    prose = "\n\n".join(s for code, s in segments if not code)
    found = [h for h in (_ATX.search(prose), _SETEXT.search(prose)) if h]
    if not found:
        return ""
    first = min(found, key=lambda h: h.start())
    return " ".join(_inline(first.group(1)).split())


def markdown_to_text(text: str) -> Parsed:
    """Parse Markdown into title, plain text and images at offsets.

    The title is the front matter's ``title:``, else the first heading.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    front = ""
    fm = _FRONT_MATTER.match(text)
    if fm:
        front, text = fm.group(1), text[fm.end() :]
    segments = _segments(text)
    refs: dict[str, tuple[str, str]] = {}
    for code, seg in segments:
        if not code:
            for m in _REF_DEF.finditer(seg):
                title = m.group("t1") or m.group("t2") or m.group("t3") or ""
                refs.setdefault(_label(m.group("label")), (m.group("dest"), title))
    replacer = _ImageReplacer(refs)
    parts: list[str] = []
    for code, seg in segments:
        if code:
            parts.append(seg)
            continue
        seg = _REF_DEF.sub("", re.sub(r"<!--.*?-->", "", seg, flags=re.S))
        seg = _IMAGE.sub(replacer, seg)
        for pattern, repl in _LINE_RULES:
            seg = pattern.sub(repl, seg)
        parts.append(_inline(seg))
    return finish(_title(segments, front), clean_text("\n\n".join(parts)), replacer.images)
