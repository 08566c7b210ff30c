"""Markdown to plain text with images at offsets.

Understands inline images ``![alt](path "title")``, reference images ``![alt][ref]`` /
``![alt][]`` / ``![alt]`` with ``[ref]: path "title"`` definitions, raw ``<img>`` tags and raw
``<figure>`` blocks with a ``<figcaption>``. The text keeps its paragraphs; heading marks,
emphasis, link targets (a URL may hold balanced parentheses), comments, raw tags
and ``<script>``/``<style>`` blocks are removed; fenced code and inline code spans are kept
verbatim, and an ``<img>`` written in code is text, not an image. A list bullet (``-``, ``*``,
``+``) becomes "• ", so each item stays a sentence of its own. No Markdown library is needed.

Hostile input (see ``docs/design.md``, "Hostile input"): every pattern here runs in time linear
in its input. No repeated sub-pattern can scan past the next bracket, angle bracket or
delimiter of its own kind, so an opener without a closer (``"![" * 40000``) costs one short scan,
not a scan to the end of the text; comments, scripts, code spans and figures are found with
forward-only scans. The code points the parser uses as placeholders are replaced in the input
first (:func:`~m2io.corpus.parsed.scrub`), so they cannot collide with its own markers.

Entities: the text is plain text, not HTML. Raw tags are removed *before* entities are decoded,
so ``&lt;script&gt;`` stays the visible text ``<script>`` (what the author wrote), never a tag
that the tag-stripping step could see; every renderer escapes document text for its format.
"""

from __future__ import annotations

import html
import re
from collections import defaultdict, deque

from m2io.corpus.mdblocks import notes, tables
from m2io.corpus.parsed import (
    Parsed,
    RawImage,
    clean_text,
    fenced,
    finish,
    placeholder,
    scrub,
)

_CODE_OPEN, _CODE_CLOSE = "\ue002", "\ue003"  # inline code span placeholders (scrubbed from input)
_CODE_MARK = re.compile(f"{_CODE_OPEN}(\\d+){_CODE_CLOSE}")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)
_TITLE_FIELD = re.compile(r"^title:[ \t]*([^\n]*)$", re.M)
_TITLE = r"""(?:"(?P<t1>(?:[^"\\\n]|\\.)*)"|'(?P<t2>(?:[^'\\\n]|\\.)*)'|\((?P<t3>(?:[^()\\\n]|\\.)*)\))"""
_REF_DEF = re.compile(
    r"""^ {0,3}\[(?P<label>[^\[\]\n]{1,999})\]:[ \t]*<?(?P<dest>[^\s<>]+)>?"""
    rf"""(?:[ \t]+{_TITLE})?[ \t]*$""",
    re.M,
)
_IMG_TAG = r"""<img\b(?:[^<>"']|"[^"<]*"|'[^'<]*')*>"""  # a quoted value may hold ">"
_ALT = r"(?:[^\[\]\\]|\\.)*"  # stops at the next bracket: an unclosed "![" costs a short scan
_IMAGE = re.compile(
    r"(?P<figure><figure\b[^<>]*>(?:(?!</?figure\b)[\s\S])*</figure\s*>)"
    rf"|(?P<imgtag>{_IMG_TAG})"
    rf"|!\[(?P<alt>{_ALT})\]\(\s*(?P<dest><[^<>\n]*>|(?:[^\s()]|\([^\s()]*\))+)"
    rf"(?:\s+{_TITLE})?\s*\)"
    rf"|!\[(?P<ralt>{_ALT})\](?:\[(?P<ref>[^\[\]]*)\])?",
    re.I,
)
_ATTR = re.compile(r"""([^\s"'<>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?""")
_FIGCAPTION = re.compile(r"<figcaption\b[^<>]*>", re.I)
_FIGCAPTION_END = re.compile(r"</figcaption\s*>", re.I)
_ANY_TAG = re.compile(r"<[^<>]*>")
_SCRIPT = re.compile(r"<(script|style)\b", re.I)
_ATX = re.compile(r"^ {0,3}#{1,6}[ \t]+([^\n]*)$", re.M)
_SETEXT = re.compile(r"^(?! {0,3}[-=])(\S[^\n]*)\n {0,3}(?:=+|-+)[ \t]*$", re.M)
# a heading's id, Pandoc/Docusaurus/MkDocs style: "## Install {#install}" (also "{#x .class}")
_HEADING_ID = re.compile(r"(?<![ \t])[ \t]+\{#[^{}\s]+(?:[ \t]+[^{}\n]*)?\}[ \t]*$", re.M)
_LINE_RULES = [
    (_HEADING_ID, ""),
    (re.compile(r"^ {0,3}#{1,6}[ \t]*$", re.M), ""),
    (_ATX, lambda m: _atx_text(m.group(1))),
    (re.compile(r"^ {0,3}(?:=+|-+)[ \t]*$", re.M), ""),  # setext underline or rule
    (re.compile(r"^ {0,3}([*_])(?:[ \t]*\1){2,}[ \t]*$", re.M), ""),  # thematic break
    (re.compile(r"^(?: {0,3}>[ \t]?)+", re.M), ""),  # blockquote marks
    # a bullet becomes "• ": each item stays a sentence of its own, not a run-on with the next
    (re.compile(r"^[ \t]*[-*+][ \t]+", re.M), "\u2022 "),
    (re.compile(r"^\|?[ \t]*:?-{2,}:?[ \t]*(?:\|[ \t]*:?-{2,}:?[ \t]*)*\|?[ \t]*$", re.M), ""),
]
_INLINE_RULES = [
    (re.compile(r"<(https?://[^<>\s]+)>"), r"\1"),  # autolink
    (re.compile(r"<br\s*/?>", re.I), "\n"),
    (re.compile(r"</?(?:p|div|section|table|tr|ul|ol|li|h[1-6]|blockquote)\b[^<>]*>", re.I), "\n"),
    (re.compile(r"</?[A-Za-z][\w-]*(?:\s[^<>]*)?/?>"), ""),  # any other raw tag
    # [text](url), the URL with one level of balanced parentheses: [x](https://w.org/Foo_(bar))
    (re.compile(rf"\[({_ALT})\]\((?:[^()\n]|\([^()\n]*\))*\)"), r"\1"),
    (re.compile(r"\[((?:[^\[\]\\]|\\.)+)\]\[[^\[\]]*\]"), r"\1"),  # [text][ref]
    (re.compile(r"\*\*(?=\S)((?:[^*\n]|\*(?!\*))+?)(?<=\S)\*\*"), r"\1"),
    (re.compile(r"__(?=\S)((?:[^_\n]|_(?!_))+?)(?<=\S)__"), r"\1"),
    (re.compile(r"(?<![\w*])\*(?=[^\s*])([^*\n]+?)(?<=\S)\*(?![\w*])"), r"\1"),
    (re.compile(r"(?<!\w)_(?=\S)([^_\n]+?)(?<=\S)_(?!\w)"), r"\1"),
    (re.compile(r"\\([!-/:-@\[-`{-~])"), r"\1"),  # backslash escapes
]


def _atx_text(line: str) -> str:
    """A heading line's text without its id (``{#install}``) and optional closing ``#`` run."""
    line = _HEADING_ID.sub("", line.rstrip(" \t"))
    bare = line.rstrip("#")
    if bare != line and (not bare or bare[-1] in " \t"):
        line = bare.rstrip(" \t")
    return line


def _label(text: str) -> str:
    return " ".join(text.lower().split())


def _unescape(text: str) -> str:
    return " ".join(html.unescape(re.sub(r"\\(.)", r"\1", text)).split())


def _inline(text: str) -> str:
    for pattern, repl in _INLINE_RULES:
        text = pattern.sub(repl, text)
    return html.unescape(text)


class _Code:
    """Inline code spans swapped for placeholders while the prose around them is parsed.

    A span opens at a run of backticks (not escaped) and closes at the next run of the same
    length in the same paragraph; the runs are indexed by length once, so finding every span is
    linear however many unmatched backticks there are.
    """

    def __init__(self) -> None:
        self.spans: list[str] = []

    def protect(self, text: str) -> str:
        return "".join(self._paragraph(p) for p in re.split(r"(\n[ \t]*\n)", text))

    def _paragraph(self, text: str) -> str:
        runs = [(m.start(), m.end()) for m in re.finditer(r"`+", text)]
        if len(runs) < 2:
            return text
        by_length: dict[int, deque[int]] = defaultdict(deque)
        for k, (start, end) in enumerate(runs):
            by_length[end - start].append(k)
        out: list[str] = []
        pos = 0
        k = 0
        while k < len(runs):
            start, end = runs[k]
            same = by_length[end - start]
            while same and same[0] <= k:
                same.popleft()
            if not same or (start and text[start - 1] == "\\"):
                k += 1
                continue
            close = same.popleft()
            content = text[end : runs[close][0]].replace("\n", " ")
            if content.startswith(" ") and content.endswith(" ") and content.strip():
                content = content[1:-1]
            out.append(text[pos:start])
            out.append(f"{_CODE_OPEN}{len(self.spans)}{_CODE_CLOSE}")
            self.spans.append(content)
            pos = runs[close][1]
            k = close + 1
        out.append(text[pos:])
        return "".join(out)

    def restore(self, text: str) -> str:
        return _CODE_MARK.sub(lambda m: self.spans[int(m.group(1))], text)


def _drop_blocks(text: str) -> str:
    """Remove ``<!-- comments -->`` and ``<script>``/``<style>`` elements, scanning forward once.

    An unclosed comment or script is left as text: nothing the author wrote is lost silently.
    """
    out: list[str] = []
    pos = 0
    comment = text.find("<!--")
    script = _SCRIPT.search(text)
    while comment >= 0 or script is not None:
        # each finder moves forward only: the next match is looked for again only once passed
        if 0 <= comment < pos:
            comment = text.find("<!--", pos)
        if script is not None and script.start() < pos:
            script = _SCRIPT.search(text, pos)
        if comment < 0 and script is None:
            break
        if script is None or 0 <= comment < script.start():
            start, end = comment, text.find("-->", comment + 4)
            end = end + 3 if end >= 0 else -1
        else:
            start = script.start()
            close = re.compile(rf"</{script.group(1)}\s*>", re.I).search(text, script.end())
            end = close.end() if close else -1
        if end < 0:
            break
        out.append(text[pos:start])
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _attrs(tag: str) -> dict[str, str]:
    """Attributes of one raw tag (``<img src="a.png" alt=x>``); the first of a name wins."""
    found: dict[str, str] = {}
    for m in _ATTR.finditer(tag, tag.find(" ") + 1 if " " in tag else len(tag)):
        value = next((v for v in m.group(2, 3, 4) if v is not None), "")
        found.setdefault(m.group(1).lower(), html.unescape(value))
    return found


def _img(tag: str, caption: str = "") -> RawImage:
    attrs = _attrs(tag.replace("\n", " ").replace("\t", " "))
    return RawImage(
        src=attrs.get("src", "").strip(),
        alt=" ".join(attrs.get("alt", "").split()),
        title=" ".join(attrs.get("title", "").split()),
        caption=caption,
        decorative=attrs.get("role", "").lower() in ("presentation", "none")
        or attrs.get("aria-hidden", "").lower() == "true",
    )


def _figure(body: str) -> tuple[list[RawImage], str]:
    """The images and caption text of one ``<figure>`` element."""
    caption = ""
    start = _FIGCAPTION.search(body)
    if start:
        end = _FIGCAPTION_END.search(body, start.end())
        inner = body[start.end() : end.start() if end else len(body)]
        caption = " ".join(html.unescape(_ANY_TAG.sub(" ", inner)).split())
    tags = re.findall(_IMG_TAG, body, re.I)
    return [_img(tag, caption) for tag in tags], caption


class _ImageReplacer:
    """Replaces each image construct with placeholders, collecting the images in text order."""

    def __init__(self, refs: dict[str, tuple[str, str]], code: _Code) -> None:
        self.refs = refs
        self.code = code
        self.images: list[RawImage] = []

    def _add(self, images: list[RawImage]) -> str:
        marks = []
        for image in images:
            marks.append(placeholder(len(self.images)))
            self.images.append(image)
        return "".join(marks)

    def _text(self, text: str) -> str:
        return _unescape(self.code.restore(text))

    def __call__(self, m: re.Match[str]) -> str:
        if m.group("figure"):
            images, caption = _figure(m.group("figure"))
            return f"\n\n{self._add(images)}\n\n{caption}\n\n"
        if m.group("imgtag"):
            return self._add([_img(m.group("imgtag"))])
        title = m.group("t1") or m.group("t2") or m.group("t3") or ""
        if m.group("dest") is not None:
            dest = m.group("dest").strip("<>")
            return self._add([RawImage(dest, self._text(m.group("alt")), self._text(title))])
        alt = m.group("ralt")
        ref = self.refs.get(_label(m.group("ref") or alt))
        if ref is None:
            return m.group(0)  # not a defined reference: leave the text alone
        return self._add([RawImage(ref[0], self._text(alt), _unescape(ref[1]))])


def _heading_text(line: str) -> str:
    code = _Code()
    return " ".join(code.restore(_inline(code.protect(line))).split())


def _title(segments: list[tuple[bool, str]], front: str) -> str:
    m = _TITLE_FIELD.search(front)
    if m:
        value = m.group(1).strip(" \t")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        if value.strip():
            return value.strip()
    prose = "\n\n".join(s for code, s in segments if not code)
    found = [h for h in (_ATX.search(prose), _SETEXT.search(prose)) if h]
    if not found:
        return ""
    first = min(found, key=lambda h: h.start())
    text = _atx_text(first.group(1)) if first.re is _ATX else _HEADING_ID.sub("", first.group(1))
    return _heading_text(text)


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


def markdown_to_text(text: str) -> Parsed:
    """Parse Markdown into title, plain text and images at offsets.

    The title is the front matter's ``title:``, else the first heading. Runs in time linear in
    the length of ``text``, whatever it holds.

    Example:
        >>> parsed = markdown_to_text("# Layers\\n\\nThe dialog. ![Layers](img/l.png)\\n\\nUse `<img>`.")
        >>> parsed.title, parsed.text, [(o, i.src) for o, i in parsed.images]
        ('Layers', 'Layers\\n\\nThe dialog.\\n\\nUse <img>.', [(19, 'img/l.png')])
    """
    text = scrub(text.replace("\r\n", "\n").replace("\r", "\n"))
    front = ""
    fm = _FRONT_MATTER.match(text)
    if fm:
        front, text = fm.group(1), text[fm.end() :]
    segments = _segments(notes(text))
    refs: dict[str, tuple[str, str]] = {}
    for code, seg in segments:
        if not code:
            for m in _REF_DEF.finditer(seg):
                title = m.group("t1") or m.group("t2") or m.group("t3") or ""
                refs.setdefault(_label(m.group("label")), (m.group("dest"), title))
    spans = _Code()
    replacer = _ImageReplacer(refs, spans)
    parts: list[str] = []
    for code, seg in segments:
        if code:
            parts.append(fenced(seg))  # its lines as written, one unit for the splitter
            continue
        seg = _REF_DEF.sub("", _drop_blocks(spans.protect(tables(seg))))
        seg = _IMAGE.sub(replacer, seg)
        for pattern, repl in _LINE_RULES:
            seg = pattern.sub(repl, seg)
        parts.append(spans.restore(_inline(seg)))
    return finish(_title(segments, front), clean_text("\n\n".join(parts)), replacer.images)
