"""Languages (issue 20 item 4): documents carry theirs, a question is answered from the copies
in its own language, and the answer's notes say so when the corpus has none."""

from __future__ import annotations

from pathlib import Path

import pytest

from m2io.corpus import load_folder
from m2io.language import detect, from_path, normalize

EN = "How do I crop the image? Use the crop tool and drag the rectangle around the part you keep."
FR = (
    "Comment recadrer une image ? Utilisez l'outil de recadrage et tracez le rectangle autour "
    "de la partie que vous gardez, puis appuyez sur la touche Entrée pour valider."
)


def test_declared_path_and_detected_languages(tmp_path: Path) -> None:
    (tmp_path / "help" / "fr").mkdir(parents=True)
    (tmp_path / "help" / "fr" / "crop.html").write_text(f"<h1>Recadrer</h1><p>{FR}</p>")
    (tmp_path / "crop.html").write_text(f'<html lang="en-GB"><h1>Crop</h1><p>{EN}</p></html>')
    (tmp_path / "notes.md").write_text(f"# Recadrage\n\n{FR}")
    langs = {d.doc_id: d.language for d in load_folder(tmp_path).documents}
    assert langs == {"help/fr/crop.html": "fr", "crop.html": "en", "notes.md": "fr"}
    assert (normalize("ja-JP"), from_path("doc/x.ja.html"), detect("12 34")) == ("ja", "ja", "")


pytest.importorskip("faiss")
pytest.importorskip("bm25s")


def test_a_question_is_answered_from_copies_in_its_language(tmp_path: Path) -> None:
    from builders import tiny_index

    from m2io.retrievers.hybrid import HybridRetriever
    from m2io.types import Document

    docs = [
        Document("en/crop.html", EN, (), "Crop", "", "en"),
        Document("fr/crop.html", FR + " crop tool rectangle image", (), "Recadrer", "", "fr"),
    ]
    index = tiny_index(docs, tmp_path / "idx")
    retriever = HybridRetriever(index, top_k=2)
    english = retriever.retrieve("How do I crop the image with the crop tool?")
    assert {c.chunk.doc_id for c in english.chunks} == {"en/crop.html"}
    assert english.chunks[0].chunk.source.language == "en"
    french = retriever.retrieve("Comment recadrer une image avec l'outil de recadrage ?")
    assert {c.chunk.doc_id for c in french.chunks} == {"fr/crop.html"}
    german = retriever.retrieve("Wie kann ich das Bild mit dem Werkzeug zuschneiden und die Ecke?")
    assert german.chunks and any(
        "no documents in the question's language" in n for n in german.notes
    )
