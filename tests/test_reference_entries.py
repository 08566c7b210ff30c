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
    "warning (state, mode): Display a warning message or turn warnings on and off.\n\n"
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
