"""A chunk that runs on into the next section names it (issue 21): the sentences past the heading
are cited by their own section, the answer's sections are cut there, and the index keeps the
sections each chunk holds (an index written before keeps working).

The fixture has FRR's shape (held-out reading, defect 9): a chunk holds the end of "PAM
support" and the heading and defining sentence of "Integrated configuration mode".
"""

from __future__ import annotations

import json
import logging

import pytest

from m2io.generators.extractive import ExtractiveGenerator
from m2io.index.records import MAX_SECTIONS, RowError, chunk_from_row, chunk_row
from m2io.index.sections import chunk_sources
from m2io.testing.hash_embedder import HashEmbedder
from m2io.types import Chunk, Document, Retrieval, RetrievedChunk, SectionSpan, Source

PAGE = (
    "PAM support\n\n"
    "Vtysh can authenticate users through PAM when it is built with the PAM option. "
    "Authentication happens before the first command is read.\n\n"
    "Integrated configuration mode\n\n"
    "Integrated configuration mode uses a single configuration file, frr.conf, for all "
    "daemons. Each daemon reads its own part of that one file at start.\n"
)
HEAD = PAGE.index("Integrated configuration mode\n")


def _page_chunk() -> Chunk:
    [(source, _, crossed)] = chunk_sources(
        Document("vtysh", PAGE, title="VTY shell"), [Chunk("vtysh#4", "vtysh", PAGE)], None
    )
    return Chunk("vtysh#4", "vtysh", PAGE, title="VTY shell", source=source, sections=crossed)


def test_a_chunk_crossing_a_heading_names_the_section_after_it() -> None:
    chunk = _page_chunk()
    assert chunk.source is not None and chunk.source.section == "PAM support"
    assert chunk.sections == (SectionSpan(HEAD, "Integrated configuration mode"),)
    assert chunk.section_at(0) == "PAM support"
    assert chunk.section_at(HEAD - 1) == "PAM support"
    src = chunk.source_at(PAGE.index("frr.conf"))
    assert src is not None and src.section == "Integrated configuration mode"
    assert src.doc_id == "vtysh" and src.title == "VTY shell"


def test_a_chunk_inside_one_section_names_no_other() -> None:
    text = PAGE[HEAD:]
    [(source, _, crossed)] = chunk_sources(
        Document("vtysh", PAGE), [Chunk("vtysh#5", "vtysh", text, start=HEAD)], None
    )
    assert source.section == "Integrated configuration mode" and crossed == ()


def test_the_answer_cites_the_section_its_sentence_comes_from() -> None:
    retrieval = Retrieval("q", (RetrievedChunk(_page_chunk(), 1.0, dense_score=0.8),), ())
    gen = ExtractiveGenerator(embedder=None)
    out = gen.generate(
        "Which file does integrated configuration mode use for all daemons?", retrieval
    )
    cited = {s.text: s.source.section for s in out.sentences if s.source is not None}
    frr = next(t for t in cited if "frr.conf" in t)
    assert cited[frr] == "Integrated configuration mode"


def test_a_how_to_answer_opens_on_the_section_past_the_heading() -> None:
    """The section cut of how-to answers follows the sentences' sections. Here the headings are
    repeated by the page's contents list, so the generator drops them as navigation and only
    the chunk's sections say where "Integrated configuration mode" begins: the answer opens
    there, not on PAM's sentences (which came first when the chunk was one section)."""
    toc = "Contents\n\nPAM support\n\nIntegrated configuration mode\n\n"
    text = toc + PAGE.replace("read.", "read. The PAM settings live in the pam.d folder.")
    [(source, _, crossed)] = chunk_sources(
        Document("vtysh", text, title="VTY shell"), [Chunk("vtysh#0", "vtysh", text)], None
    )
    chunk = Chunk("vtysh#0", "vtysh", text, title="VTY shell", source=source, sections=crossed)
    retrieval = Retrieval("q", (RetrievedChunk(chunk, 1.0, dense_score=0.8),), ())
    out = ExtractiveGenerator(embedder=None).generate(
        "How do I use integrated configuration mode?", retrieval
    )
    first = out.sentences[0]
    assert "frr.conf" in first.text
    assert first.source is not None
    assert first.source.section == "Integrated configuration mode"
    assert any(s.source.section == "PAM support" for s in out.sentences if "PAM" in s.text)


def _row(**change: object) -> dict:
    row = chunk_row(_page_chunk(), [])
    row.update(change)
    return row


def test_a_row_keeps_the_sections_and_an_old_row_reads_as_one_section() -> None:
    row = json.loads(json.dumps(_row()))
    assert row["sections"] == [[HEAD, "Integrated configuration mode"]]
    chunk, _, _ = chunk_from_row(row, [])
    assert chunk.sections == _page_chunk().sections
    del row["sections"]
    old, _, _ = chunk_from_row(row, [])
    assert old.sections == () and old.section_at(HEAD + 5) == "PAM support"
    plain = chunk_row(Chunk("d#0", "d", "One section only.", source=Source("d")), [])
    assert "sections" not in plain  # rows of chunks in one section stay as they were


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        ("Integrated", "not a list"),
        ([[HEAD, "A"]] * (MAX_SECTIONS + 1), "not a list of at most"),
        ([[HEAD]], "not an \\[int, title\\] pair"),
        ([[str(HEAD), "A"]], "not an \\[int, title\\] pair"),
        ([[HEAD, "A" * 201]], "not an \\[int, title\\] pair"),
        ([[0, "A"]], "offset 0 is not past 0"),
        ([[len(PAGE) + 1, "A"]], "inside the chunk text"),
        ([[HEAD, "A"], [HEAD, "B"]], f"offset {HEAD} is not past {HEAD}"),
    ],
)
def test_hostile_sections_in_a_row_are_refused_with_a_reason(sections, message) -> None:
    with pytest.raises(RowError, match=message):
        chunk_from_row(_row(sections=sections), [])


def test_written_sections_are_capped_in_count_and_title_length() -> None:
    many = tuple(SectionSpan(i + 1, "T" * 500) for i in range(MAX_SECTIONS + 10))
    row = chunk_row(Chunk("d#0", "d", "x" * 100, source=Source("d"), sections=many), [])
    assert len(row["sections"]) == MAX_SECTIONS
    assert {len(t) for _, t in row["sections"]} == {200}
    chunk_from_row(row, [])  # what is written reads back


def test_an_index_keeps_the_sections_and_one_built_before_still_opens(tmp_path, caplog) -> None:
    pytest.importorskip("faiss")
    pytest.importorskip("bm25s")
    from m2io.index import Index, build_index

    filler = " ".join(f"Sentence {i} is about the PAM module." for i in range(12))
    text = PAGE.replace("Authentication happens", filler + " Authentication happens")
    doc = Document("vtysh", text, title="VTY shell")
    out = tmp_path / "idx"
    build_index([doc], out, embedder=HashEmbedder(), max_words=60, progress=False)
    chunks = list(Index.open(out, embedder=HashEmbedder()).chunks)
    crossing = [c for c in chunks if c.sections]
    assert crossing, [c.text[:40] for c in chunks]
    assert all(c.source_at(s.offset).section == s.title for c in crossing for s in c.sections)
    # the same index as one written before chunks named their sections
    path = out / "chunks.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    for row in rows:
        row.pop("sections", None)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with caplog.at_level(logging.INFO, logger="m2io.index.store"):
        old = Index.open(out, embedder=HashEmbedder())
    assert [c.text for c in old.chunks] == [c.text for c in chunks]
    assert not any(c.sections for c in old.chunks)
    assert "run into a later section and do not name it" in caplog.text


def test_a_heading_ranking_can_rank_a_chunk_by_the_best_of_its_sections() -> None:
    from m2io.retrievers.headings import HeadingVectors, heading_text, heading_texts

    chunk = _page_chunk()
    assert heading_texts(chunk) == [
        heading_text(chunk),
        "VTY shell Integrated configuration mode",
    ]
    emb = HashEmbedder()
    heads = [["VTY shell PAM support"], heading_texts(chunk), ["Routing tables"]]
    vectors = HeadingVectors(heads, emb.encode)
    q = emb.encode(["integrated configuration mode"])[0]
    assert vectors.ranking(q, 3, frozenset()) == [1, 0, 2]  # row 1 once, at its best path
    first_only = HeadingVectors([h[0] for h in heads], emb.encode)
    assert first_only.ranking(q, 3, frozenset())[0] != 1


def test_a_model_sentence_citing_the_chunk_names_the_section_it_says() -> None:
    from m2io.generators.prompts import cited

    retrieval = Retrieval("q", (RetrievedChunk(_page_chunk(), 1.0),), ())
    frr = cited("All daemons share one configuration file, frr.conf [1].", retrieval)
    pam = cited("Vtysh authenticates users through PAM [1].", retrieval)
    assert frr.source is not None and frr.source.section == "Integrated configuration mode"
    assert pam.source is not None and pam.source.section == "PAM support"


def test_a_list_item_the_index_took_for_a_heading_does_not_open_a_how_to_answer() -> None:
    """FRR's "local-syslog - same as RFC 3164, …" is a one-line list item that the index reads
    as a heading; the generator reads its line as a sentence, so it names no section (its lines
    are cited by the section around them) and the answer does not open on it (it did when the
    chunk's sections were first followed)."""
    text = (
        "Extended Logging Target\n\nEach extended log target supports emitting log messages "
        "in one of the following formats:\n\n"
        "rfc5424 - RFC 5424 - modern syslog with ISO 8601 timestamps and structured data\n\n"
        "rfc3164 - RFC 3164 - legacy BSD syslog, timestamps with 1 second granularity\n\n"
        "local-syslog - same as RFC 3164, but without the hostname field\n\n"
        "journald - systemd's native journald protocol. It supports structured data.\n\n"
        "Destinations\n\nThe output location is configured with the following subcommands:\n\n"
        "destination none: Disable the target while retaining its configuration.\n\n"
        "destination syslog: Send log messages to the system's standard log destination "
        "(/dev/log). This does not use the C library's syslog() function.\n"
    )
    [(source, _, crossed)] = chunk_sources(
        Document("extlog", text), [Chunk("extlog#0", "extlog", text)], None
    )
    assert [s.title[:12] for s in crossed] == ["local-syslog", "Destinations"]
    chunk = Chunk("extlog#0", "extlog", text, source=source, sections=crossed)
    retrieval = Retrieval("q", (RetrievedChunk(chunk, 1.0, dense_score=0.8),), ())
    out = ExtractiveGenerator(embedder=None).generate(
        "How do I send the logs to syslog?", retrieval
    )
    assert not out.sentences[0].text.startswith("local-syslog")
    assert any(s.text.startswith("destination syslog") for s in out.sentences)
    cited = {s.text[:12]: s.source.section for s in out.sentences if s.source is not None}
    assert cited.get("local-syslog", "Extended Logging Target") == "Extended Logging Target"
    assert cited.get("journald - s", "Extended Logging Target") == "Extended Logging Target"
    assert cited["destination "] == "Destinations"
