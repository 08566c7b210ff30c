"""Saving/loading a policy and the LearnedInserter backend built on it."""

from __future__ import annotations

import json
import zlib

import numpy as np
import pytest
from builders import text_answer

from m2io.inserters.base import INSERTERS
from m2io.learned import DEFAULT_MODEL_DIR, ModelCard, ModelError, load_model, save_model
from m2io.learned.features import KEEP_FEATURES, N_KEEP, N_SLOT, SLOT_FEATURES
from m2io.learned.policy import Policy
from m2io.types import Candidate, ImageRef, Placement, TextAnswer

ANSWER = text_answer(
    "How do I crop an image?",
    "Select the Crop tool in the toolbox.",
    "Its options look like this:",
    "Drag a rectangle over the part to keep.",
)
CANDS = (
    Candidate(ImageRef("opts", caption="Crop tool options")),
    Candidate(ImageRef("cat", caption="A cat on a sofa")),
    Candidate(ImageRef("opts", caption="Crop tool options")),  # duplicate id
    Candidate(ImageRef("blank")),
)


class HashEmbedder:
    """Deterministic bag-of-words vectors (tests only): no model to load."""

    name = "hash-16"
    dim = 16

    def encode(self, texts, *, batch_size=64, progress=False):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().split():
                out[i, zlib.crc32(w.encode()) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)


def colon_policy() -> Policy:
    """Keeps every captioned image; puts it after a sentence ending with ':'."""
    policy = Policy.init(N_SLOT, N_KEEP, hidden=2, seed=0)
    policy.params["u"][0] = 2.0
    policy.params["w"][SLOT_FEATURES.index("colon_prev")] = 5.0
    return policy


@pytest.fixture
def model_dir(tmp_path):
    return save_model(
        tmp_path / "model", colon_policy(), ModelCard(alpha=0.6, seed=3, embedder="hash-16")
    )


def test_save_load_round_trip(model_dir):
    policy, card = load_model(model_dir)
    for k, v in colon_policy().params.items():
        np.testing.assert_allclose(policy.params[k], v, rtol=1e-6)
    assert (card.alpha, card.seed, card.embedder) == (0.6, 3, "hash-16")
    config = json.loads((model_dir / "config.json").read_text())
    assert config["format_version"] == 1
    assert config["slot_features"] == list(SLOT_FEATURES)
    assert (model_dir / "model.safetensors").is_file()


def test_bad_model_folders_give_clear_errors(tmp_path, model_dir):
    with pytest.raises(ModelError, match="not found"):
        load_model(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="missing config.json, model.safetensors"):
        load_model(tmp_path / "empty")
    config = json.loads((model_dir / "config.json").read_text())
    config["slot_features"] = config["slot_features"][:-1]
    (model_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="other features"):
        load_model(model_dir)
    config["format_version"] = 99
    (model_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="format version"):
        load_model(model_dir)


def test_learned_inserter_follows_the_protocol(model_dir):
    from m2io.inserters.learned import LearnedInserter

    assert INSERTERS.get("learned") is LearnedInserter
    ins = INSERTERS.create("learned", model=str(model_dir), embedder=HashEmbedder())
    placement = ins.insert(ANSWER, CANDS)
    assert placement.format_ok
    assert all(0 <= s.after_sentence <= len(ANSWER.sentences) for s in placement.slots)
    ids = [s.image_id for s in placement.slots]
    assert len(ids) == len(set(ids))  # each image once, duplicates included
    assert placement.as_dict()["opts"] == 2  # after "Its options look like this:"
    assert all(0 <= s.after_sentence <= len(ANSWER.sentences) for s in placement.slots)
    assert [s.after_sentence for s in placement.slots] == sorted(
        s.after_sentence for s in placement.slots
    )
    assert set(ins.last_timing) == {"embed_ms", "policy_ms", "total_ms"}
    assert 0 <= ins.last_timing["policy_ms"] < 200
    assert ins.insert(ANSWER, ()) == Placement()
    assert ins.insert(TextAnswer("q", ()), CANDS) == Placement()


def test_learned_inserter_bad_model_dir_is_a_clear_error(tmp_path):
    from m2io.inserters.learned import LearnedInserter

    with pytest.raises(ModelError, match="train one with: m2io train inserter-policy"):
        LearnedInserter(tmp_path, embedder=HashEmbedder())


@pytest.mark.skipif(not (DEFAULT_MODEL_DIR / "config.json").exists(), reason="no shipped model")
def test_default_model_loads_and_places_with_the_real_embedder(embedder):
    from m2io.inserters.learned import LearnedInserter

    ins = LearnedInserter(embedder=embedder)
    assert ins.model_dir == DEFAULT_MODEL_DIR
    placement = ins.insert(ANSWER, CANDS)
    assert placement.format_ok
    assert "opts" in placement.as_dict()


def _shy_policy() -> Policy:
    """Never keeps an image on its own (keep bias -3), but scores captions by similarity to the
    answer (max_sim) and puts an image after a sentence ending with ':'."""
    policy = Policy.init(N_SLOT, N_KEEP, seed=0)
    policy.params["u"][:] = 0.0
    policy.params["u"][KEEP_FEATURES.index("keep_bias")] = -3.0
    policy.params["u"][KEEP_FEATURES.index("max_sim")] = 2.0
    policy.params["w"][SLOT_FEATURES.index("colon_prev")] = 5.0
    return policy


def test_when_the_policy_keeps_nothing_the_closest_relevant_images_go_in_and_it_is_noted(
    tmp_path,
):
    from m2io.inserters.learned import LearnedInserter

    model = save_model(tmp_path / "shy", _shy_policy(), ModelCard(embedder="hash-16"))
    answer = text_answer(
        "crop tool options", "Open crop tool options", "Its options look like this:", "Drag"
    )
    cands = (
        Candidate(ImageRef("opts", caption="crop tool options")),
        Candidate(ImageRef("cat", caption="a cat on a sofa")),  # like nothing: stays out
    )
    placed = LearnedInserter(model, embedder=HashEmbedder()).insert(answer, cands)
    assert placed.as_dict() == {"opts": 2}
    assert placed.notes == (
        "learned inserter: no image placed; 1 the policy came closest to keeping placed",
    )
    # fallback=0 is the policy's decision as is; a floor nothing clears places nothing
    assert (
        not LearnedInserter(model, embedder=HashEmbedder(), fallback=0).insert(answer, cands).slots
    )
    assert (
        not LearnedInserter(model, embedder=HashEmbedder(), threshold=1.0)
        .insert(answer, cands)
        .slots
    )
    with pytest.raises(ValueError):
        LearnedInserter(model, embedder=HashEmbedder(), fallback=-1)


def test_provenance_first_places_quoted_images_without_embedding_and_leaves_strays_out(model_dir):
    from builders import NoEmbedding

    from m2io.inserters.learned import LearnedInserter

    steps = ("Select the Crop tool.", "Drag a rectangle.", "Press Enter.")
    answer = text_answer("How do I crop?", *steps)
    shot = Candidate(ImageRef("rect", caption="x"), context_before=steps[1], doc_id="crop")
    stray = Candidate(
        ImageRef("cat", caption="y"), context_before="Our cat sleeps all day.", doc_id="crop"
    )
    ins = LearnedInserter(model_dir, embedder=NoEmbedding("provenance settles both"))
    placed = ins.insert(answer, (stray, shot))
    assert placed.as_dict() == {"rect": 2}
    assert ins.last_timing["embed_ms"] == 0.0
    # without provenance the policy decides every image (and embeds)
    ins = LearnedInserter(model_dir, embedder=HashEmbedder(), provenance=False)
    assert set(ins.insert(answer, (stray, shot)).as_dict()) <= {"rect", "cat"}


def test_provenance_first_lets_the_policy_place_images_without_source_text(model_dir):
    from m2io.inserters.learned import LearnedInserter

    steps = ("Select the Crop tool in the toolbox.", "Its options look like this:", "Drag.")
    answer = text_answer("How do I crop?", *steps)
    shot = Candidate(ImageRef("menu", caption="m"), context_after=steps[0], doc_id="crop")
    opts = Candidate(ImageRef("opts", caption="Crop tool options"))  # no source text
    placed = LearnedInserter(model_dir, embedder=HashEmbedder()).insert(answer, (shot, opts))
    assert placed.as_dict() == {"menu": 0, "opts": 2}  # provenance; the policy's ':' rule


def test_no_stacks_the_policy_least_sure_image_is_left_out(model_dir):
    from m2io.inserters.learned import LearnedInserter

    cands = tuple(Candidate(ImageRef(f"shot{k}", caption=f"Crop tool options {k}")) for k in "abc")
    placed = LearnedInserter(model_dir, embedder=HashEmbedder()).insert(ANSWER, cands)
    assert len(placed.slots) == 2 and {s.after_sentence for s in placed.slots} == {2}
    assert placed.notes == ("learned inserter: at most 2 images after one sentence; 1 left out",)
    # the policy alone (provenance off) has no cap
    free = LearnedInserter(model_dir, embedder=HashEmbedder(), provenance=False)
    assert len(free.insert(ANSWER, cands).slots) == 3


def test_the_fallback_keeps_only_figures_of_the_pages_a_titled_answer_quotes(tmp_path):
    from m2io.inserters.learned import LearnedInserter
    from m2io.types import Sentence, Source

    model = save_model(tmp_path / "shy", _shy_policy(), ModelCard(embedder="hash-16"))
    texts = ("Open crop tool options", "Its options look like this:", "Drag")

    def answer(title: str) -> TextAnswer:
        src = Source("crop.html", title=title)
        return TextAnswer("crop tool options", tuple(Sentence(t, "crop#0", src) for t in texts))

    # the same caption, once from the quoted page and once from another one
    other = Candidate(ImageRef("other", caption="crop tool options"), doc_id="print.html")
    own = Candidate(ImageRef("own", caption="crop tool options"), doc_id="crop.html")
    ins = LearnedInserter(model, embedder=HashEmbedder())
    assert ins.insert(answer("Crop"), (other,)).slots == ()
    assert ins.insert(answer("Crop"), (other, own)).as_dict() == {"own": 2}
    # untitled documents (fragments of a page, as in the MRAMG dev sets) keep the old rule
    assert ins.insert(answer(""), (other,)).as_dict() == {"other": 2}
    off = LearnedInserter(model, embedder=HashEmbedder(), fallback_quoted=False)
    assert off.insert(answer("Crop"), (other,)).as_dict() == {"other": 2}
