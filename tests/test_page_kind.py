"""Issue 21, item 1: the page that shows how, above release notes and history pages.

A section under a release-notes or history heading (its own, or a numbered one above it) counts
as a list of changes and ranks below a page that shows how, unless the question asks about
versions; a page's file name decides nothing.
"""

from __future__ import annotations

import pytest

from m2io.retrievers.page_kind import (
    asks_about_changes,
    asks_for_variant,
    change_kinds,
    intro_kinds,
    is_how_to,
    variant_kinds,
)
from m2io.testing.hash_embedder import hash_index
from m2io.types import Document

pytest.importorskip("faiss")
pytest.importorskip("bm25s")

from m2io.retrievers.hybrid import HybridRetriever  # noqa: E402


def _top(index, query: str, **options) -> str:
    """The first chunk's page for ``query``, the feedback pass off (so only the priors move)."""
    retriever = HybridRetriever(index, min_score=0, prf_weight=0, **options)
    return retriever.retrieve(query).chunks[0].chunk.doc_id


def test_a_section_under_release_notes_counts_as_changes():
    heads = {
        "notes": ["6) Release Notes"],
        "printers": ["6.4) Printer-Specific Notes"],  # under 6), by its number
        "early": ["1.1.2) Gimp-Print 4.2"],  # a numbered heading with a version
        "appendix": ["D.1. Changes from Previous Versions"],
        "gimp": ["4.2) GIMP"],  # a number, not a version: "4.2" opens the heading
        "octave": ["newstr = strrep (cellstr, ptn, rep)"],  # "news" only as a prefix
        "title": ["Gutenprint 5.2"],  # an unnumbered version is a title page, not a list
        "undo": ["Undo History"],
        "feeds": ["News feeds"],  # a feed reader's news, not a list of changes
        "plain": ["NEWS"],
    }
    kinds = change_kinds(heads, {unit: [] for unit in heads})
    assert kinds["notes"] == kinds["printers"] == kinds["early"] == kinds["appendix"] == 1.0
    assert kinds["plain"] == 1.0
    assert kinds["gimp"] == kinds["octave"] == kinds["title"] == kinds["undo"] == 0.0
    assert kinds["feeds"] == 0.0


def test_a_page_without_such_headings_counts_by_its_dated_and_changed_sentences():
    texts = ["Fixed a crash when printing. Support was added in 2004. The dialog opens."]
    kinds = change_kinds({"a": ["Printing"], "b": ["Paper"]}, {"a": texts, "b": ["Pick one."]})
    assert kinds["a"] == pytest.approx(0.5 * 2 / 3, abs=1e-3)
    assert kinds["b"] == 0.0


def test_questions_about_versions_and_how_to_questions_are_told_apart():
    assert asks_about_changes("How do I update my queues after upgrading Gutenprint?")
    assert asks_about_changes("What is new in 5.2?")
    assert not asks_about_changes("How do I print in black and white only?")
    assert is_how_to("How do I bind a command to a function key?")
    assert is_how_to("how to crop an image")
    assert not is_how_to("What is a trigger?")


def test_introductions_and_command_line_variants_are_read_from_their_own_headings():
    heads = {
        "intro": ["1.1) What is Gutenprint?"],
        "pref": ["Preface"],
        "gimp": ["4.2) GIMP"],
        "cmd": ["10.2. Defining Macros in the Command Line"],
        "editor": ["10.1. Creating and Editing Macros"],
        "cli": ["Command line options"],  # the options themselves, not another way
    }
    intro = intro_kinds(heads)
    assert intro["intro"] == intro["pref"] == 1.0
    assert intro["gimp"] == intro["cmd"] == 0.0
    variant = variant_kinds(heads)
    assert variant["cmd"] == 1.0
    assert variant["editor"] == variant["cli"] == variant["gimp"] == 0.0
    assert not asks_for_variant("How do I bind a command to a function key?")
    assert asks_for_variant("How do I define a macro from the command line?")
    assert asks_for_variant("How do I load a plugin in a Perl script?")


NOTES = (
    "Support for colour laser printers is currently black and white only. We do not plan to "
    "add colour printing for laser printers in this release."
)
HOW = (
    "Output type: choose Black and White in the print dialog to print without colour inks; "
    "the printer then uses black ink only."
)


def test_a_how_to_page_ranks_above_release_notes_that_share_the_words(tmp_path):
    docs = [
        Document("manual.pdf#page=33", "Read these before upgrading.", title="6) Release Notes"),
        Document("manual.pdf#page=43", NOTES, title="6.4) Printer-Specific Notes"),
        Document("manual.pdf#page=28", HOW, title="4.3) Configuring Printer Options"),
        Document("manual.pdf#page=5", "Gutenprint is a suite of drivers.", title="1) Intro"),
    ]
    index = hash_index(tmp_path / "idx", docs)
    query = "How do I print in black and white only for laser printers?"
    assert _top(index, query, changes_weight=0) == "manual.pdf#page=43"
    assert _top(index, query) == "manual.pdf#page=28"
    # a question about a release keeps the notes first
    asked = "Which laser printers print black and white only in this release?"
    assert _top(index, asked) == "manual.pdf#page=43"


EDITOR = (
    "To bind a key, open the Macros section of the World Editor and press the Add button; "
    "press the key you want in the Key box, type the command to send and press OK."
)
COMMAND = (
    "A macro binds a key to a command: run $world->macro with the key and the command to "
    "send when you press the key. Bind any key, a function key too, to any command."
)


def test_the_editor_ranks_above_the_command_line_variant_for_a_user_question(tmp_path):
    docs = [
        Document("ch10s01.xhtml", EDITOR, title="10.1. Creating and Editing Macros"),
        Document("cmdline.xhtml", COMMAND, title="10.2. Defining Macros in the Command Line"),
        Document("ch01.xhtml", "KildClient is a MUD client.", title="Chapter 1. Introduction"),
    ]
    index = hash_index(tmp_path / "idx", docs)
    query = "How do I bind a command to a key?"
    assert _top(index, query, variant_weight=0) == "cmdline.xhtml"
    assert _top(index, query) == "ch10s01.xhtml"
    asked = "How do I bind a command to a key from the command line?"
    assert _top(index, asked) == "cmdline.xhtml"


def test_page_kind_options_are_checked(tmp_path):
    index = hash_index(tmp_path / "idx", [Document("a", "Some text.", title="A")])
    for bad in ({"changes_weight": -1}, {"intro_weight": "2"}, {"variant_weight": -0.5}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            HybridRetriever(index, **bad)


def test_an_untitled_corpus_keeps_its_ranking(tmp_path):
    # dated, changed sentences: a titled corpus would count this page as changes
    notes = "Fixed a crash in 2004. Colour support has been removed. " + NOTES
    docs = [Document("notes", notes), Document("how", HOW)]
    index = hash_index(tmp_path / "idx", docs)
    query = "How do I print in black and white only for laser printers?"
    kw = {"min_score": 0, "prf_weight": 0}
    on = HybridRetriever(index, changes_weight=10, intro_weight=10, variant_weight=10, **kw)
    off = HybridRetriever(index, changes_weight=0, intro_weight=0, variant_weight=0, **kw)
    assert [c.score for c in on.retrieve(query).chunks] == [
        c.score for c in off.retrieve(query).chunks
    ]
