"""Does the learned inserter generalise? Train on one part of a dev set, test on the rest.

For each split — by document (the ``--split val`` side held out, as the shipped policy), and by
chapter in both directions (train on ``filters``, test on the other chapters; and the reverse) —
this trains a policy with the shipped recipe (random and hard 1:1 distractors + pipeline items, α = 0.8,
seed 0) and scores it on the held-out side next to the Rule-Based baseline on the same items:

- inserter-only, gold answer text, random and hard 1:1 distractors (P/R/F1/ordering/position);
- end to end: the held-out questions' own retrieval + extractive answers (pipeline items), image
  F1 and ordering — what ``m2io eval --split val`` reports for the document split.

Writes ``learned_splits.md`` and ``learned_splits.json`` into ``--out``. Embeddings are cached
(``$M2IO_CACHE`` or ``~/.cache/m2io``); the index is the one ``m2io eval`` uses (built if missing).

Command (from the repository root)::

    .venv/bin/python benchmarks/learned_splits.py --data ../shared/bench/gimp --subset gimp \\
        --distractors both --out results/learned_splits
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from _common import SHOWN, data_parser, start, training_data

from m2io.evaluation.items import InserterItem, PipelineItem, score_inserter
from m2io.inserters.rule import RuleInserter
from m2io.learned_training import GRPOConfig
from m2io.learned_training.corpora import CorpusData
from m2io.learned_training.grpo import CachedEmbedder, evaluate, prepare, train_grpo

# --- chapters of the GIMP manual (this benchmark's split; the package knows no manual) --------

_MENU_HEAD = re.compile(r"([A-Z][\w-]*)\s*→")
_MENUS = frozenset(
    {"File", "Edit", "Select", "View", "Image", "Layer", "Colors", "Windows", "Help"}
)
CHAPTERS = ("filters", "tools", "dialogs", "menus", "other")


def document_chapter(text: str) -> str:
    """Chapter of a GIMP-manual page, from the menu paths it gives ("Filters → Blur → …").

    Rule, first match wins: a ``Filters →`` path → ``filters``; a ``Tools →`` path → ``tools``;
    a ``Windows →`` path and "dialog" in the first 300 characters → ``dialogs``; any other
    main-menu path (File, Edit, Select, View, Image, Layer, Colors, Windows, Help) → ``menus``;
    no menu path (concepts, tutorials, glossary, licence) → ``other``.
    """
    heads = set(_MENU_HEAD.findall(text))
    if "Filters" in heads:
        return "filters"
    if "Tools" in heads:
        return "tools"
    if "Windows" in heads and "dialog" in text[:300].lower():
        return "dialogs"
    if heads & _MENUS:
        return "menus"
    return "other"


def chapter_split(train_chapters: Sequence[str]) -> Callable[[InserterItem, CorpusData], bool]:
    """``load_training_data(split=...)``: an item is held out unless its first source
    document's chapter is one of ``train_chapters``."""
    unknown = set(train_chapters) - set(CHAPTERS)
    if unknown:
        raise ValueError(f"unknown chapters {sorted(unknown)}; valid: {', '.join(CHAPTERS)}")

    chapters: dict[tuple[str, str], str] = {}

    def held_out(item: InserterItem, cd: CorpusData) -> bool:
        if not chapters or next(iter(chapters))[0] != cd.name:
            chapters.clear()
            chapters.update(
                {(cd.name, d.doc_id): document_chapter(d.text) for d in cd.corpus.documents}
            )
        doc_id = item.doc_ids[0] if item.doc_ids else None
        return chapters.get((cd.name, doc_id), "other") not in train_chapters

    held_out.__name__ = f"chapters {'+'.join(train_chapters)}"
    return held_out


SPLITS: dict[str, dict[str, Any]] = {
    "documents (466 → 118)": {"split": "doc"},
    "filters → other chapters": {"split": chapter_split(("filters",))},
    "other chapters → filters": {
        "split": chapter_split(tuple(c for c in CHAPTERS if c != "filters")),
    },
}


def run_split(
    name: str, spec: dict[str, Any], args: argparse.Namespace, embedder: CachedEmbedder
) -> dict[str, Any]:
    common = {"cache_dir": args.cache_dir, **spec}
    data = training_data(args, embedder, pipeline=True, **common)
    random_val = training_data(args, embedder, distractors="random", **common).val
    held = {
        "random": random_val,
        "hard": training_data(args, embedder, distractors="hard", **common).val,
        "end to end": [it for it in data.val if isinstance(it, PipelineItem)],
    }
    profile = next(iter(data.profiles.values()), None)
    train = prepare(data.train, embedder, cache_dir=args.cache_dir, profile=profile)
    config = GRPOConfig(alpha=0.8, seed=args.seed)
    t0 = time.perf_counter()
    policy, _ = train_grpo(train, config)
    seconds = time.perf_counter() - t0
    rule = RuleInserter(embedder=embedder)
    out: dict[str, Any] = {
        "split": name,
        "n_train": len(data.train),
        "n_held_out": {k: len(v) for k, v in held.items()},
        "train_s": round(seconds, 1),
    }
    for kind, items in held.items():
        prepared = prepare(items, embedder, cache_dir=args.cache_dir, profile=profile)
        out[kind] = {"rule": score_inserter(rule, items), "learned": evaluate(policy, prepared)}
    return out


def table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| split | held out | system | P | R | F1 | ordering | position acc | ±1 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        for kind in ("random", "hard", "end to end"):
            for system in ("rule", "learned"):
                m = r[kind][system]
                prefix = "pipeline_" if kind == "end to end" else ""
                cells = [
                    f"{m[prefix + k]:.1f}" if prefix + k in m else "–"
                    for k in SHOWN
                    if not (prefix and k.startswith("position"))
                ]
                if prefix:
                    cells += ["–", "–"]
                label = f"{kind} ({r['n_held_out'][kind]})"
                lines.append(f"| {r['split']} | {label} | {system} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    p = data_parser(__doc__)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only", help="run only the splits whose name contains this text")
    args, out, embedder = start(p, "results/learned_splits")
    rows = []
    for name, spec in SPLITS.items():
        if args.only and args.only not in name:
            continue
        rows.append(run_split(name, spec, args, embedder))
        print(f"{name}: done in {rows[-1]['train_s']} s of training", flush=True)
    meta = {
        "data": str(Path(args.data).resolve()),
        "subset": args.subset,
        "recipe": f"{args.distractors} 1:1 distractors + pipeline items, alpha 0.8, "
        "GRPOConfig defaults",
        "seed": args.seed,
        "date": time.strftime("%Y-%m-%d"),
    }
    (out / "learned_splits.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    lines = [
        "# Learned inserter: held-out splits",
        "",
        f"Data `{meta['data']}` ({args.subset}); recipe: {meta['recipe']}, seed {args.seed}. "
        "Rule = RuleInserter (threshold 0.4) on the same held-out items. ×100, greedy decoding. "
        "'end to end' = each held-out question's own retrieval + extractive answer.",
        "",
        *table(rows),
    ]
    (out / "learned_splits.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
