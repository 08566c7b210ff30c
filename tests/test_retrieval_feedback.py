"""Issue 21 retrieval, second round: feedback from the first pass, and the reader a page is for.

A word the question lacks but its best pages use ("disable" for "turn off") is searched too;
an API reference page (C prototypes, their fields) ranks below the user page for a natural
question, and stays first for one that names the function.
"""

from __future__ import annotations

import pytest

from m2io.retrievers.audience import api_share, names_identifier
from m2io.retrievers.feedback import expansion_terms
from m2io.testing.hash_embedder import hash_index
from m2io.types import Document

pytest.importorskip("faiss")
pytest.importorskip("bm25s")

from m2io.retrievers.hybrid import HybridRetriever  # noqa: E402


def _index(tmp_path, docs):
    return hash_index(tmp_path / "idx", docs)


API = (
    "GSM_Error SMSD_InjectSMS(GSM_SMSDConfig *Config, GSM_MultiSMSMessage *sms)\n\n"
    "Puts a message in the SMS daemon queue.\n\n"
    "Parameters : Config – the daemon configuration\n\n"
    "Returns : error code.\n\n"
    "void SMSD_FreeConfig(GSM_SMSDConfig *config)\n\n"
    "Frees the configuration."
)
USER = (
    "gammu-smsd-inject puts a new message in the outbox of the running daemon, which sends it. "
    "Run it with the message type and the recipient's number; the text is read from the "
    "command line or typed in."
)


def test_api_pages_are_told_from_user_pages_by_their_lines():
    assert api_share([API]) >= 0.5
    assert api_share([USER, "```\ngammu-smsd-inject TEXT 123456 -text 'Hi'\n```"]) == 0
    # a Python class signature and a C header count; prose mentioning a call does not
    assert api_share(["class gammu.smsd. SMSD ( Config ): main class", "#include <gammu.h>"]) == 1
    assert api_share(["Call save(x) to keep it.", "Then quit."]) == 0
    # a method synopsis over several lines (DocBook's funcsynopsis), and its purpose line
    perl = "$world->trigger function: creates a trigger\n\nvoid $world->trigger( | pattern ,"
    assert api_share([perl, "action ,", "[attributes] );", "Creates a new trigger."]) == 0.4
    assert api_share([]) == 0


def test_a_question_names_an_identifier_only_when_it_spells_one():
    assert not names_identifier("How do I put a message in the SMS daemon's queue?")
    assert not names_identifier("How do I store received messages in a MySQL database?")
    for q in (
        "What does SMSD_InjectSMS return?",
        "How is gammu.smsd used?",
        "Why does save() fail?",
    ):
        assert names_identifier(q)


def test_a_user_page_ranks_above_the_api_page_for_a_natural_question(tmp_path):
    docs = [
        Document("c/smsd.html", API, title="SMSD"),
        Document("smsd/inject.html", USER, title="gammu-smsd-inject"),
        Document("faq.html", "Phones, cables and drivers are listed here.", title="FAQ"),
    ]
    index = _index(tmp_path, docs)
    query = "How do I put a message in the SMS daemon queue?"
    plain = HybridRetriever(index, min_score=0, audience_weight=0, prf_weight=0)
    assert plain.retrieve(query).chunks[0].chunk.doc_id == "c/smsd.html"
    default = HybridRetriever(index, min_score=0, prf_weight=0)
    assert default.retrieve(query).chunks[0].chunk.doc_id == "smsd/inject.html"
    named = "What does SMSD_InjectSMS do with a message in the SMS daemon queue?"
    assert default.retrieve(named).chunks[0].chunk.doc_id == "c/smsd.html"


def test_an_untitled_corpus_is_not_demoted(tmp_path):
    docs = [Document("api", API), Document("user", USER)]
    index = _index(tmp_path, docs)
    query = "How do I put a message in the SMS daemon queue?"
    on = HybridRetriever(index, min_score=0, prf_weight=0, audience_weight=10)
    off = HybridRetriever(index, min_score=0, prf_weight=0, audience_weight=0)
    assert [c.score for c in on.retrieve(query).chunks] == [
        c.score for c in off.retrieve(query).chunks
    ]


def test_expansion_terms_leave_out_the_question_and_weigh_rare_words():
    texts = ["Disable the warning: warning off, or disable all.", "Enable warnings again."]
    df = {"disabl": 1, "warn": 5, "enabl": 1, "off": 30, "again": 30}
    terms = expansion_terms(texts, query={"warn"}, df=df.get, n_docs=40, n_terms=2)
    assert list(terms) == ["disabl", "enabl"]
    assert sum(terms.values()) == pytest.approx(1)
    assert expansion_terms([], query=set(), df={}.get, n_docs=1, n_terms=3) == {}


def test_feedback_searches_the_words_of_the_best_pages(tmp_path):
    fill = [
        Document(f"f{i}", f"Topic {w} and more {w} text.", title=w)
        for i, w in enumerate(["plots", "matrices", "strings", "loops", "images", "files"])
    ]
    docs = [
        Document(
            "issue",
            "Turn a warning on with warning. Disable it with warning off.",
            title="Issuing warnings",
        ),
        Document(
            "toggle",
            "Enabling and disabling: disable one identifier, or disable all.",
            title="Enabling and disabling",
        ),
        *fill,
    ]
    index = _index(tmp_path, docs)
    query = "How do I turn off a warning?"
    lexical = {}
    for w in (0.0, 0.3):
        r = HybridRetriever(index, min_score=0, prf_weight=w, expand=False, top_k=8)
        lexical[w] = {c.chunk.doc_id: c.lexical_score for c in r.retrieve(query).chunks}
    assert lexical[0.0]["toggle"] == 0  # shares no word with the question
    assert lexical[0.3]["toggle"] > 0  # "disable", from the page the question found


def test_feedback_options_are_checked(tmp_path):
    index = _index(tmp_path, [Document("a", "Some text.", title="A")])
    for bad in ({"prf_docs": -1}, {"prf_terms": 0}, {"prf_weight": -0.1}, {"audience_weight": "3"}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            HybridRetriever(index, **bad)


def test_doc_freq_counts_the_chunks_that_hold_a_word(tmp_path):
    docs = [
        Document("a", "Disable the warning.", title="A"),
        Document("b", "Disable all warnings; disabling is quick.", title="B"),
        Document("c", "Plots and figures.", title="C"),
    ]
    lexical = _index(tmp_path, docs).lexical
    assert lexical.doc_freq("disabl") == 2  # analysed (stemmed) form, once per chunk
    assert lexical.doc_freq("plot") == 1
    assert lexical.doc_freq("nowhere") == 0
