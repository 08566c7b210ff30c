"""A procedure comes whole and in order; an answer that cannot hold it says where it goes on
(issue 21, item 2).

On Gutenprint's manual, nobody tuned on, "How do I update my printer queues after upgrading?"
reached step 2 and stopped, with no sign that the procedure goes on; steps were picked one by
one, so a later one could be left out while narrative around it stayed. These fixtures have
that shape: a section whose numbered steps each carry sentences and a command.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from m2io.corpus import load_corpus
from m2io.generators.extractive import ExtractiveGenerator
from m2io.generators.procedures import PROCEDURE_CAP
from m2io.mergers.default import DefaultMerger
from m2io.mergers.render import to_html, to_markdown
from m2io.retrievers.context import ContextMixin
from m2io.serve.answer import continued_out
from m2io.types import (
    Chunk,
    Continuation,
    Placement,
    Retrieval,
    RetrievedChunk,
    Sentence,
    Source,
    TextAnswer,
)

QUESTION = "How do I update the printer queues after an upgrade?"
STORY = (
    "The old backends were removed from the driver in this release, because they did not "
    "always send all of the data to the printer. The printer then waits for more data while "
    "the backend believes all of it was sent, which looks like a hang to whoever prints. "
)


def _step(n: int, words: int = 40) -> str:
    """Step ``n``: its line, a command, and sentences up to about ``words`` words."""
    body = " ".join(f"Check item{n}x{k} of the queue list for an old backend." for k in range(6))
    body = " ".join(body.split()[: max(6, words - 12)]) + "."
    return (
        f"{n}. Update queue group {n} to the new backend.\n\n{body}\n\n```\n$ lpadmin -p q{n}\n```"
    )


def _page(n_steps: int, words: int = 40) -> str:
    steps = "\n\n".join(_step(n, words) for n in range(1, n_steps + 1))
    return (
        f"Updating the printer queues\n\n{STORY}\n\nHere are the steps to update the queues "
        f"after an upgrade.\n\n{steps}\n\nThe queues now print as before."
    )


def _retrieval(text: str, *, goes_on: bool = False, other: str = "") -> Retrieval:
    src = Source("manual", "Manual", "manual.html", "Updating the printer queues")
    chunks = [RetrievedChunk(Chunk("manual#0", "manual", text, source=src), 1.0, 0.8)]
    if other:
        osrc = Source("other", "Other", "other.html", "Backends")
        chunks.append(RetrievedChunk(Chunk("other#0", "other", other, source=osrc), 0.9, 0.75))
    return Retrieval(QUESTION, tuple(chunks), (), continued=("manual#0",) if goes_on else ())


def _texts(answer: TextAnswer) -> list[str]:
    return [s.text for s in answer.sentences]


def _steps_shown(texts: list[str]) -> list[int]:
    return [int(t.split(".")[0]) for t in texts if t[:1].isdigit() and ". Update queue" in t]


def test_a_procedure_past_the_budget_comes_whole_in_order_with_its_lead_in() -> None:
    gen = ExtractiveGenerator(embedder=None)
    other = (  # about the question (its first sentence says it): it would join if it could
        "Backends\n\nPrinter queues that use the old backends need an update after an upgrade."
    )
    answer = gen.generate(QUESTION, _retrieval(_page(5), other=other))
    texts = _texts(answer)
    assert _steps_shown(texts) == [1, 2, 3, 4, 5], texts
    assert texts[0] == "Here are the steps to update the queues after an upgrade."
    # every step's sentences and command, in the author's order
    for n in range(1, 6):
        at = texts.index(f"{n}. Update queue group {n} to the new backend.")
        assert texts[at + 1 : at + 5] == [
            f"Check item{n}x0 of the queue list for an old backend.",
            f"Check item{n}x1 of the queue list for an old backend.",
            f"Check item{n}x2 of the queue list for an.",
            f"```\n$ lpadmin -p q{n}\n```",
        ]
    words = sum(len(t.split()) for t in texts)
    assert gen.budget(QUESTION) < words <= PROCEDURE_CAP * gen.budget(QUESTION)
    # the narrative and the other page gave way: the procedure left them no words
    assert not any(t.startswith("The old backends") for t in texts)
    assert not any(s.source and s.source.doc_id == "other" for s in answer.sentences)
    assert answer.continued is None


def test_a_procedure_past_the_cap_stops_after_a_whole_step_and_says_where_it_goes_on() -> None:
    gen = ExtractiveGenerator(embedder=None)
    answer = gen.generate(QUESTION, _retrieval(_page(9, words=60)))
    texts = _texts(answer)
    shown = _steps_shown(texts)
    assert shown == list(range(1, len(shown) + 1)) and 2 <= len(shown) < 9, texts  # no gap
    last = shown[-1]
    assert texts[-1].endswith(f"$ lpadmin -p q{last}\n```")  # the last step shown is whole
    assert sum(len(t.split()) for t in texts) <= PROCEDURE_CAP * gen.budget(QUESTION)
    c = answer.continued
    assert c is not None and (c.first_step, c.last_step) == (str(last + 1), "9")
    assert c.source is not None and c.source.section == "Updating the printer queues"
    assert any(
        f"Steps {last + 1}\u20139 continue in Updating the printer queues" in n
        for n in answer.notes
    )


def test_a_context_that_ends_inside_the_procedure_says_its_last_step_goes_on() -> None:
    text = _page(2).rsplit("\n\nThe queues now print", 1)[0]  # the chunk ends in step 2
    answer = ExtractiveGenerator(embedder=None).generate(QUESTION, _retrieval(text, goes_on=True))
    assert _steps_shown(_texts(answer)) == [1, 2]
    assert answer.continued is not None
    # step 2 may go on past the context, and what follows it
    assert (answer.continued.first_step, answer.continued.last_step) == ("2", "")
    # the same context whose section ends there: nothing goes on
    whole = ExtractiveGenerator(embedder=None).generate(QUESTION, _retrieval(text))
    assert whole.continued is None


def test_other_questions_get_no_procedure_rule() -> None:
    question = "What does the manual say about the printer queues?"
    answer = ExtractiveGenerator(embedder=None).generate(question, _retrieval(_page(9, words=60)))
    assert answer.continued is None
    assert sum(len(s.text.split()) for s in answer.sentences) <= 140


def test_the_rendered_answer_says_where_the_procedure_goes_on_with_its_source(
    tmp_path: Path,
) -> None:
    src = Source("manual", "Manual", "manual.html", "Updating the printer queues")
    (tmp_path / "manual.html").write_text("<h1>Manual</h1>")
    text = TextAnswer(
        QUESTION,
        (Sentence("1. Update queue group 1.", "manual#0", src),),
        continued=Continuation("4", "9", src, "manual#0"),
    )
    answer = DefaultMerger().merge(text, Placement(), ())
    answer = type(answer)(**{**answer.__dict__, "image_root": str(tmp_path)})
    md = to_markdown(answer, relative_to=tmp_path)
    assert (
        "*Steps 4\u20139 continue in [Manual › Updating the printer queues](<manual.html>) [1].*"
        in md
    )
    assert md.index("continue in") < md.index("Sources:")
    page = to_html(answer, relative_to=tmp_path)
    assert '<p class="continued"><em>Steps 4\u20139 continue in <a href="manual.html"' in page
    assert '<a href="#source-1">[1]</a>' in page.split('class="continued"')[1]
    out = continued_out(answer)
    assert out == {
        "first_step": "4",
        "last_step": "9",
        "source": 1,
        "text": "Steps 4\u20139 continue in Manual › Updating the printer queues.",
    }
    assert answer.to_dict()["continued"]["first_step"] == "4"
    assert Continuation("3").says("X") == "Step 3 and what follows it continue in X."
    assert Continuation("9", "9").says("X") == "Step 9 continues in X."


def test_the_retriever_says_which_chunks_their_section_goes_on_past() -> None:
    chunks = [Chunk(f"d#{k}", "d", "t") for k in range(4)] + [Chunk("e#0", "e", "t")]
    index = SimpleNamespace(
        chunks=chunks,
        doc_rows={"d": [0, 1, 2, 3], "e": [4]},
        chunk_sections=[(0, 10), (0, 10), (0, 10), (10, 20), (0, 5)],
    )
    ctx = ContextMixin()
    ctx.index = index  # type: ignore[assignment]
    # d#1's section goes on in d#2, not returned; d#2 ends it; d#3 and e#0 end their documents
    assert ctx._goes_on([0, 1, 3, 4]) == ("d#1",)
    assert ctx._goes_on([0, 1, 2, 3]) == ()


def test_an_html_ordered_list_keeps_its_numbers(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_text(
        "<html><body><h1>Crop</h1><p>To crop an image:</p><ol><li><p>Open the image.</p></li>"
        "<li>Choose the tool.</li></ol><ul><li>a bullet</li></ul>"
        '<ol type="i"><li>a sub-step</li></ol><ol start="4"><li>Press Enter.</li></ol>'
        "</body></html>"
    )
    text = load_corpus(tmp_path).documents[0].text
    lines = [ln for ln in text.splitlines() if ln]
    assert lines[2:] == [
        "1. Open the image.",
        "2. Choose the tool.",
        "a bullet",
        "i. a sub-step",
        "4. Press Enter.",
    ]
    # items left unclosed (old hand-written pages) nest in one another: left unnumbered
    (tmp_path / "a.html").write_text("<p>Select:</p><ol><li>two points;<li>a segment;</ol>")
    assert not any(ln[:1].isdigit() for ln in load_corpus(tmp_path).documents[0].text.splitlines())
