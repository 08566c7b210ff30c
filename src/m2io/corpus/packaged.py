"""EPUB books and DOCX documents: HTML inside a zip, read by the HTML loader, images in place.

An EPUB is a zip of XHTML chapters: its ``META-INF/container.xml`` names the package file,
whose spine gives the reading order (a generated index or search page, ``genindex.xhtml``, is
left out). Each chapter becomes one document
(``book.epub#Text/ch01.xhtml``) read by :func:`~m2io.corpus.htmldoc.html_to_text`, so tables,
admonitions, figures and languages (``xml:lang``) are read as in a doc tree. A DOCX is converted
to HTML by mammoth (pure Python, headings/tables/lists/images kept; ``pip install 'm2io[office]'``)
and read the same way as one document.

Images are written under ``.m2io-images/`` in the corpus folder (hidden, so never read back as
documents) and referenced from there, so the folder loader resolves and checks them like any
other file and they keep their place in the text.

Hostile input: member names are normalised and one that would leave the extraction folder
(``../``, absolute) is skipped; only regular members are read; each member read is capped at
``MAX_MEMBER_BYTES`` and a file at ``MAX_TOTAL_BYTES`` uncompressed (a zip bomb stops there with
a clear error); every step is linear in the bytes read.
"""

from __future__ import annotations

import hashlib
import logging
import posixpath
import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree

from m2io.corpus.parsed import Parsed
from m2io.corpus.skips import furniture_page

logger = logging.getLogger(__name__)

IMAGE_DIR = ".m2io-images"
MAX_MEMBER_BYTES = 64 * 2**20
MAX_TOTAL_BYTES = 512 * 2**20
_IMAGE_SUFFIX = re.compile(r"\.(?:png|jpe?g|gif|bmp|webp|tiff?|svg)$", re.I)


class PackageError(ValueError):
    """An EPUB or DOCX that cannot be read; the message says why."""


def image_dir(root: Path, rel: str) -> Path:
    """Where the images of the packaged file ``rel`` are written (inside ``root``)."""
    name = re.sub(r"[^\w.-]+", "_", rel)[-80:]
    return root / IMAGE_DIR / f"{name}-{hashlib.sha1(rel.encode()).hexdigest()[:8]}"


class _Reader:
    """Reads members of one zip within the size budget."""

    def __init__(self, path: Path) -> None:
        try:
            self.zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise PackageError(f"not a readable zip ({exc})") from exc
        self.left = MAX_TOTAL_BYTES
        self.names = {info.filename: info for info in self.zip.infolist() if not info.is_dir()}

    def read(self, name: str) -> bytes:
        info = self.names.get(name)
        if info is None:
            raise PackageError(f"member {name!r} missing")
        if info.file_size > MAX_MEMBER_BYTES or info.file_size > self.left:
            raise PackageError(f"member {name!r} too large ({info.file_size} bytes uncompressed)")
        try:
            with self.zip.open(info) as f:
                data = f.read(min(MAX_MEMBER_BYTES, self.left) + 1)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError) as exc:
            raise PackageError(f"member {name!r} unreadable ({exc})") from exc
        if len(data) > min(MAX_MEMBER_BYTES, self.left):
            raise PackageError(f"member {name!r} larger than declared")
        self.left -= len(data)
        return data

    def close(self) -> None:
        self.zip.close()


def _safe(name: str) -> str | None:
    norm = posixpath.normpath(name.replace("\\", "/"))
    if norm.startswith(("/", "../")) or norm in ("..", ".") or ":" in norm.split("/")[0]:
        return None
    return norm


def _extract_images(reader: _Reader, out: Path) -> None:
    for name in reader.names:
        safe = _safe(name)
        if safe is None or not _IMAGE_SUFFIX.search(safe):
            continue
        target = out / safe
        if target.is_file():
            continue
        try:
            data = reader.read(name)
        except PackageError:
            continue
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        except OSError as exc:  # a read-only corpus folder: the images are reported missing
            logger.warning("images of %s not extracted to %s: %s", out.name, out, exc)
            return


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def epub_chapters(path: Path, rel: str, root: Path) -> list[tuple[str, Path, Parsed]]:
    """Each spine chapter of the EPUB as ``(member name, where its images resolve, parsed)``."""
    from m2io.corpus.htmldoc import html_to_text
    from m2io.corpus.report import decode_html

    reader = _Reader(path)
    try:
        try:
            container = ElementTree.fromstring(reader.read("META-INF/container.xml"))
            opf_name = next(
                el.get("full-path", "") for el in container.iter() if _local(el.tag) == "rootfile"
            )
            opf = ElementTree.fromstring(reader.read(opf_name))
        except (ElementTree.ParseError, StopIteration) as exc:
            raise PackageError(f"no readable package file ({exc})") from exc
        base = posixpath.dirname(opf_name)
        items = {
            el.get("id"): el.get("href", "")
            for el in opf.iter()
            if _local(el.tag) == "item" and el.get("id")
        }
        spine = [el.get("idref") for el in opf.iter() if _local(el.tag) == "itemref"]
        out = image_dir(root, rel)
        _extract_images(reader, out)
        chapters = []
        for idref in spine:
            href = items.get(idref)
            name = _safe(posixpath.join(base, href)) if href else None
            if name is None or name not in reader.names:
                continue
            if furniture_page(posixpath.basename(name)):  # the book's generated index
                continue
            text = decode_html(reader.read(name), f"{rel}#{name}", [])
            chapters.append((name, out / name, html_to_text(text)))
        return chapters
    finally:
        reader.close()


def docx_parsed(path: Path, rel: str, root: Path) -> tuple[Parsed, Path]:
    """The DOCX as one parsed document, and the path its image references resolve against."""
    try:
        import mammoth
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise PackageError("reading DOCX needs mammoth: pip install 'm2io[office]'") from exc
    from m2io.corpus.htmldoc import html_to_text

    _Reader(path).close()  # a clear error for a file that is not a zip
    out = image_dir(root, rel)
    count = 0

    def save(image: object) -> dict[str, str]:
        nonlocal count
        count += 1
        kind = str(getattr(image, "content_type", "") or "image/png").split("/")[-1]
        suffix = {"jpeg": "jpg", "x-emf": "emf", "x-wmf": "wmf"}.get(kind, kind)[:5]
        target = out / f"image{count}.{re.sub(r'[^a-z0-9]', '', suffix) or 'bin'}"
        with image.open() as f:  # type: ignore[attr-defined]
            data = f.read(MAX_MEMBER_BYTES + 1)
        if len(data) <= MAX_MEMBER_BYTES:
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            except OSError as exc:  # a read-only corpus folder: the image is reported missing
                logger.debug("could not write %s: %s", target, exc)
        return {"src": target.name, "alt": str(getattr(image, "alt_text", "") or "")}

    try:
        with path.open("rb") as f:
            result = mammoth.convert_to_html(f, convert_image=mammoth.images.img_element(save))
    except PackageError:
        raise
    except Exception as exc:  # noqa: BLE001 - mammoth on a broken document: reported, skipped
        raise PackageError(f"not readable as DOCX ({type(exc).__name__}: {exc})") from exc
    return html_to_text(f"<html><body>{result.value}</body></html>"), out / "document.html"
