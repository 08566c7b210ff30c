"""Reference pages: the entry asked about, whole and on its own; both parts of a two-part
question (issue 21, item 2).

The Octave manual (Texinfo, not tuned on) lists functions one after another: signature lines
("imshow (im)", "imshow (im, map)", …) then "h = imshow (…): Display the image …". Answers
opened on ten signature lines before the sentence that says what the function does, ran on
from roots into polyeig, and "How do I read an image file and display it?" got imshow only.
"""

from __future__ import annotations

from m2io.generators.entries import entry_end, entry_term, form_name
from m2io.generators.extractive import ExtractiveGenerator
from m2io.types import Chunk, Retrieval, RetrievedChunk, Source

ROOTS = (
    "Finding Roots\n\n"
    "Octave can find the roots of a given polynomial by computing the eigenvalues of its "
    "companion matrix.\n\n"
    "roots ( c ): Compute the roots of the polynomial c.\n\n"
    "As an example, the following code finds the roots of a quadratic polynomial.\n\n"
    "Note that the result is plus or minus the square root of five.\n\n"
    "See also: poly, compan.\n\n"
    "z = polyeig (C0, C1)\n\n"
    "[ v , z ] = polyeig ( C0 , C1 ): Solve the polynomial eigenvalue problem of degree l.\n\n"
    "The eigenvalues z are the zeros of the matrix polynomial and v holds the vectors.\n\n"
    "See also: eig, eigs.\n"
)
WARNING = (
    "Issuing Warnings\n\n"
    "warning (template)\n\n"
    "warning (id, template)\n\n"
    'warning ("on", id)\n\n'
    'warning ("off", id)\n\n'
    "warning (state, mode): Display a warning message or control the warning system.\n\n"
    "The warning function prints its message and returns to the caller.\n"
)
LOADING = (
    "Loading Images\n\n"
    "img = imread (filename)\n\n"
    "img = imread (url): Read images from various file formats.\n\n"
    "Read an image from the file filename as a matrix.\n"
)
DISPLAYING = (
    "Displaying Images\n\n"
    "imshow (im)\n\n"
    "h = imshow (filename): Display the image im in a figure window.\n\n"
    "The image is scaled to fit the window, and the axes are hidden.\n"
)


def _retrieval(*pages: tuple[str, str]) -> Retrieval:
    chunks = tuple(
        RetrievedChunk(
            Chunk(f"{doc}#0", doc, text, source=Source(doc, doc, f"{doc}.html", doc)),
            1.0 - 0.1 * i,
            dense_score=0.8 - 0.05 * i,
        )
        for i, (doc, text) in enumerate(pages)
    )
    return Retrieval("q", chunks, ())


def _answer(question: str, *pages: tuple[str, str]) -> list[str]:
    gen = ExtractiveGenerator(embedder=None)
    return [s.text for s in gen.generate(question, _retrieval(*pages)).sentences]


def test_forms_and_description_lines_are_recognised() -> None:
    assert form_name("h = imshow (…)") == "imshow"
    assert form_name("[ v , z ] = polyeig ( C0 , C1 )") == "polyeig"
    assert form_name("dbstop func line") == "dbstop"
    assert form_name("Display the image in a window.") == ""
    assert entry_term("roots ( c ): Compute the roots of the polynomial c.") == "roots"
    # a list item "two points: the distance …" names no function
    assert entry_term("two points: distance between them;", calls_only=True) == ""
    texts = ["imshow (im)", "imshow (im, map)", "h = imshow (…): Display the image."]
    assert entry_end(texts, 0) == 2
    assert entry_end(["imshow (im)", "Display the image."], 0) == -1


def test_the_answer_stops_at_the_next_entry() -> None:
    text = " ".join(_answer("How do I find the roots of a polynomial?", ("roots", ROOTS)))
    assert "Compute the roots of the polynomial c." in text
    assert "polyeig" not in text and "eigenvalue problem" not in text


def test_signature_lines_never_open_the_answer() -> None:
    texts = _answer("How do I turn off a warning?", ("warning", WARNING))
    assert texts[0].startswith("warning (state, mode): Display a warning message")
    # the form the question's words select follows; the others are left out
    assert 'warning ("off", id)' in texts
    assert "warning (template)" not in texts and "warning (id, template)" not in texts


def test_a_two_part_question_gets_both_parts() -> None:
    question = "How do I read an image file and display it?"
    text = " ".join(_answer(question, ("displaying", DISPLAYING), ("loading", LOADING)))
    assert "Display the image im" in text
    assert "Read images from various file formats." in text


def _lines(*texts: str) -> list:
    from m2io.generators.focus import Line

    return [Line(t, "p#0", 0, None) for t in texts]


CODE = '```\nwarning ("off", id);\n```'


def test_an_answer_never_opens_on_a_bare_code_block_nor_ends_before_its_code() -> None:
    from m2io.generators.focus import units
    from m2io.generators.openers import code_has_its_words

    p = _lines("The following code turns the warning off", CODE, "It prints nothing.")
    ps = [p]
    us = units(p)
    code = next(u for u in us if u.kind == "code")
    shown = code_has_its_words([code], us, ps, 180)
    assert [ps[0][u.first].text for u in shown][0].startswith("The following code")
    # a sentence cut where its command should follow gets the command
    p2 = _lines(
        "Breakpoints are set in any function.",
        "then a breakpoint can be set at the start of the subfunction directly with",
        CODE,
    )
    us2 = units(p2)
    cut = next(u for u in us2 if u.first == 1)
    out = code_has_its_words([us2[0], cut], us2, [p2], 180)
    assert any(p2[u.last].text == CODE for u in out)


def test_see_also_lines_and_lone_signatures_are_left_out() -> None:
    from m2io.generators.focus import units
    from m2io.generators.openers import no_reference_leftovers

    p = _lines("Compute the roots of c.", "See also: poly, compan.", "lasterr = lasterror ()")
    us = units(p)
    kept = no_reference_leftovers(us, [p])
    assert [p[u.first].text for u in kept] == ["Compute the roots of c."]


SAVING = (
    "Saving Data\n\n"
    "save (file, v1)\n\n"
    "str = save (file, v1, v2): Save the named variables v1, v2 in the file file.\n\n"
    "If no variable names are listed, all the variables in the current scope are saved.\n"
)
LOADING_DATA = (
    "Loading Data\n\n"
    "load (file)\n\n"
    "S = load (file, v1, v2): Load the named variables v1, v2 from the file file.\n\n"
    "The format of the file is detected automatically.\n"
)


def test_the_other_part_joins_when_the_opening_section_lacks_its_action() -> None:
    # the save entry says "variables" and "file" (the second part's words too) but not "load";
    # "again later" is said nowhere and does not count against the load entry
    question = "How do I save variables to a file and load them again later?"
    text = " ".join(_answer(question, ("saving", SAVING), ("loading", LOADING_DATA)))
    assert "Save the named variables" in text
    assert "Load the named variables" in text


def test_a_sentence_that_announces_a_missing_table_is_left_out() -> None:
    from m2io.generators.focus import units
    from m2io.generators.openers import no_pointers_to_missing

    p = _lines(
        "Save the named variables in the file.",
        "Valid options for the save command are listed in the following table.",
        "-append: Append to the destination instead of overwriting.",
    )
    us = units(p)
    kept = no_pointers_to_missing(us[:2], us, [p])
    assert [p[u.first].text for u in kept] == ["Save the named variables in the file."]
    assert len(no_pointers_to_missing(us, us, [p])) == 3  # the table follows: kept

    # a caption's bare number whose example is left out says nothing (kildclient's alias
    # answer ended on "Example 9.8.")
    p = _lines("Aliases shorten long commands.", "Example 9.8.", "```\n/alias k kill\n```")
    us = units(p)
    assert [p[u.first].text for u in no_pointers_to_missing(us[:2], us, [p])] == [
        "Aliases shorten long commands."
    ]


BREAKPOINTS = (
    "Breakpoints\n\n"
    "Breakpoints can be set in any function by using the dbstop function.\n\n"
    "dbstop func\n\n"
    "rline = dbstop func line: Set breakpoints for the built-in debugger.\n\n"
    "See also: dbclear, dbstatus.\n\n"
    "To set a breakpoint immediately upon entering a function use line number 1.\n\n"
    "For example:\n\n"
    '```\ndbstop ("asind", 1)\n```\n\n'
    "The return value is the line where the breakpoint was set.\n"
)


def test_an_answer_with_no_code_gets_the_example_that_goes_on_from_it() -> None:
    from m2io.generators.focus import units
    from m2io.generators.parts import example_for

    p = _lines(
        "Breakpoints can be set in any function by using the dbstop function.",
        "Conditions must be enclosed in quotes.",
        "For example:",
        "```\ndbstop in axis at 246 if 'any (opt == 1)'\n```",
        "The return value is the line where the breakpoint was set.",
        "To set a breakpoint upon entering a function use line number 1, for example:",
        '```\ndbstop ("asind", 1)\n```',
    )
    us = units(p)
    for u in us:
        u.score = 1.0 if "axis" in p[u.last].text else 0.5  # the other example scores higher
    said = [us[0], next(u for u in us if u.first == 4)]
    example = example_for(said, us, [p])
    assert example is not None and p[example.last].text.endswith('("asind", 1)\n```')
    # an answer that already holds code gets none
    assert example_for([*said, example], us, [p]) is None
