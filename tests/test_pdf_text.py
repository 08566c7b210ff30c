"""PDF text as its reader sees it (issue 21): words hyphenated at a line's end read whole, no
space where a font changes inside a word, footnote marks out of sentences and footnote bodies
after their paragraph."""

from __future__ import annotations

from pathlib import Path

import pytest

from m2io.corpus.pdf import read_pdf
from m2io.testing.pdfmake import make_pdf

pytest.importorskip("pypdfium2")


def _texts(tmp_path: Path, page: list, outline: list[tuple[str, int]]) -> list[str]:
    path = tmp_path / "manual.pdf"
    path.write_bytes(make_pdf([page], outline=outline))
    return [d.text for d in read_pdf(path, "manual.pdf", tmp_path)[0]]


def test_a_word_hyphenated_at_a_line_end_reads_whole(tmp_path: Path) -> None:
    page = [
        ("Building", 18),
        ("The package builds distribu-", 10),
        ("tions for each platform. It runs on Unix-", 10),
        ("alikes and on Windows; all Unix-alikes need make. The licence is GPL-", 10),
        ("3 and the tests are self-", 10),
        ("checking. Configure it with --disable-", 10),
        ("static builds.", 10),
        ("Run it with com\xad", 10),  # the PDF's own soft hyphen: PDFium marks it the same
        ("pression on", 10),
        ("make --no-print-", 10, "mono"),
        ("directory check", 10, "mono"),
    ]
    (text,) = _texts(tmp_path, page, [("Building", 0)])
    assert "\x02" not in text and "\xad" not in text
    assert "The package builds distributions for each platform." in text
    # a compound's own hyphen stays: the PDF writes "Unix-alikes" elsewhere, a number follows
    assert "It runs on Unix-alikes and on Windows" in text
    assert "The licence is GPL-3 and" in text
    assert "are selfchecking." in text  # no other spelling in the PDF: lower-case halves join
    assert "Configure it with --disable-static builds." in text  # an option is not a word
    assert "Run it with compression on" in text
    # code is never hyphenated by a typesetter: the hyphen is the command's, the line its own
    assert "make --no-print-\ndirectory check" in text


def test_segments_whose_glyphs_touch_are_one_word_whatever_their_fonts(tmp_path: Path) -> None:
    line = [
        ("Use the ", 10, "sans", 0),
        ("--cpu", 10, "mono", 0),
        (" flag (", 10, "sans", 0),
        ("x86_64", 10, "mono", 0),
        (") with C", 10, "sans", 0),
        ("++", 8, "sans", 0),
        ("11 code", 10, "sans", 0),
        ("s", 10, "mono", 0),
        (" only.", 10, "sans", 0),
        ("Then", 10, "sans", 0, 2.0),  # a space of glue (a narrow one), no space character
        ("run", 10, "sans", 0, 2.0),
        ("it.", 10, "mono", 0, 2.0),
        ("Set", 10, "sans", 0, 2.8),
        ("NA", 10, "mono", 0, 2.8),
        ("s in", 10, "sans", 0),
        ("R", 10, "mono", 0),  # no space left by the author: a capital still starts a word
        (". Turn by 90", 10, "sans", 0),
        ("o", 7, "sans", 4),  # a superscript stays apart: "90 o", not "900"
        (" at area,", 10, "sans", 0),
        ("m", 10, "symbol", 0),  # Symbol's "m" is mu: maths after a comma is a word of its own
        (". Read P", 10, "sans", 0),
        ("HYSICS", 8, "sans", 0),  # small capitals after a capital: one word
        (".", 10, "sans", 0),
    ]
    (text,) = _texts(tmp_path, [("Flags", 18), (line, 10)], [("Flags", 0)])
    # touching segments join; a real gap between them stays a space
    assert (
        "Use the --cpu flag (x86_64) with C++11 codes only. Then run it. Set NAs in R. Turn by 90 o at area, \u00b5. Read PHYSICS."
        in text
    )


def test_footnote_marks_leave_sentences_and_bodies_follow_their_paragraph(
    tmp_path: Path,
) -> None:
    marked = [
        ("All alphanumeric symbols are allowed", 10, "sans", 0),
        ("1", 7, "sans", 4),
        (" (and accented letters in", 10, "sans", 0),
    ]
    page = [
        ("Names", 18),
        (marked, 10),
        ("some countries) in names of a 3 by 5 array.", 10),
        ("Operators", 18),
        ("Operators are functions too.", 10),
        ("1", 7),
        ("Only A-Za-z0-9 is portable.", 8),
    ]
    names, operators = _texts(tmp_path, page, [("Names", 0), ("Operators", 0)])
    assert "symbols are allowed (and accented letters in some countries) in names of a 3 by 5" in (
        names
    )
    # the note's body is a paragraph of its own after its mark's paragraph, in its section
    assert names.endswith("array.\n\nOnly A-Za-z0-9 is portable.")
    assert operators == "Operators\n\nOperators are functions too."


def test_a_footnote_waits_for_the_list_or_code_its_paragraph_introduces(tmp_path: Path) -> None:
    page = [
        ("Variables", 18),
        (
            [
                ("Set the variables", 10, "sans", 0),
                ("2", 7, "sans", 4),
                (" as follows:", 10, "sans", 0),
            ],
            10,
        ),
        (" ", 10),  # a blank line's gap: the list items are paragraphs of their own
        ("1. CC names the compiler.", 10),
        (" ", 10),
        ("2. CFLAGS holds its flags.", 10),
        (" ", 10),
        ("Then run it.", 10),
        ("Building", 18),
        ([("Build it with", 10, "sans", 0), ("3", 7, "sans", 4), (":", 10, "sans", 0)], 10),
        ("make all", 10, "mono"),
        ("2", 7),
        ("Both are read by configure.", 8),
        ("3", 7),
        ("GNU make.", 8),
    ]
    variables, building = _texts(tmp_path, page, [("Variables", 0), ("Building", 0)])
    # the note follows the list, never between "as follows:" and its items
    assert variables.endswith("flags.\n\nBoth are read by configure.\n\nThen run it.")
    # nor between a lead-in and its code
    assert building.endswith("```\nmake all\n```\n\nGNU make.")


def test_a_footnote_number_repeated_at_page_ends_is_no_page_number(tmp_path: Path) -> None:
    words = ["red", "green", "blue", "black"]
    pages, outline = [], []
    for i, word in enumerate(words):
        marked = [(f"The {word} option sets the {word} ink", 10, "sans", 0), ("1", 7, "sans", 4)]
        pages.append(
            [
                (f"Part {word}", 18),
                (marked, 10),
                (f"of {word} prints.", 10),
                (f"Loading {word}", 18),
                (f"Load {word} paper first.", 10),
                ("1", 7),
                (f"The {word} ink option is new in {word} printers.", 8),
            ]
        )
        outline += [(f"Part {word}", i), (f"Loading {word}", i)]
    path = tmp_path / "m.pdf"
    path.write_bytes(make_pdf(pages, outline=outline))
    docs = read_pdf(path, "m.pdf", tmp_path)[0]
    assert [d.text.split("\n\n")[1:] for d in docs] == [
        part
        for w in words
        for part in (
            [
                f"The {w} option sets the {w} ink of {w} prints.",
                f"The {w} ink option is new in {w} printers.",
            ],
            [f"Load {w} paper first."],
        )
    ]


def test_a_glyph_at_the_edge_of_overlapping_segments_is_read_once(tmp_path: Path) -> None:
    # kerning pulls a segment back over the one before it: PDFium's bounded text of each
    # rectangle took the glyph on the other side of the overlap too ("OK K", "The A Azimuth")
    lines = [
        (
            [("Click ", 11, "sans", 0), ("OK", 11, "mono", 0), (" to return.", 11, "sans", 0, -1)],
            11,
        ),
        ([("The ", 11, "sans", 0), ("Azimuth", 11, "mono", 0, -1), (" area.", 11, "sans", 0)], 11),
        (
            [("Called ", 11, "sans", 0), ("sample", 11, "mono", 0), (", which", 11, "sans", 0, -1)],
            11,
        ),
        # a segment whose text runs over the next keeps all of it: not a glyph read twice
        ([("conffiles list of", 11, "sans", 0), ("configuration", 11, "mono", 0, -30)], 11),
    ]
    (text,) = _texts(tmp_path, [("Modules", 18), *lines], [("Modules", 0)])
    assert "Click OK to return." in text
    assert "The Azimuth area." in text
    assert "Called sample, which" in text
    assert "conffiles list of" in text and "configuration" in text


def test_a_subscript_after_a_raised_glyph_is_no_footnote_mark(tmp_path: Path) -> None:
    # the numerator of "I = V1 / R1" sits above the line; its subscript is lower than "V"
    line = [("so I = ", 10, "sans", 0), ("V", 10, "sans", 4), ("1", 7, "sans", 2.5)]
    tail = [(" by Ohm's law.", 10, "sans", 0)]
    # a mark after a closing quote set on its own: the quote's glyph sits as high as the mark's
    quoted = [("Say ", 10, "sans", 0), ('"yes', 10, "sans", 0), ('"', 10, "sans", 0)]
    quoted += [("2", 7, "sans", 4), (" and go.", 10, "sans", 0)]
    page = [("Ohm", 18), (line + tail, 10), (quoted, 10), ("2 A note on saying yes.", 8)]
    (text,) = _texts(tmp_path, page, [("Ohm", 0)])
    assert "V1" in text.replace(" ", "")
    assert 'Say "yes" and go.' in text and "A note on saying yes." in text
