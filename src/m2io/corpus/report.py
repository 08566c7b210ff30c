"""What a corpus loader returns, and the checks it shares: decoding, image verification.

Loaders never silently drop input. A problem that leaves the rest usable (a missing or corrupt
image, a marker count that does not match, bytes that are not UTF-8) becomes a line in
:attr:`Corpus.warnings` and the loader goes on; a problem that makes the input unreadable (a
malformed JSON line, a record of the wrong shape, no documents at all) raises :class:`CorpusError`
naming the file and line.
"""

from __future__ import annotations

import codecs
import logging
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from m2io.safety import MAX_PATH, UNSUPPORTED_SUFFIXES, NotRegularFile, open_regular, read_regular
from m2io.types import Document, ImageRef

logger = logging.getLogger(__name__)

# How many distinct problems a summary shows one line each; past this it lists them compactly
# (names only, grouped by kind), still every one of them.
SUMMARY_LINES = 20
# How many of the documents that reference a file a problem line names before counting the rest.
_DOCS_SHOWN = 3


class CorpusError(ValueError):
    """Input that cannot be read as a corpus; the message names the file (and line)."""


@dataclass(frozen=True)
class Problem:
    """One distinct problem: a file (or reference) and what is wrong with it, however often seen.

    Attributes:
        subject: What the problem is about: an image id (``images/foo.png``), a reference as
            written, or, for a problem recorded without a subject, the whole warning line.
        kind: What is wrong (``"missing"``, ``"corrupt (…)"``, ``"refused: …"``); ``""`` for a
            problem recorded without a subject.
        count: How many warnings it stands for (one per reference).
        documents: The documents that reference it, distinct, in the order first seen.

    Example:
        >>> Problem("images/foo.png", "missing", 71, ("a.md", "b.md")).line()
        'images/foo.png: missing, referenced 71 times (in a.md, b.md)'
    """

    subject: str
    kind: str
    count: int
    documents: tuple[str, ...] = ()

    def line(self) -> str:
        """One readable line: what, what is wrong, how often, and where."""
        if not self.kind:
            return self.subject if self.count == 1 else f"{self.subject} ({self.count} times)"
        times = f", referenced {self.count} times" if self.count > 1 else ""
        return f"{self.subject}: {self.kind}{times}{_where(self.documents)}"


def _where(documents: tuple[str, ...]) -> str:
    if not documents:
        return ""
    shown = ", ".join(documents[:_DOCS_SHOWN])
    if len(documents) > _DOCS_SHOWN:
        shown += f", … {len(documents)} documents"
    return f" (in {shown})"


def format_problems(problems: list[Problem], *, limit: int = SUMMARY_LINES) -> list[str]:
    """Lines that name every problem: one line each up to ``limit``, else compact per kind.

    Compact form, used past ``limit`` distinct problems: one line per kind listing every subject
    (with its reference count when above one), files that share a folder listed under it once
    (``missing (210 files in icons/): a.png, b.png, …``), then each problem that has no subject.
    Nothing is hidden behind "and N more".

    Example:
        >>> format_problems([Problem("a.png", "missing", 3, ("x.md",))])
        ['a.png: missing, referenced 3 times (in x.md)']
    """
    if len(problems) <= limit:
        return [p.line() for p in problems]
    by_kind: dict[str, list[Problem]] = {}
    loose: list[str] = []
    for p in problems:
        if p.kind:
            by_kind.setdefault(p.kind, []).append(p)
        else:
            loose.append(p.line())
    lines = []
    for kind, group in by_kind.items():
        for folder, members in _by_folder(group):
            names = ", ".join(
                (_bare(p.subject)[len(folder) :] if folder else p.subject)
                + (f" (×{p.count})" if p.count > 1 else "")
                for p in members
            )
            noun = "file" if len(members) == 1 else "files"
            where = f" in {folder}" if folder else ""
            lines.append(f"{kind} ({len(members)} {noun}{where}): {names}")
    return lines + loose


FOLDER_GROUP = 3
"""Files of one kind sharing a folder are listed under it from this many on."""


def _bare(subject: str) -> str:
    """A subject without the quotes a repr() put around it (names from hostile documents)."""
    if len(subject) > 1 and subject[0] == subject[-1] and subject[0] in "'\"":
        return subject[1:-1]
    return subject


def _by_folder(group: list[Problem]) -> list[tuple[str, list[Problem]]]:
    """``group`` split by the folder of each subject (``"img/"``), in first-seen order; folders
    with fewer than :data:`FOLDER_GROUP` files stay together under ``""`` with full paths."""
    folders: dict[str, list[Problem]] = {}
    for p in group:
        bare = _bare(p.subject)
        folders.setdefault(bare[: bare.rfind("/") + 1], []).append(p)
    grouped = [(f, ps) for f, ps in folders.items() if f and len(ps) >= FOLDER_GROUP]
    kept = {id(p) for _, ps in grouped for p in ps}
    rest = [p for p in group if id(p) not in kept]
    return ([("", rest)] if rest else []) + grouped


@dataclass
class Corpus:
    """Documents loaded from one source, with every image they use and what went wrong.

    Attributes:
        documents: Documents in source order.
        images: Every usable image that some document anchors, keyed by image id.
        warnings: One human-readable line per problem that was skipped over (one per
            occurrence: an image referenced 71 times that is missing gives 71 lines;
            :meth:`problems` groups them).
        root: The folder the corpus was loaded from (absolute).
        skipped: Files left out on purpose, under their reason.

    Example (on the GIMP manual of the benchmark: 672 documents, 1761 images, no warning or
    problem)::

        from m2io.corpus import load_corpus

        corpus = load_corpus("../shared/bench/gimp")
        len(corpus), len(corpus.images), corpus.warnings[:3]  # (672, 1761, [])
        [p.line() for p in corpus.problems()]                 # []
    """

    documents: list[Document] = field(default_factory=list)
    images: dict[str, ImageRef] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    root: str = ""
    skipped: dict[str, list[str]] = field(default_factory=dict)
    """Files left out on purpose, under their reason (generator furniture, copies of pages,
    ``--include``/``--exclude``): not problems; :func:`m2io.corpus.skips.skipped_lines` says
    them in a few lines."""
    # warning line -> (subject, kind, document), for grouping; lines not in it stand alone
    _subjects: dict[str, tuple[str, str, str]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def __len__(self) -> int:
        return len(self.documents)

    def get(self, doc_id: str) -> Document | None:
        """The document with ``doc_id``, or None."""
        for doc in self.documents:
            if doc.doc_id == doc_id:
                return doc
        return None

    def warn(
        self,
        message: str,
        *,
        subject: str = "",
        problem: str = "",
        document: str = "",
    ) -> None:
        """Record a skipped-over problem (also logged at DEBUG level).

        Args:
            message: The full warning line, kept in :attr:`warnings`.
            subject: The file or reference the problem is about (an image id); with ``problem``
                it groups repeated warnings into one :class:`Problem`.
            problem: What is wrong with ``subject``: ``"missing"``, ``"corrupt (…)"``, …
            document: The document that referenced ``subject``.
        """
        message, subject = _capped(message), _capped(subject)  # hostile names can be megabytes
        logger.debug("%s", message)
        self.warnings.append(message)
        if subject and problem:
            self.file_under(message, subject=subject, problem=problem, document=document)

    def file_under(self, message: str, *, subject: str, problem: str, document: str = "") -> None:
        """Group a warning already in :attr:`warnings` under ``subject`` and ``problem``."""
        self._subjects[message] = (subject, problem, document)

    def problems(self) -> list[Problem]:
        """The warnings grouped: one :class:`Problem` per distinct file and kind, in first-seen
        order, with how many references it stands for and which documents made them.

        A warning recorded without a subject is a problem of its own (identical lines are
        counted together).
        """
        counts: dict[tuple[str, str], int] = {}
        documents: dict[tuple[str, str], dict[str, None]] = {}
        for message in self.warnings:
            subject, kind, document = self._subjects.get(message, (message, "", ""))
            key = (subject, kind)
            counts[key] = counts.get(key, 0) + 1
            docs = documents.setdefault(key, {})
            if document:
                docs[document] = None
        return [Problem(s, k, n, tuple(documents[(s, k)])) for (s, k), n in counts.items()]

    def log_summary(self, what: str) -> None:
        """Log one INFO line on what was loaded, and one WARNING naming every problem, grouped."""
        n_anchors = sum(len(d.images) for d in self.documents)
        logger.info(
            "%s: %d documents, %d images (%d anchors) from %s",
            what,
            len(self.documents),
            len(self.images),
            n_anchors,
            self.root,
        )
        problems = self.problems()
        if problems:
            logger.warning(
                "%s: %s\n  %s",
                what,
                problems_headline(problems),
                "\n  ".join(format_problems(problems)),
            )


MAX_LINE = MAX_PATH + 400
"""Longest warning line kept or logged: room for one path of :data:`~m2io.safety.MAX_PATH`."""


def _capped(line: str) -> str:
    if len(line) <= MAX_LINE:
        return line
    return f"{line[:MAX_LINE]}… (line cut: {len(line)} characters)"


def problems_headline(problems: list[Problem]) -> str:
    """``"2 problems (73 occurrences) skipped over:"``, or ``"1 problem skipped over:"``."""
    total = sum(p.count for p in problems)
    noun = "problem" if len(problems) == 1 else "problems"
    refs = f" ({total} occurrences)" if total != len(problems) else ""
    return f"{len(problems)} {noun}{refs} skipped over:"


_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# <meta charset=...> or <meta http-equiv="Content-Type" content="text/html; charset=...">; the
# prescan reads at most the first _PRESCAN bytes, so it is bounded whatever the page.
_PRESCAN = 2048
_META = re.compile(rb"<meta\b[^<>]{0,512}?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]{1,40})", re.I)
# What the HTML standard makes of some labels: Latin-1 and ASCII pages are read as windows-1252
# (what browsers do), and a UTF-16/32 label without a BOM cannot be right (the prescan read it as
# ASCII), so it means UTF-8.
_HTML_LABELS = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "ascii": "cp1252",
    "us-ascii": "cp1252",
    "utf-16": "utf-8",
    "utf-16le": "utf-8",
    "utf-16be": "utf-8",
    "utf-32": "utf-8",
    "x-user-defined": "cp1252",
}


def _bom(data: bytes) -> tuple[str, int] | None:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding, len(bom)
    return None


def _decode_as(data: bytes, encoding: str, where: str, warnings: list[str]) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        name = "UTF-8" if encoding == "utf-8" else encoding
        warnings.append(
            f"{where}: invalid {name} at byte {exc.start}; undecodable bytes replaced with U+FFFD"
        )
        return data.decode(encoding, errors="replace")


def decode(data: bytes, where: str, warnings: list[str]) -> str:
    """Decode text: a byte-order mark decides (UTF-8, UTF-16, UTF-32), else UTF-8.

    Undecodable bytes become U+FFFD and are reported; the BOM itself is dropped.

    Args:
        data: Raw bytes.
        where: Location named in the warning, e.g. ``"doc_x.jsonl:12"``.
        warnings: List the warning is appended to.
    """
    found = _bom(data)
    if found:
        return _decode_as(data[found[1] :], found[0], where, warnings)
    return _decode_as(data, "utf-8", where, warnings)


def html_charset(data: bytes) -> str | None:
    """The charset a page declares in a ``<meta>`` tag within its first 2 KB, as written, or None."""
    m = _META.search(data[:_PRESCAN])
    return m.group(1).decode("ascii").lower() if m else None


def decode_html(data: bytes, where: str, warnings: list[str]) -> str:
    """Decode an HTML page: a BOM decides first, then ``<meta charset>``, else UTF-8.

    The meta tag is looked for in the first 2 KB, in its two forms (``<meta charset=…>`` and
    ``<meta http-equiv="Content-Type" content="…; charset=…">``); Latin-1 and ASCII labels are
    read as windows-1252, as browsers do. A charset Python does not know is reported and the page
    read as UTF-8.

    Example:
        >>> decode_html(b'<meta charset="iso-8859-1"><p>caf\\xe9</p>', "a.html", [])[-8:]
        'café</p>'
    """
    if _bom(data):
        return decode(data, where, warnings)
    label = html_charset(data)
    if label is None:
        return decode(data, where, warnings)
    encoding = _HTML_LABELS.get(label, label)
    try:
        info = codecs.lookup(encoding)
        if not getattr(info, "_is_text_encoding", True):  # base64, rot13, zlib: not charsets
            raise LookupError(encoding)
        encoding = info.name
    except LookupError:
        warnings.append(f"{where}: unknown charset {label!r} in <meta>; read as UTF-8")
        return decode(data, where, warnings)
    return _decode_as(data, encoding, where, warnings)


def read_corpus_file(path: Path) -> bytes:
    """The bytes of a corpus file that must be there (an MRAMG ``doc_``/question file).

    Raises:
        CorpusError: not a regular file (a FIFO or device is refused, never waited on), or
            unreadable; the message names the path.
    """
    try:
        return read_regular(path)
    except NotRegularFile as exc:
        raise CorpusError(f"{exc}; refused") from exc
    except OSError as exc:
        raise CorpusError(f"{path}: cannot read: {exc}") from exc


def read_lines(path: Path, warnings: list[str]) -> list[tuple[int, str]]:
    """Non-blank lines of a text file as ``(line_number, text)``, 1-based.

    Each line is decoded on its own so a bad byte is reported with its line number.
    """
    raw = read_corpus_file(path)
    out: list[tuple[int, str]] = []
    for lineno, chunk in enumerate(raw.split(b"\n"), start=1):
        if not chunk.strip():
            continue
        out.append((lineno, decode(chunk, f"{path.name}:{lineno}", warnings).rstrip("\r")))
    return out


@dataclass(frozen=True)
class ImageStatus:
    """Result of checking one image file.

    Attributes:
        ok: The file exists and Pillow could verify it.
        problem: ``"missing"`` (absent or unreadable), ``"unsupported"`` (a vector or layered
            format m2io does not read) or ``"corrupt"`` when not ok.
        reason: Why: the OS's or Pillow's complaint, or the unsupported format's name.
        size: ``(width, height)`` when known.
    """

    ok: bool
    problem: str = ""
    reason: str = ""
    size: tuple[int, int] | None = None


# Pillow signals truncated or malformed files with any of these.
_PILLOW_ERRORS = (
    UnidentifiedImageError,
    Image.DecompressionBombError,
    OSError,
    SyntaxError,
    ValueError,
    struct.error,
    EOFError,
)


class ImageChecker:
    """Checks image files once each: exists, is a format m2io reads, and is not broken.

    PNG, GIF and the others go through ``Image.verify()``, which reads the file's structure
    (PNG: every chunk and its checksum, so a truncated PNG fails) without decoding pixels. JPEG's
    ``verify()`` checks nothing, so a JPEG is decoded instead, at 1/8 scale (``Image.draft``:
    libjpeg skips most of the work); a truncated JPEG then fails. On the GIMP dev set (1761
    PNG/JPEG files, 50 MB) the whole check costs about 0.5 s.

    Args:
        verify: When False only existence and format are checked (fastest; corrupt files get
            through).
    """

    def __init__(self, *, verify: bool = True) -> None:
        self.verify = verify
        self._cache: dict[str, ImageStatus] = {}

    def check(self, path: str | Path) -> ImageStatus:
        """The status of the image at ``path`` (cached by path)."""
        key = str(path)
        status = self._cache.get(key)
        if status is None:
            status = self._check(Path(path))
            self._cache[key] = status
        return status

    def _check(self, path: Path) -> ImageStatus:
        try:
            if not path.exists():
                return ImageStatus(False, "missing")
        except (OSError, ValueError) as exc:  # name too long, NUL byte, permission
            return ImageStatus(False, "missing", f"unreadable: {type(exc).__name__}: {exc}")
        if path.suffix.lower() in UNSUPPORTED_SUFFIXES and path.is_file():
            return ImageStatus(False, "unsupported", path.suffix.lower().lstrip("."))
        try:
            f = open_regular(path)  # a FIFO, device or socket is refused, never waited on
        except NotRegularFile as exc:
            return ImageStatus(False, "missing", exc.what)
        except (OSError, ValueError) as exc:
            return ImageStatus(False, "missing", f"unreadable: {type(exc).__name__}: {exc}")
        if not self.verify:
            f.close()
            return ImageStatus(True)
        try:
            with f, Image.open(f) as im:
                size = im.size
                if im.format == "JPEG":
                    im.draft("RGB", (max(size[0] // 8, 1), max(size[1] // 8, 1)))
                    im.load()  # raises on a truncated file (LOAD_TRUNCATED_IMAGES is off)
                else:
                    im.verify()
        except _PILLOW_ERRORS as exc:
            return ImageStatus(False, "corrupt", f"{type(exc).__name__}: {exc}")
        return ImageStatus(True, size=size)
