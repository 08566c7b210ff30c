"""Write small EPUB and DOCX files for tests and the fuzzer (no writer dependency).

Example::

    epub = make_epub([("ch1.xhtml", "<h1>One</h1><p>Text.</p>")], images={"img/a.png": png})
    docx = make_docx(["Heading|Installing", "Run setup.", "IMAGE", "Then restart."], png)
"""

from __future__ import annotations

import io
import zipfile
from xml.sax.saxutils import escape


def make_epub(
    chapters: list[tuple[str, str]], *, images: dict[str, bytes] | None = None, lang: str = "en"
) -> bytes:
    """An EPUB whose spine is ``chapters`` (``(file name, body HTML)``) in order."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("mimetype", "application/epub+zip")
        z.writestr(
            "META-INF/container.xml",
            '<?xml version="1.0"?><container xmlns="urn:oasis:names:tc:opendocument:xmlns:'
            'container" version="1.0"><rootfiles><rootfile full-path="OEBPS/content.opf" '
            'media-type="application/oebps-package+xml"/></rootfiles></container>',
        )
        manifest = "".join(
            f'<item id="c{i}" href="{name}" media-type="application/xhtml+xml"/>'
            for i, (name, _) in enumerate(chapters)
        )
        spine = "".join(f'<itemref idref="c{i}"/>' for i in range(len(chapters)))
        z.writestr(
            "OEBPS/content.opf",
            '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
            f"<manifest>{manifest}</manifest><spine>{spine}</spine></package>",
        )
        for name, body in chapters:
            z.writestr(
                f"OEBPS/{name}",
                f'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml" xml:lang="{lang}">'
                f"<head><title>{escape(name)}</title></head><body>{body}</body></html>",
            )
        for name, data in (images or {}).items():
            z.writestr(f"OEBPS/{name}", data)
    return buf.getvalue()


_W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
_R = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
_WP = 'xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"'
_A = 'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"'
_PIC = 'xmlns:pic="http://schemas.openxmlformats.org/drawingml/2006/picture"'


def _drawing(alt: str) -> str:
    return (
        f'<w:r><w:drawing><wp:inline><wp:extent cx="952500" cy="952500"/><wp:docPr id="1" '
        f'name="Picture 1" descr="{escape(alt)}"/><a:graphic><a:graphicData uri="http://schemas.'
        'openxmlformats.org/drawingml/2006/picture"><pic:pic><pic:nvPicPr><pic:cNvPr id="1" '
        'name="a.png"/><pic:cNvPicPr/></pic:nvPicPr><pic:blipFill><a:blip r:embed="rImg"/>'
        "</pic:blipFill><pic:spPr/></pic:pic></a:graphicData></a:graphic></wp:inline>"
        "</w:drawing></w:r>"
    )


def make_docx(paragraphs: list[str], png: bytes | None = None) -> bytes:
    """A DOCX of ``paragraphs``: ``"Heading|text"`` is a Heading 1, ``"IMAGE|alt"`` the image
    ``png`` with that alt text, anything else a plain paragraph."""
    body = []
    for para in paragraphs:
        kind, _, text = para.partition("|") if "|" in para else ("", "", para)
        if kind == "Heading":
            body.append(
                f'<w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>{escape(text)}</w:t>'
                "</w:r></w:p>"
            )
        elif kind == "IMAGE":
            body.append(f"<w:p>{_drawing(text)}</w:p>")
        else:
            body.append(f"<w:p><w:r><w:t>{escape(para)}</w:t></w:r></w:p>")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats'
            '-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            '<Default Extension="png" ContentType="image/png"/><Override PartName="/word/'
            'document.xml" ContentType="application/vnd.openxmlformats-officedocument.'
            'wordprocessingml.document.main+xml"/></Types>',
        )
        z.writestr(
            "_rels/.rels",
            '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/'
            'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
            'openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
            'Target="word/document.xml"/></Relationships>',
        )
        z.writestr(
            "word/_rels/document.xml.rels",
            '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/'
            'package/2006/relationships"><Relationship Id="rImg" Type="http://schemas.'
            'openxmlformats.org/officeDocument/2006/relationships/image" Target="media/a.png"/>'
            "</Relationships>",
        )
        z.writestr(
            "word/document.xml",
            f'<?xml version="1.0"?><w:document {_W} {_R} {_WP} {_A} {_PIC}><w:body>'
            f"{''.join(body)}</w:body></w:document>",
        )
        if png is not None:
            z.writestr("word/media/a.png", png)
    return buf.getvalue()
