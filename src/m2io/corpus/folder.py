"""Load a folder of Markdown, HTML, plain-text and PDF files, with the images they reference.

PDF files are read by :mod:`m2io.corpus.pdf` (one document per section, ``file.pdf#page=N``),
EPUB and DOCX files by :mod:`m2io.corpus.packaged` (one document per EPUB chapter,
``book.epub#ch01.xhtml``; one per DOCX), their images written under ``.m2io-images/``. GNOME
help sources (Mallard ``*.page``, DocBook ``*.xml``/``*.docbook``) by :mod:`m2io.corpus.yelp`.

Every ``*.md``, ``*.markdown``, ``*.html``, ``*.htm``, ``*.xhtml`` and ``*.txt`` file under the folder
(hidden files and folders excepted) becomes one :class:`~m2io.types.Document`: ``doc_id`` is its
path relative to the folder (POSIX style), ``title`` its first heading (HTML: else ``<title>``;
else the file name), ``source`` its absolute path. Each image it references becomes an anchor at
the end of the text before it; the image id is the image file's path relative to the folder, so
ids are stable across runs and shared by documents that show the same file.

Decoration is left out, not reported: images in navigation, header or footer, marked
``role="presentation"``/``aria-hidden``, smaller than 24 px on both sides, or named like an icon
(``prev.png``, ``note.gif``) with no caption of their own.

Everything in the folder is hostile input (see ``docs/design.md``, "Hostile input"): every file
read, document or image, must resolve, symlinks followed, inside the folder
(:func:`m2io.safety.confine`), so ``../x.png``, ``file:///etc/x.png`` and links to outside files
are refused and reported; ``/img/a.png`` means the folder's ``img/a.png``, as on a web server.
A remote image is kept by URL only if it is an absolute http(s) URL. A file that cannot be parsed
is reported with its path and skipped; the rest of the folder loads. HTML is decoded by its BOM,
else its ``<meta charset>``, else as UTF-8; other files by their BOM, else as UTF-8.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from m2io.corpus.boilerplate import drop_repeated_lines
from m2io.corpus.parsed import Parsed, RawImage, clean_text, is_icon_word, looks_like_icon
from m2io.corpus.report import Corpus, CorpusError, ImageChecker, decode, decode_html
from m2io.corpus.skips import FRAMESET, NO_TEXT, REDIRECT, choose, possible_copies, skipped_lines
from m2io.language import detect, from_path
from m2io.safety import MAX_REFERENCE, clip, confine, read_regular, remote_image_url
from m2io.types import Document, ImageAnchor, ImageRef

logger = logging.getLogger(__name__)

MIN_IMAGE_SIDE = 24
"""Images smaller than this on both sides (in pixels) are taken as icons or spacers."""


def _plain(text: str) -> Parsed:
    return Parsed("", clean_text(text))


def _markdown(text: str) -> Parsed:
    from m2io.corpus.markdown import markdown_to_text  # imports BeautifulSoup: only when needed

    return markdown_to_text(text)


def _html(text: str, macros: Mapping[str, str] | None = None) -> Parsed:
    from m2io.corpus.htmldoc import html_to_text

    return html_to_text(text, macros=macros)


PACKAGED = (".pdf", ".epub", ".docx")
"""Suffixes read by their own loaders (:mod:`~m2io.corpus.pdf`, :mod:`~m2io.corpus.packaged`)."""
HELP = (".page", ".xml", ".docbook")
"""Suffixes of GNOME help sources, read together by :mod:`m2io.corpus.yelp` (an XML file that
is not DocBook is left out and listed)."""

PARSERS: dict[str, Callable[[str], Parsed]] = {
    ".md": _markdown,
    ".markdown": _markdown,
    ".html": _html,
    ".htm": _html,
    ".xhtml": _html,  # DocBook XSL's XHTML output (kildclient's manual)
    ".txt": _plain,
}
"""File suffix (lower case) -> parser."""


def _files(
    root: Path, include: tuple[str, ...], exclude: tuple[str, ...], corpus: Corpus
) -> list[Path]:
    """The files to read; those left out on purpose go to ``corpus.skipped`` (see skips)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            suffix = Path(name).suffix.lower()
            if name.startswith(".") or (
                suffix not in PARSERS and suffix not in PACKAGED and suffix not in HELP
            ):
                continue
            found.append(path.relative_to(root).as_posix())
    kept, skipped = choose(found, include, exclude)
    for reason, rels in skipped.items():
        corpus.skipped.setdefault(reason, []).extend(rels)
    return [root / rel for rel in kept]


class _ImageResolver:
    """Resolves the images a file references to checked :class:`ImageRef` records."""

    def __init__(self, root: Path, corpus: Corpus, checker: ImageChecker, min_side: int) -> None:
        self.root = root
        self.corpus = corpus
        self.checker = checker
        self.min_side = min_side
        self.decorative = 0

    def _skip(self, why: str, raw: RawImage, doc_id: str) -> None:
        self.decorative += 1
        logger.debug("skipped %s image %r in %s", why, raw.src, doc_id)

    def resolve(self, raw: RawImage, doc_path: Path, doc_id: str) -> ImageRef | None:
        """The image, or None when it is decoration (skipped) or unusable (reported)."""
        caption = raw.best_caption
        if not raw.src:
            return None
        if len(raw.src) > MAX_REFERENCE:  # resolved only below the cap: linear whatever the doc
            self.corpus.warn(
                f"image reference {clip(raw.src, 80)!r} in doc {doc_id} skipped (longer than "
                f"{MAX_REFERENCE} characters)",
                subject=repr(clip(raw.src, 80)),
                problem=f"refused (reference longer than {MAX_REFERENCE} characters)",
                document=doc_id,
            )
            return None
        if raw.decorative:
            self._skip("decorative", raw, doc_id)
            return None
        if looks_like_icon(raw.src) and (not caption or is_icon_word(caption)):
            self._skip("icon", raw, doc_id)
            return None
        try:
            parts = urlsplit(raw.src)
        except ValueError:  # "http://[", an unbalanced IPv6 bracket
            self.corpus.warn(
                f"malformed image reference {raw.src[:80]!r} in doc {doc_id} skipped",
                subject=repr(raw.src[:80]),
                problem="malformed reference",
                document=doc_id,
            )
            return None
        scheme = parts.scheme.lower()
        if scheme == "data":
            self.corpus.warn(
                f"inline data: image in doc {doc_id} skipped (not a file)",
                subject="data: image",
                problem="inline, not a file",
                document=doc_id,
            )
            return None
        if scheme in ("http", "https") or raw.src.startswith("//"):
            url = remote_image_url(raw.src)
            if url is None:
                self.corpus.warn(
                    f"image URL {raw.src[:80]!r} in doc {doc_id} refused (only absolute http(s) "
                    "URLs are kept)",
                    subject=repr(raw.src[:80]),
                    problem="refused (only absolute http(s) URLs are kept)",
                    document=doc_id,
                )
                return None
            return ImageRef(url, None, url, caption)
        if scheme == "file":
            path = Path(url2pathname(parts.path))  # an absolute path: confined like any other
        elif len(scheme) > 1:
            self.corpus.warn(
                f"image reference {raw.src[:80]!r} in doc {doc_id} refused "
                f"(unsupported URL scheme {scheme}:)",
                subject=repr(raw.src[:80]),
                problem=f"refused (unsupported URL scheme {scheme}:)",
                document=doc_id,
            )
            return None
        else:
            rel = unquote(parts.path)
            # "/img/a.png" means the site root, as on a web server: the corpus folder
            base = self.root if rel.startswith("/") else doc_path.parent
            path = base / rel.lstrip("/")
        return self._file(Path(os.path.normpath(path)), raw, caption, doc_id)

    def _file(self, path: Path, raw: RawImage, caption: str, doc_id: str) -> ImageRef | None:
        real = confine(path, self.root)
        if real is None:
            self.corpus.warn(
                f"image {raw.src[:80]!r} in doc {doc_id} refused: not a file inside the corpus "
                f"folder {self.root}",
                subject=repr(raw.src[:80]),
                problem="refused (not a file inside the corpus folder)",
                document=doc_id,
            )
            return None
        lexical = os.path.relpath(path, self.root)
        image_id = Path(lexical if not lexical.startswith("..") else real.relative_to(self.root))
        image_id = image_id.as_posix()
        status = self.checker.check(real)
        if not status.ok:
            if status.problem == "unsupported":
                self.corpus.warn(
                    f"unsupported format ({status.reason}) image {image_id} in doc {doc_id}; "
                    "image dropped, text kept",
                    subject=image_id,
                    problem=f"unsupported format ({status.reason})",
                    document=doc_id,
                )
                return None
            what = "missing" if status.problem == "missing" else "corrupt"
            reason = f": {status.reason}" if status.reason else ""
            self.corpus.warn(
                f"{what} image {image_id} ({path}{reason}) in doc {doc_id}; image dropped, "
                "text kept",
                subject=image_id,
                problem=f"{what} ({status.reason})" if status.reason else what,
                document=doc_id,
            )
            return None
        if status.size and max(status.size) < self.min_side:
            self._skip("tiny", raw, doc_id)
            return None
        return ImageRef(image_id, str(real), None, caption)


def _add_image(corpus: Corpus, image: ImageRef) -> None:
    known = corpus.images.get(image.image_id)
    if known is None or (not known.caption and image.caption):
        corpus.images[image.image_id] = image


ParseResult = tuple[Parsed | None, list[str], str]
"""What parsing one file gives: the parsed text and images (None on failure), the decoding
warnings, and the failure's message ("" when it parsed)."""

ParseMap = Callable[[Callable[[tuple[bytes, str, str]], ParseResult], list], Iterable]
"""``map``-like: applies a function to each item of a list, results in order (the builtin
``map``, or :meth:`m2io.embed.distributed.RayMap.map` to parse on Ray workers)."""

PARSE_BATCH = 256
"""Files read, then parsed together (on workers when a map is given), at a time."""


def parse_file(item: tuple) -> ParseResult:
    """Decode and parse one file's bytes (``(raw, suffix, doc_id)``, and for an HTML page
    optionally its folder's latex2html formulas, :func:`_latex2html_macros`): pure, so it can
    run in another process. A failure is returned, not raised: one hostile file never stops
    the rest."""
    raw, suffix, doc_id, *rest = item
    warnings: list[str] = []
    try:
        html = suffix in (".html", ".htm", ".xhtml")
        text = (decode_html if html else decode)(raw, doc_id, warnings)
        if html and rest and rest[0]:
            return _html(text, rest[0]), warnings, ""
        return PARSERS[suffix](text), warnings, ""
    except Exception as exc:  # noqa: BLE001 - reported with the file's path by the caller
        logger.debug("could not parse %s", doc_id, exc_info=True)
        return None, warnings, f"{type(exc).__name__}: {exc}"


def _document(
    parsed: Parsed, path: Path, doc_id: str, corpus: Corpus, images: _ImageResolver
) -> Document | None:
    """One parsed file as a document, or None (reported) when it holds nothing."""
    anchors: list[ImageAnchor] = []
    for offset, raw_image in parsed.images:
        image = images.resolve(raw_image, path, doc_id)
        if image is not None:
            anchors.append(ImageAnchor(image, offset))
            _add_image(corpus, image)
    if not parsed.text and not anchors:
        corpus.warn(f"{doc_id}: no text or images; skipped")
        return None
    title = parsed.title or path.stem.replace("_", " ").replace("-", " ")
    language = parsed.language or from_path(doc_id) or detect(parsed.text)
    return Document(doc_id, parsed.text, tuple(anchors), title, str(path), language)


def _latex2html_macros(root: Path) -> Callable[[Path], dict[str, str]]:
    """A folder's latex2html formula placeholders (its ``images.pl``, confined to ``root`` and
    read once; ``{}`` when it has none or it cannot be read)."""
    from m2io.corpus.latex2html import IMAGES_PL, MAX_IMAGES_PL, read_images_pl

    known: dict[Path, dict[str, str]] = {}

    def macros(folder: Path) -> dict[str, str]:
        if folder not in known:
            known[folder] = {}
            real = confine(folder / IMAGES_PL, root)
            try:
                if real is not None and real.is_file() and real.stat().st_size <= MAX_IMAGES_PL:
                    text = read_regular(real).decode("utf-8", "replace")
                    known[folder] = read_images_pl(text) if "LaTeX2HTML" in text[:200] else {}
            except OSError:
                logger.debug("could not read %s", real, exc_info=True)
        return known[folder]

    return macros


def _parse_batch(
    batch: list[tuple[Path, str, bytes]],
    corpus: Corpus,
    images: _ImageResolver,
    parse_map: ParseMap,
    macros: Callable[[Path], dict[str, str]],
) -> None:
    """Parse ``batch`` with ``parse_map`` and add its documents in file order."""
    if not batch:
        return
    items = [(raw, path.suffix.lower(), doc_id, macros(path.parent)) for path, doc_id, raw in batch]
    for (path, doc_id, _), (parsed, warnings, error) in zip(
        batch, parse_map(parse_file, items), strict=True
    ):
        corpus.warnings.extend(warnings)
        if parsed is None:
            corpus.warn(f"{doc_id}: could not be parsed ({error}); skipped")
            continue
        if parsed.redirect:  # Texinfo writes one per anchor: thousands of one-line pages
            corpus.skipped.setdefault(REDIRECT, []).append(doc_id)
            continue
        if parsed.frameset:  # "Jump to no frame version.": the frames are pages of their own
            corpus.skipped.setdefault(FRAMESET, []).append(doc_id)
            continue
        if not parsed.text.strip() and path.suffix.lower() in (".html", ".htm", ".xhtml"):
            # a frame's button bar, an image map: nothing a reader reads, nothing to retrieve by
            corpus.skipped.setdefault(NO_TEXT, []).append(doc_id)
            continue
        try:
            document = _document(parsed, path, doc_id, corpus, images)
        except Exception as exc:  # one hostile file must not abort the folder; see docstring
            logger.debug("could not load %s", doc_id, exc_info=True)
            corpus.warn(f"{doc_id}: could not be parsed ({type(exc).__name__}: {exc}); skipped")
            continue
        if document is not None:
            corpus.documents.append(document)


def _add_pdf(real: Path, rel: str, root: Path, corpus: Corpus) -> None:
    """A PDF's sections as documents (:mod:`m2io.corpus.pdf`); an unreadable one is reported."""
    from m2io.corpus.pdf import PdfError, read_pdf

    try:
        documents, warnings = read_pdf(real, rel, root)
    except PdfError as exc:
        corpus.warn(f"{rel}: {exc}; skipped")
        return
    for warning in warnings:
        corpus.warn(warning)
    for doc in documents:
        for anchor in doc.images:
            _add_image(corpus, anchor.image)
        corpus.documents.append(doc)


def _add_packaged(real: Path, rel: str, root: Path, corpus: Corpus, images: _ImageResolver) -> None:
    """An EPUB's chapters or a DOCX as documents (:mod:`m2io.corpus.packaged`)."""
    from dataclasses import replace

    from m2io.corpus.packaged import PackageError, docx_parsed, epub_chapters

    try:
        if real.suffix.lower() == ".epub":
            parts = [
                (f"{rel}#{name}", where, p) for name, where, p in epub_chapters(real, rel, root)
            ]
        else:
            parsed, where = docx_parsed(real, rel, root)
            parts = [(rel, where, parsed)]
    except PackageError as exc:
        corpus.warn(f"{rel}: {exc}; skipped")
        return
    for doc_id, where, parsed in parts:
        document = _document(parsed, where, doc_id, corpus, images)
        if document is not None:
            corpus.documents.append(replace(document, source=str(real)))


def _add_help(
    files: list[tuple[Path, str, bytes, str]], corpus: Corpus, images: _ImageResolver
) -> None:
    """Mallard and DocBook files as documents (:mod:`m2io.corpus.yelp`); read together, since a
    DocBook master's entities reach the files it includes."""
    from m2io.corpus.yelp import HelpFile, read_help  # imports lxml: only when needed

    read = read_help([HelpFile(*f) for f in files])
    for warning in read.warnings:
        corpus.warn(warning)
    for reason, rels in read.skipped.items():
        corpus.skipped.setdefault(reason, []).extend(rels)
    for f, parsed in read.parsed:
        document = _document(parsed, f.path, f.doc_id, corpus, images)
        if document is not None:
            corpus.documents.append(document)


def load_folder(
    root: str | Path,
    *,
    verify: bool = True,
    min_image_side: int = MIN_IMAGE_SIDE,
    exclude: Iterable[str] = (),
    include: Iterable[str] = (),
    parse_map: ParseMap | None = None,
) -> Corpus:
    """Load every Markdown, HTML and text file under ``root`` as documents with images.

    Args:
        root: The folder.
        verify: Check each image with Pillow's ``verify()``; when False only existence is
            checked and the tiny-image rule cannot apply (sizes are unknown).
        min_image_side: Images smaller than this on both sides are skipped as decoration.
        exclude: Glob patterns (``fnmatch``, on the POSIX path relative to ``root``; a pattern
            without ``/`` also matches the file name alone) of files to leave out, e.g.
            ``("LICENSE*", "drafts/*")``.
        include: Glob patterns of the files to read (default: all); ``exclude`` still applies.
            Generator furniture (``_sources/``, ``_static/``, ``genindex``, ``search``, ``404``
            pages) and ``.txt`` copies of HTML pages are left out either way
            (:mod:`m2io.corpus.skips`); ``Corpus.skipped`` lists what was left out and why.
        parse_map: How files are parsed, ``PARSE_BATCH`` at a time (default: here, one after
            another); ``RayMap(...).map`` parses them on Ray workers. Images are checked here
            either way, and the corpus is the same.

    Returns:
        The corpus; files that cannot be read or parsed, undecodable bytes, missing, corrupt or
        unsupported images, references outside the folder and files with no content are listed
        in ``warnings``. ``Corpus.images`` holds each image
        once, with the first non-empty caption seen; each anchor keeps the caption of its own
        document.

    Raises:
        CorpusError: ``root`` is not a folder, or it holds no document.

    Example (``docs/layers.md`` holds ``![The Layers dialog](img/layers.png)``)::

        corpus = load_folder("docs/")
        [(a.image.image_id, a.image.caption) for a in corpus.documents[0].images]
        # [('img/layers.png', 'The Layers dialog')]
    """
    root = Path(root).resolve()
    if not root.is_dir():
        raise CorpusError(f"{root}: not a folder")
    corpus = Corpus(root=str(root))
    images = _ImageResolver(root, corpus, ImageChecker(verify=verify), min_image_side)
    batch: list[tuple[Path, str, bytes]] = []
    macros = _latex2html_macros(root)
    help_files: list[tuple[Path, str, bytes, str]] = []
    for path in _files(root, tuple(include), tuple(exclude), corpus):
        doc_id = path.relative_to(root).as_posix()
        real = confine(path, root)
        if real is None:
            corpus.warn(f"{doc_id}: a link to a file outside the corpus folder; skipped")
            continue
        if path.suffix.lower() == ".pdf":
            _add_pdf(real, doc_id, root, corpus)
            continue
        if path.suffix.lower() in (".epub", ".docx"):
            _add_packaged(real, doc_id, root, corpus, images)
            continue
        try:
            raw = read_regular(real)  # a FIFO is refused, not read
        except OSError as exc:
            corpus.warn(f"{doc_id}: cannot read ({exc}); skipped")
            continue
        if path.suffix.lower() in HELP:
            help_files.append((path, doc_id, raw, str(real)))
            continue
        batch.append((path, doc_id, raw))
        if len(batch) >= PARSE_BATCH:
            _parse_batch(batch, corpus, images, parse_map or map, macros)
            batch = []
    _parse_batch(batch, corpus, images, parse_map or map, macros)
    if help_files:
        _add_help(help_files, corpus, images)
    drop_repeated_lines(corpus)
    for warning in possible_copies([d.doc_id for d in corpus.documents]):
        corpus.warn(warning)
    if not corpus.documents:
        suffixes = ", ".join(f"*{s}" for s in (*PARSERS, *PACKAGED, *HELP))
        left_out = "; ".join(skipped_lines(corpus.skipped))
        raise CorpusError(
            f"{root}: no documents found (looked for {suffixes})"
            + (f"; {left_out}" if left_out else "")
        )
    if images.decorative:
        logger.info("skipped %d decorative images (icons, navigation)", images.decorative)
    corpus.log_summary("folder")
    return corpus
