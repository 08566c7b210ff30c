"""A section that says its how-to follows goes on in the subsections that hold the commands
(issue 21, item 2), and a one-line lead-in to a code block is no section title.

On OpenRefine's manual, "How do I give OpenRefine more memory?" lost its ``-Xmx`` block: the
section "Increasing memory allocation" explains and says "All of the settings below …", and the
commands sit in per-launcher subsections ("Using openrefine.exe", "Using refine.bat") whose
titles share no word with the question. The fixture has that shape, in its own words.
"""

from __future__ import annotations

import pytest

from m2io.generators.extractive import ExtractiveGenerator
from m2io.index.sections import sections
from m2io.types import Chunk, Document, Retrieval, RetrievedChunk, SectionSpan, Source

INTRO = (
    "Raising the cache limit\n\n"
    "The tool keeps its working data in a cache of 512 megabytes by default. When large files "
    "make the tool slow, or it stops with an out of cache error, give the cache more room.\n\n"
    "Leave enough room for the rest of the system and for the browser that shows the tool.\n\n"
    "{POINTER}\n\n"
)
LAUNCHERS = (
    "Starting from tool.exe\n\n"
    "When you start tool.exe, open the file tool.ini in its folder and change the line\n\n"
    "```\n-cache512M\n```\n\n"
    "The number is the size in megabytes.\n\n"
    "Starting from the script\n\n"
    "When you start the script from a terminal, pass the size as an option\n\n"
    "```\n./tool --cache 2048\n```\n"
)
QUESTION = "How do I raise the cache limit of the tool?"
POINTS_ON = "Each of the settings below gives the size in megabytes."
STOPS = "The size is given in megabytes."


def _answer(pointer: str, **options: int) -> list[str]:
    text = INTRO.replace("{POINTER}", pointer) + LAUNCHERS
    spans = tuple(
        SectionSpan(text.index(title), title)
        for title in ("Starting from tool.exe", "Starting from the script")
    )
    source = Source("install", "Installing", "install.md", "Raising the cache limit")
    chunk = Chunk("install#3", "install", text, source=source, sections=spans)
    retrieval = Retrieval(QUESTION, (RetrievedChunk(chunk, 1.0, dense_score=0.8),), ())
    gen = ExtractiveGenerator(embedder=None, **options)
    return [s.text for s in gen.generate(QUESTION, retrieval).sentences]


def test_a_section_that_says_its_settings_follow_goes_on_in_their_subsections() -> None:
    texts = _answer(POINTS_ON)
    joined = "\n".join(texts)
    assert "-cache512M" in joined, texts
    # the command comes with the sentence that leads into it
    block = next(k for k, t in enumerate(texts) if "-cache512M" in t)
    assert texts[block - 1].endswith("change the line"), texts
    assert "./tool --cache 2048" in joined, texts


def test_a_tight_budget_keeps_each_command_with_the_sentence_that_leads_into_it() -> None:
    # the unfinished sentence ("… and change the line") is the command's, not narrative
    texts = _answer(POINTS_ON, procedure_words=60)
    for command, lead in (("-cache512M", "change the line"), ("./tool", "as an option")):
        at = next(k for k, t in enumerate(texts) if command in t)
        assert texts[at - 1].endswith(lead), texts


def test_a_section_that_says_nothing_follows_stays_whole_on_its_own() -> None:
    texts = _answer(STOPS)
    assert not any("-cache512M" in t for t in texts), texts


FENCE = "```\nrun it\n```"


@pytest.mark.parametrize(
    ("line", "title"),
    [
        ("Then execute the command", False),
        ("To create a csv file use", False),
        ("Alternatively, calling the routine", False),
        ("Finally, the commands", False),
        ("Alternatively, in a cmd.exe shell use", False),
        ("This produces the output", False),
        ("Launch the editor and execute", False),
        ("The routines", False),
        ("is evaluated as", False),
        ("次のようにします：", False),
        ("Syntax", True),
        ("Sample configuration", True),
        ("grid.add()", True),
        ("The Basics", True),
        ("Starting from tool.exe", True),
        ("Deprecated in version 5.4", True),
    ],
)
def test_a_line_that_leads_into_a_code_block_is_no_section_title(line: str, title: bool) -> None:
    doc = Document("d", f"Some text about it.\n\n{line}\n\n{FENCE}\n\nMore text.", title="Page")
    assert (line in [s.title for s in sections(doc)]) is title


def test_a_list_tail_and_a_notes_title_alone_do_not_open_or_fill_the_answer() -> None:
    # the chunk starts inside the section, on the last item of a list its start is not in
    text = "• more than a million rows\n\n" + INTRO.split("\n\n", 1)[1].replace(
        "{POINTER}", POINTS_ON
    )
    text += LAUNCHERS.replace(
        "The number is the size in megabytes.",
        "Caution: tool.exe does not start? Then install the 64-bit runtime first.",
    )
    spans = tuple(
        SectionSpan(text.index(title), title)
        for title in ("Starting from tool.exe", "Starting from the script")
    )
    source = Source("install", "Installing", "install.md", "Raising the cache limit")
    chunk = Chunk("install#3", "install", text, source=source, sections=spans)
    retrieval = Retrieval(QUESTION, (RetrievedChunk(chunk, 1.0, dense_score=0.8),), ())
    texts = [
        s.text
        for s in ExtractiveGenerator(embedder=None, procedure_words=70)
        .generate(QUESTION, retrieval)
        .sentences
    ]
    assert texts[0].startswith("The tool keeps its working data"), texts
    assert "Caution: tool.exe does not start?" not in texts, texts
    assert any("-cache512M" in t for t in texts), texts
