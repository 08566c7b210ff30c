"""What the Markdown and HTML parsers hand to the folder loader, and the helpers they share.

A parser writes its plain text with an indexed placeholder where each image stood;
:func:`finish` removes the placeholders, tidies the whitespace around them and returns each
image's offset in the final text: the end of the text before it, so an image follows the
sentence that introduces it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from m2io.text import FENCE

_OPEN, _CLOSE = "\ue000", "\ue001"
# Code points the parsers use as markers (U+E000-U+E003: image and code-span placeholders) and
# control characters that are not text (HTML's parser uses \x01-\x04 as break marks).
_RESERVED = re.compile("[\ue000-\ue003]")
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f]")
_PLACEHOLDER = re.compile(f"{_OPEN}(\\d+){_CLOSE}")
_FIGURE_NUMBER = re.compile(r"^(?:Figure|Fig\.|Image|Illustration|Example|Table)\s+[\w.-]*\d\.?\s*")
_ICON_WORDS = frozenset(
    "prev previous next home up down left right top back forward note warning tip caution "
    "important danger "
    "info toc index contents arrow bullet spacer blank pixel transparent logo".split()
)
_ICON_EXTRAS = frozenset("icon icons nav btn button small sm large arrow s l".split())


def scrub(text: str) -> str:
    """Input text made safe to mark up: the parsers' marker code points become U+FFFD.

    U+E000-U+E003 (private use, which no text needs for its meaning) are what the parsers write
    as placeholders, so in the input they are replaced by U+FFFD (visible, and never mistaken
    for a marker); control characters other than whitespace are dropped.
    """
    return _CONTROL.sub("", _RESERVED.sub("\ufffd", text))


def placeholder(index: int) -> str:
    """The marker a parser writes in its text where image ``index`` stands."""
    return f"{_OPEN}{index}{_CLOSE}"


@dataclass
class RawImage:
    """An image as found in a source file, before its file is resolved and checked.

    Attributes:
        src: The reference as written (relative path, URL).
        alt: Alt text.
        title: Title attribute / Markdown title.
        caption: Caption from the surrounding figure (figcaption, figure title, caption block).
        decorative: The markup says it is not content (navigation, role="presentation", ...).
        width: Declared width in pixels, when given.
        height: Declared height in pixels, when given.
    """

    src: str
    alt: str = ""
    title: str = ""
    caption: str = ""
    decorative: bool = False
    width: int | None = None
    height: int | None = None

    @property
    def best_caption(self) -> str:
        """Figure caption, title and alt text combined without repeating one another; an alt
        text that only names the image's file (:func:`names_its_file`) is no caption."""
        alt = "" if names_its_file(self.alt, self.src) else self.alt
        return combine_captions(self.caption, self.title, alt)


@dataclass
class Parsed:
    """A parsed file: title, plain text, and images at offsets of that text."""

    title: str
    text: str
    images: list[tuple[int, RawImage]] = field(default_factory=list)
    language: str = ""  # declared by the file (<html lang>), "" when it declares none
    redirect: str = ""  # where a page that only forwards its reader points ("" for a page)
    frameset: bool = False  # a <frameset> page: its frames' pages are read in their own right


def _sep(space: str) -> str:
    if space.count("\n") >= 2:
        return "\n\n"
    if "\n" in space:
        return "\n"
    return " " if space else ""


def finish(title: str, marked: str, images: list[RawImage]) -> Parsed:
    """Remove the placeholders from ``marked`` and place ``images`` at their offsets.

    Whitespace on both sides of a placeholder is merged into one separator (a blank line if
    either side had one), and the image is placed at the end of the text before it.
    """
    out: list[str] = []
    length = 0
    pending = ""
    placed: list[tuple[int, RawImage]] = []
    pieces = _PLACEHOLDER.split(marked)
    for i, piece in enumerate(pieces):
        if i % 2:  # the captured index of a placeholder
            placed.append((length, images[int(piece)]))
            continue
        stripped = piece.lstrip()
        pending += piece[: len(piece) - len(stripped)]
        core = stripped.rstrip()
        if core:
            if out:
                out.append(_sep(pending))
                length += len(out[-1])
            out.append(core)
            length += len(core)
            pending = stripped[len(core) :]
    return Parsed(" ".join(title.split()), "".join(out), placed)


def clean_text(text: str) -> str:
    """Normalise line ends, drop trailing spaces and keep at most one blank line in a row."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "\n".join(line.rstrip(" \t") for line in text.split("\n"))  # linear, unlike a regex
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def fenced(code: str) -> str:
    """A preformatted block as the text carries it: its non-blank lines between two
    :data:`m2io.text.FENCE` lines, trailing spaces dropped and the indentation all lines share
    taken off ("" when it holds nothing). Blank lines inside go: a blank line ends a block of
    text. A line that is itself a fence (Markdown shown as an example) is left out.
    """
    lines = [ln.rstrip() for ln in code.replace("\r\n", "\n").split("\n")]
    lines = [ln.expandtabs(4) for ln in lines if ln.strip() and ln.strip() != FENCE]
    if not lines:
        return ""
    indent = min(len(ln) - len(ln.lstrip(" ")) for ln in lines)
    return "\n".join([FENCE, *(ln[indent:] for ln in lines), FENCE])


def strip_figure_number(title: str) -> str:
    """``"Figure 1.2. The Layers dialog"`` -> ``"The Layers dialog"``."""
    return _FIGURE_NUMBER.sub("", " ".join(title.split())).strip()


def _key(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.lower())


def _words(text: str) -> frozenset[str]:
    return frozenset(re.findall(r"[^\W_]+", text.lower()))


def _repeats(piece: str, other: str) -> bool:
    """Whether ``other`` already says ``piece``: its text holds it, or every word of ``piece``
    is among ``other``'s (a title and an alt text in different words, "The window to configure
    style" beside "The window to configure the style to be applied")."""
    return _key(piece) in _key(other) or _words(piece) <= _words(other)


def combine_captions(*pieces: str) -> str:
    """Join caption pieces in order of preference, leaving out any repeated in another.

    Example:
        >>> combine_captions("The Layers dialog", "", "Layers dialog")
        'The Layers dialog'
        >>> combine_captions("Blur filters", "Gaussian blur example")
        'Blur filters. Gaussian blur example'
        >>> combine_captions("Configure style", "The window to configure the style")
        'The window to configure the style'
    """
    kept: list[str] = []
    for piece in pieces:
        piece = " ".join(piece.split())
        if not _key(piece) or any(_repeats(piece, k) for k in kept):
            continue
        kept = [k for k in kept if not _repeats(k, piece)]
        kept.append(piece)
    out = ""
    for piece in kept:
        if out:
            out += " " if out[-1] in ".!?:;" else ". "
        out += piece
    return out


def _stem(path: str) -> str:
    name = path.split("?")[0].split("#")[0].replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    return re.sub(rf"{_IMAGE_SUFFIX}$", "", name, flags=re.IGNORECASE).lower()


def names_its_file(alt: str, src: str) -> bool:
    """Whether an alt text is only the image's own file name (``alt="./onecontour"`` for
    ``src="./onecontour.png"``, makeinfo's default; ``Screenshot.PNG``, ``images/screenshot``):
    the same name with or without its folder, ``./`` and extension, in any case."""
    text = alt.strip()
    if not text or not src.strip():
        return False
    return _stem(text) == _stem(src) != ""


def is_icon_word(text: str) -> bool:
    """Alt text such as ``"[Note]"``, ``"Prev"`` or ``"Home"``: an icon's label, not a caption."""
    words = re.findall(r"[a-z]+", text.lower())
    return bool(words) and len(words) <= 2 and all(w in _ICON_WORDS for w in words)


def looks_like_icon(src: str) -> bool:
    """A file name such as ``prev.png``, ``nav-home.gif``, ``warning_icon.svg``."""
    stem = PurePosixPath(src.split("?")[0].split("#")[0]).stem.lower()
    words = [w for w in re.split(r"[^a-z0-9]+", stem) if w]
    if not words or not any(w in _ICON_WORDS for w in words):
        return False
    return all(w in _ICON_WORDS or w in _ICON_EXTRAS or w.isdigit() for w in words)


_IMAGE_SUFFIX = r"\.(?:png|jpe?g|gif|bmp|tiff?|webp|svg|ico|avif|heic)"
_FILE_NAME = re.compile(
    rf"^(?:\S*{_IMAGE_SUFFIX}|\S*[/\\]\S*|\S*_\S*|[A-Za-z]+[-_]?\d+|\S*-\S*\d\S*)$",
    re.IGNORECASE,
)


def looks_like_file_name(caption: str) -> bool:
    """Whether ``caption`` is a file name or an id rather than words (``radicale_web.png``,
    ``IMG_0042.JPG``, ``screenshot-1``, ``images/foo``): one token with a file suffix, a path
    separator, an underscore, or letters followed by a number."""
    text = caption.strip()
    return bool(text) and _FILE_NAME.match(text) is not None
