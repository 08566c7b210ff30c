"""Insert-stage latency inside the pipeline: rule vs learned vs anchored, same process, same answers.

Runs the default hybrid retriever and the extractive generator once per question (first ``--n``
questions of the subset), then times ``insert`` of each inserter on the same (answer, candidates),
rotating the inserters per question so that machine noise hits all alike. Every inserter uses the
index's stored image vectors (the index seeds the shared embedder). Before each timed call the
embedder's recent-text cache is emptied and the question retrieved again (untimed), so the
cache holds what the retriever leaves behind in a real pipeline where only one inserter runs (the
question's search text, :func:`m2io.retrievers.query.search_text`, not always the question). Each insert runs in two modes, alternated per question (issue 24 item 2):
``embedding`` withholds the index's stored sentence vectors (:mod:`m2io.index.sentences`), so an
inserter that compares the answer's sentences with images embeds them, as before they were
stored; ``stored`` looks them up. Both modes' placements are compared (``same_placements``), and
the share of answer sentences found stored, the files' size and the cost of opening them are
recorded. In ``stored`` the retriever embeds the whole question beside its search text
(``HybridRetriever(whole_question=True)``); a third mode, ``stored_question_in_insert``, looks the
sentence vectors up but lets the retriever embed only the search text (the default: the learned
policy then embeds the whole question inside ``insert``); every retrieval before a timed insert is timed too
(``retrieve_ms``, the fastest of the calls per question and mode), so what embedding the whole
question beside the search text adds to retrieval is measured in the same run. The texts each
inserter actually sends to the model are counted (``texts_embedded``: no work twice means the
learned inserter embeds no candidate text the index already holds). The learned inserter gets
the corpus profile (measured once, before timing) and reports its own split (``embed_ms`` /
``policy_ms``), the share of inserts that embed anything, and the learned inserter's p95 / p50.
The machine's load average is recorded at both ends. Writes ``--out`` (JSON) and prints a
summary.

Command (from the repository root)::

    .venv/bin/python benchmarks/bench_insert.py --data ../shared/bench/gimp --subset gimp \\
        --n 120 --out results/bench_insert.json
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from _report import machine, write_result

from m2io.config import PipelineConfig
from m2io.corpus.mramg import load_mramg, load_questions
from m2io.embed.text import load_text_embedder
from m2io.evaluation.e2e import ensure_index, eval_index_dir
from m2io.factory import build_generator, build_retriever
from m2io.index.sentences import SENTENCE_KEYS, SENTENCES, read_sentence_vectors
from m2io.inserters.anchored import AnchoredInserter
from m2io.inserters.learned import LearnedInserter
from m2io.inserters.rule import RuleInserter
from m2io.retrievers.query import search_text


def stats(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(float(np.percentile(values, 50)), 2),
        "p95": round(float(np.percentile(values, 95)), 2),
        "mean": round(float(np.mean(values)), 2),
    }


def summary(
    times: dict[str, list[float]], embedded: dict[str, list[int]], split: dict[str, list[float]]
) -> dict[str, object]:
    """One mode's figures: insert times, the learned inserter's split and p95 / p50, the texts
    each inserter sent to the model."""
    learned = times["learned"]
    return {
        "insert_ms": {k: stats(v) for k, v in times.items()},
        "learned_split_ms": {k: stats(v) for k, v in split.items()},
        "learned_p95_over_p50": round(
            float(np.percentile(learned, 95) / np.percentile(learned, 50)), 2
        ),
        "texts_embedded_per_insert": {k: stats(v) for k, v in embedded.items()},
        "share_of_inserts_that_embed": {
            k: round(float(np.mean([n > 0 for n in v])), 3) for k, v in embedded.items()
        },
        "p50_learned_minus_rule_ms": round(
            float(np.percentile(learned, 50) - np.percentile(times["rule"], 50)), 2
        ),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default="../shared/bench/gimp")
    p.add_argument("--subset", default="gimp")
    p.add_argument("--n", type=int, default=120, help="questions to time")
    p.add_argument("--index", help="index folder (default: the one m2io eval uses)")
    p.add_argument("--out", default="results/bench_insert.json")
    p.add_argument(
        "--ask",
        choices=("as-given", "search-text"),
        default="as-given",
        help="ask each question as the data set gives it, or as its search text (without the "
        "data set's wrapper, 'What does the GIMP documentation say about ...', which the "
        "retriever cuts off: then the retriever's question vector is the one the learned "
        "inserter needs, as for a user's own 'How do I ...?')",
    )
    p.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="time each insert this many times (the same state before each) and keep the "
        "fastest: on a shared machine a 2 ms call is often preempted by other jobs, which the "
        "fastest of a few leaves out (1: each insert once, as before)",
    )
    args = p.parse_args()

    data = Path(args.data).resolve()
    load_at_start = os.getloadavg()
    corpus = load_mramg(data, args.subset)
    questions = load_questions(data, args.subset)[: args.n]
    folder, _ = ensure_index(
        corpus.documents,
        args.index or eval_index_dir(data, args.subset),
        corpus_root=corpus.root or None,
        sentence_vectors=True,  # the "stored" mode looks them up (opt-in at build time)
    )
    cfg = PipelineConfig()
    cfg.index = str(folder)
    retriever, generator = build_retriever(cfg), build_generator(cfg)
    cases = []
    for q in questions:
        question = q.question if args.ask == "as-given" else search_text(q.question)
        retrieval = retriever.retrieve(question)
        cases.append((generator.generate(question, retrieval), retrieval.candidates))
    learned = LearnedInserter(profile=data)
    inserters = {"rule": RuleInserter(), "learned": learned, "anchored": AnchoredInserter()}
    for ins in inserters.values():  # warm-up: load models, first-call costs
        ins.insert(*cases[0])
    embedder = load_text_embedder()  # the instance the index seeded and every inserter uses
    tables = dict(embedder._tables)  # the index's stored sentence vectors (none: an old index)
    if not tables:
        print("the index holds no stored sentence vectors: both modes embed the sentences")
    t0 = time.perf_counter()
    cold = read_sentence_vectors(folder, embedder.dim)
    if cold is not None:
        cold.lookup(["warm the key search"])  # the first lookup sorts nothing, checks the order
    cold_ms = 1000 * (time.perf_counter() - t0)
    # sentence vectors withheld / looked up (the retriever embedding the whole question beside its
    # search text, ``whole_question=True``); and looked up with the retriever embedding only the
    # search text, the default (the policy then embeds the whole question in insert)
    modes = {"embedding": {}, "stored": tables, "stored_question_in_insert": tables}

    retrieve_ms = {m: [] for m in modes}
    times = {m: {name: [] for name in inserters} for m in modes}
    embedded = {m: {name: [] for name in inserters} for m in modes}
    split = {m: {"embed_ms": [], "policy_ms": []} for m in modes}
    placed = {m: {name: [] for name in inserters} for m in modes}
    sent: list[int] = []
    model_encode = embedder._encode

    def counting(texts, batch_size, progress):  # what reaches the model, cache misses only
        sent.append(len(texts))
        return model_encode(texts, batch_size, progress)

    embedder._encode = counting
    names, mode_names = list(inserters), list(modes)
    hits = found = 0
    for k, (answer, candidates) in enumerate(cases):
        texts = [s.text for s in answer.sentences]
        if tables:
            got = next(iter(tables.values())).lookup(texts)
            hits, found = hits + sum(v is not None for v in got), found + len(texts)
        for mode in mode_names[k % len(mode_names) :] + mode_names[: k % len(mode_names)]:
            embedder._tables = dict(modes[mode])
            retriever.whole_question = mode != "stored_question_in_insert"
            fastest_retrieve = float("inf")
            for name in names[k % len(names) :] + names[: k % len(names)]:
                best = float("inf")
                for _ in range(args.repeats):
                    embedder.forget_recent()
                    t0 = time.perf_counter()
                    retriever.retrieve(answer.question)  # leaves behind what it embedded
                    fastest_retrieve = min(fastest_retrieve, 1000 * (time.perf_counter() - t0))
                    sent.clear()
                    t0 = time.perf_counter()
                    placement = inserters[name].insert(answer, candidates)
                    best = min(best, 1000 * (time.perf_counter() - t0))
                times[mode][name].append(best)
                embedded[mode][name].append(sum(sent))
                placed[mode][name].append(placement.slots)
            retrieve_ms[mode].append(fastest_retrieve)
            split[mode]["embed_ms"].append(learned.last_timing["embed_ms"])
            split[mode]["policy_ms"].append(learned.last_timing["policy_ms"])
    embedder._encode = model_encode
    retriever.whole_question = False
    embedder._tables = tables
    result = {
        "data": str(data),
        "subset": args.subset,
        "n": len(cases),
        "ask": args.ask,
        "repeats": args.repeats,
        "questions_with_a_wrapper": sum(search_text(a.question) != a.question for a, _ in cases),
        "modes": {m: summary(times[m], embedded[m], split[m]) for m in modes},
        "retrieve_ms": {m: stats(v) for m, v in retrieve_ms.items()},
        "same_placements": {
            name: sum(
                all(p == ps[0] for p in ps)
                for ps in zip(*(placed[m][name] for m in modes), strict=True)
            )
            for name in names
        },
        "stored_sentences": len(cold) if cold is not None else 0,
        "answer_sentences_found": round(hits / found, 4) if found else None,
        "sentence_files_bytes": sum(
            (folder / f).stat().st_size for f in (SENTENCES, SENTENCE_KEYS) if (folder / f).exists()
        ),
        "index_bytes_without_them": sum(
            f.stat().st_size
            for f in folder.rglob("*")
            if f.is_file()
            and f.name not in (SENTENCES, SENTENCE_KEYS)
            and ".m2io-work" not in f.parts
        ),
        "open_and_first_lookup_ms": round(cold_ms, 2),
        "mean_sentences": round(float(np.mean([len(a.sentences) for a, _ in cases])), 1),
        "mean_candidates": round(float(np.mean([len(c) for _, c in cases])), 1),
        "machine": machine(load_at_start),
    }
    write_result(args.out, result)


if __name__ == "__main__":
    main()
