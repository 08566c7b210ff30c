"""Write small PDFs for tests and the fuzzer: text lines at given sizes, images, an outline.

Enough of the PDF format to exercise :mod:`m2io.corpus.pdf` offline without a PDF-writing
dependency: Helvetica text (WinAnsi, ASCII only), Courier lines (code: ``(text, size, "mono")``,
leading spaces as indentation), lines of several segments (fonts, sizes, raised marks: see
:func:`make_pdf`), RGB images as uncompressed XObjects, and an optional one-level outline
(bookmarks).

Example::

    data = make_pdf([[("Heading", 18), ("Body text.", 10)]], outline=[("Heading", 0)])
"""

from __future__ import annotations

_FONTS = ("sans", "mono", "symbol")  # Helvetica, Courier, Symbol (Greek and maths)

Line = tuple[str, float]
"""A text line and its font size; lines are set top to bottom."""


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(
    pages: list[list[Line | tuple[str, int, int]]],
    *,
    outline: list[tuple[str, int]] = (),  # type: ignore[assignment]
    size: tuple[int, int] = (595, 842),
) -> bytes:
    """A PDF whose pages hold ``pages``' items, top to bottom.

    An item is a text line ``(text, font_size)``, a line of segments set one after the other
    ``([(text, font_size, font, rise), ...], line_size)`` (``font`` "sans", "mono" or "symbol", ``rise``
    in points above the baseline: a footnote mark; a fifth value moves the segment that many
    points right, a negative one left: a space without a space character, or glyphs that
    overlap) or an image ``("IMAGE", width_px, height_px)`` (a solid colour, drawn at its pixel
    size in points). ``("AT", y, item)`` sets ``item`` below the height ``y`` (points from the
    page's bottom) and goes on where the items before it left off: content read out of the
    top-to-bottom order, like a caption frame written after the page's text. ``outline`` lists
    ``(title, page)`` bookmarks (0-based pages).
    """
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in below
    pages_obj = add(b"")
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    mono = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Courier /Encoding /WinAnsiEncoding >>")
    symbol = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Symbol >>")
    page_ids = []
    width, height = size
    for number, items in enumerate(pages):
        ops: list[str] = []
        xobjects: list[str] = []

        def _place(
            item: tuple, y: float, number: int = number, ops: list = ops, xobjects: list = xobjects
        ) -> float:
            """Draw ``item`` below height ``y`` on page ``number``; the height below it."""
            if len(item) == 3 and item[0] == "IMAGE":
                _, w, h = item  # type: ignore[misc]
                shade = (number * 37 + len(xobjects) * 91) % 256
                data = bytes([shade, 255 - shade, 128]) * (int(w) * int(h))
                image = add(
                    f"<< /Type /XObject /Subtype /Image /Width {w} /Height {h} "
                    f"/ColorSpace /DeviceRGB /BitsPerComponent 8 /Length {len(data)} >>\n"
                    "stream\n".encode()
                    + data
                    + b"\nendstream"
                )
                name = f"Im{len(xobjects)}"
                xobjects.append(f"/{name} {image} 0 R")
                y -= float(h)
                ops.append(f"q {w} 0 0 {h} 72 {y:.1f} cm /{name} Do Q")
                y -= 12
                return y
            if isinstance(item[0], list):  # segments: one text object each, as typesetters do
                y -= float(item[1]) * 1.4
                shows = [
                    f"/F{_FONTS.index(font) + 1} {size:g} Tf {rise:g} Ts "
                    f"[{-1000 * (gap[0] if gap else 0) / size:g} ({_escape(text)})] TJ"
                    for text, size, font, rise, *gap in item[0]
                ]
                ops.append(f"BT 72 {y:.1f} Td {' '.join(shows)} ET")
                return y
            text, font_size = str(item[0]), float(item[1])
            y -= font_size * 1.4
            if len(item) == 3 and item[2] == "mono":  # Courier: a space is 0.6 em wide
                x = 72 + 0.6 * font_size * (len(text) - len(text.lstrip(" ")))
                ops.append(
                    f"BT /F2 {font_size:g} Tf {x:.1f} {y:.1f} Td ({_escape(text.lstrip())}) Tj ET"
                )
                return y
            ops.append(f"BT /F1 {font_size:g} Tf 72 {y:.1f} Td ({_escape(text)}) Tj ET")
            return y

        y = height - 60
        for item in items:
            moved = len(item) == 3 and item[0] == "AT"
            if moved:  # set at a given height, out of the top-to-bottom order
                kept_y, y, item = y, float(item[1]), item[2]  # type: ignore[misc]
            y = _place(item, y)
            if moved:
                y = kept_y
        content = "\n".join(ops).encode("latin-1", "replace")
        stream = add(f"<< /Length {len(content)} >>\nstream\n".encode() + content + b"\nendstream")
        xobj = f"/XObject << {' '.join(xobjects)} >>" if xobjects else ""
        page_ids.append(
            add(
                f"<< /Type /Page /Parent {pages_obj} 0 R /MediaBox [0 0 {width} {height}] "
                f"/Resources << /Font << /F1 {font} 0 R /F2 {mono} 0 R /F3 {symbol} 0 R >> {xobj} >> "
                f"/Contents {stream} 0 R >>".encode()
            )
        )
    kids = " ".join(f"{p} 0 R" for p in page_ids)
    objects[pages_obj - 1] = f"<< /Type /Pages /Kids [{kids}] /Count {len(page_ids)} >>".encode()
    outline_ref = ""
    if outline:
        root = add(b"")
        items = []
        for title, page in outline:
            items.append(
                add(
                    f"<< /Title ({_escape(title)}) /Parent {root} 0 R "
                    f"/Dest [{page_ids[page]} 0 R /XYZ 0 {height} 0] >>".encode()
                )
            )
        for i, item in enumerate(items):
            links = []
            if i > 0:
                links.append(f"/Prev {items[i - 1]} 0 R")
            if i < len(items) - 1:
                links.append(f"/Next {items[i + 1]} 0 R")
            objects[item - 1] = objects[item - 1][:-2] + (" " + " ".join(links) + " >>").encode()
        objects[root - 1] = (
            f"<< /Type /Outlines /First {items[0]} 0 R /Last {items[-1]} 0 R "
            f"/Count {len(items)} >>".encode()
        )
        outline_ref = f" /Outlines {root} 0 R"
    objects[catalog - 1] = f"<< /Type /Catalog /Pages {pages_obj} 0 R{outline_ref} >>".encode()
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root {catalog} 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)
