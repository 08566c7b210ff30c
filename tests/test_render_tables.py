"""Table rows stay tables in answers (issue 20 item 3): a row the loaders wrote as one line
("Header: cell; Header: cell") is a sentence of its own, and the renderers show consecutive rows
as a table (Markdown or HTML), never as cells run together."""

from __future__ import annotations

from dataclasses import replace

import pytest

from m2io.mergers.default import DefaultMerger
from m2io.mergers.render import to_html, to_markdown
from m2io.text import row_cells, split_sentences
from m2io.types import Placement, Sentence, TextAnswer

PAGE = (
    "The editor has shortcuts. Use them to work faster.\n"
    "Shortcut: Ctrl+Z; Action: Undo the last edit\n"
    "Shortcut: Ctrl+S; Action: Save the project. Then close it\n"
    "The timeline shows the clips in order."
)


def _answer(*texts: str) -> TextAnswer:
    return TextAnswer("q", tuple(Sentence(t) for t in texts))


def test_each_row_is_a_sentence_and_is_never_cut() -> None:
    assert split_sentences(PAGE) == [
        "The editor has shortcuts.",
        "Use them to work faster.",
        "Shortcut: Ctrl+Z; Action: Undo the last edit",
        "Shortcut: Ctrl+S; Action: Save the project. Then close it",
        "The timeline shows the clips in order.",
    ]
    assert row_cells("Key: F1; Does: Help") == (("Key", "Does"), ("F1", "Help"))
    assert row_cells("a | b | c") == ((), ("a", "b", "c"))
    prose_with_a_pipe = "due date, and uses | as separator, your expression would start like"
    for prose in (
        "Note: it works; really.",
        "Ratio 3:2; fine",
        "A sentence.",
        "x | ",
        prose_with_a_pipe,
    ):
        assert row_cells(prose) is None


def test_markdown_shows_rows_with_shared_headers_as_a_table() -> None:
    merged = DefaultMerger().merge(_answer(*split_sentences(PAGE)), Placement(), ())
    md = to_markdown(merged)
    assert (
        "Use them to work faster.\n\n| Shortcut | Action |\n| --- | --- |\n"
        "| Ctrl+Z | Undo the last edit |\n| Ctrl+S | Save the project. Then close it |\n\n"
        "The timeline shows the clips in order." in md
    )
    assert "Undo the last edit Shortcut" not in md


def test_rows_without_shared_headers_get_a_line_each_and_cells_are_escaped() -> None:
    rows = ("a | <b>bold</b>", "Key: F1; Does: Help | me")
    md = to_markdown(DefaultMerger().merge(_answer("Intro.", *rows), Placement(), ()))
    assert "- a | &lt;b&gt;bold&lt;/b&gt;" in md and "<b>" not in md
    html = to_html(
        DefaultMerger().merge(_answer("Intro.", "K: 1; V: <x>", "K: 2; V: y|z"), Placement(), ())
    )
    assert "<thead><tr><th>K</th><th>V</th></tr></thead>" in html
    assert "<td>&lt;x&gt;</td>" in html and "<x>" not in html


def test_the_api_marks_row_segments_for_front_ends() -> None:
    """``/v1/answer`` gives a row's header cells and cells, so the page draws a table."""
    from types import SimpleNamespace

    pytest.importorskip("fastapi")
    from m2io.serve.answer import Links, answer_out

    merged = DefaultMerger().merge(_answer(*split_sentences(PAGE)), Placement(), ())
    links = Links("http://h", SimpleNamespace(images={}, sources={}), None)  # type: ignore[arg-type]
    segments = answer_out(merged, links)["segments"]
    rows = [s["row"] for s in segments if "row" in s]
    assert rows == [
        {"headers": ["Shortcut", "Action"], "cells": ["Ctrl+Z", "Undo the last edit"]},
        {"headers": ["Shortcut", "Action"], "cells": ["Ctrl+S", "Save the project. Then close it"]},
    ]
    assert "row" not in segments[0]


def test_a_pdf_source_links_to_its_page() -> None:
    """A PDF section's source opens at its page: ``#page=37``, which viewers read, not the
    percent-encoded ``#page%3D37``."""
    from m2io.types import Source

    answer = DefaultMerger().merge(_answer("Measure the frequency."), Placement(), ())
    src = Source("m.pdf#page=37", "Manual", "m.pdf#page=37", "Frequency")
    md = to_markdown(replace(answer, sources=(src,)))
    assert "(<m.pdf#page=37>)" in md
    html = to_html(replace(answer, sources=(src,)))
    assert 'href="m.pdf#page=37"' in html
