"""Training the learned inserter across corpora (issue 11): document folders become questions,
several ``--data`` (or a recipe's list) train one policy, and each corpus's own profile of where
its images sit reaches the features."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from m2io.cli.main import main
from m2io.corpus.mramg import QAItem
from m2io.corpus.mramg_write import write_mramg
from m2io.learned.profile import CorpusProfile, corpus_profile, load_profile
from m2io.learned_training import load_training_data
from m2io.learned_training.corpora import load_corpus_data, section_questions
from m2io.text import split_with_images
from m2io.types import Document, ImageAnchor, ImageRef

TOPICS = "crop levels curves blur sharpen rotate scale layers paths text".split()


def _png(path, shade: int) -> None:
    Image.new("RGB", (64, 48), (shade % 256, 90, 160)).save(path)


@pytest.fixture
def announced_folder(tmp_path):
    """A Markdown corpus whose authors announce each figure, then show it."""
    root = tmp_path / "guide"
    (root / "img").mkdir(parents=True)
    for d, topic in enumerate(TOPICS[:6]):
        _png(root / "img" / f"{topic}.png", 30 * d)
        (root / f"{d:02d}-{topic}.md").write_text(
            f"# {topic.title()}\n\nThe {topic} tool changes the picture. "
            f"Its window is shown below:\n\n![The {topic} window](img/{topic}.png)\n\n"
            f"Pick an amount. Click OK to apply the {topic}.\n",
            "utf-8",
        )
    return root


@pytest.fixture
def headed_mramg(tmp_path):
    """An MRAMG corpus whose authors put each figure first, before any sentence."""
    docs, questions = [], []
    for d, topic in enumerate(TOPICS):
        png = tmp_path / f"fig{d}.png"
        _png(png, 20 * d)
        text = f"The {topic} command changes the image. Set the amount and click OK."
        image = ImageRef(f"{d}", path=str(png), caption=f"The {topic} dialog")
        docs.append(Document(str(d), text, (ImageAnchor(image, 0),)))
        questions.append(
            QAItem(f"q{d}", f"How do I use {topic}?", "<PIC>\n" + text, (str(d),), (f"{d}",))
        )
    return write_mramg(tmp_path / "headed", "headed", docs, questions)


def test_a_document_folder_makes_one_question_per_illustrated_section(announced_folder):
    cd = load_corpus_data(announced_folder)
    assert cd.kind == "folder" and len(cd.questions) == 6
    q = next(q for q in cd.questions if "Crop" in q.question)
    assert q.image_ids == ("img/crop.png",)
    sentences, positions = split_with_images(q.ground_truth)
    assert "Crop" not in sentences[0]  # the heading is the question, not an answer sentence
    assert sentences[positions[0] - 1].endswith("shown below:")  # the author's placement


def test_demo_is_a_training_corpus():
    cd = load_corpus_data("demo")
    assert cd.name == "demo" and cd.kind == "folder"
    assert len(cd.questions) >= 10
    assert all(q.image_ids for q in section_questions(cd.corpus, "demo"))


def test_corpus_profiles_tell_the_two_habits_apart(announced_folder, headed_mramg):
    announced = corpus_profile(load_corpus_data(announced_folder).corpus.documents)
    headed = corpus_profile(load_corpus_data(headed_mramg).corpus.documents)
    assert announced.lift["forward"] > 0 > announced.lift["start"]
    assert headed.lift["start"] > 0 >= headed.lift["forward"]  # it never announces anything
    assert headed.lift["start"] > announced.lift["start"]
    # too few images say nothing: neutral
    assert corpus_profile([]).lift == CorpusProfile().lift


def test_a_profile_loads_from_json_or_a_corpus(tmp_path, announced_folder):
    profile = corpus_profile(load_corpus_data(announced_folder).corpus.documents)
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(profile.as_dict()))
    assert load_profile(path).lift == pytest.approx(profile.lift, abs=1e-4)
    assert load_profile(announced_folder).lift == pytest.approx(profile.lift)
    assert load_profile(None) is None
    path.write_text(json.dumps({"lift": {"start": "nan"}}))
    with pytest.raises(ValueError, match="finite"):
        load_profile(path)


def test_training_data_pools_corpora_each_with_its_profile(
    announced_folder, headed_mramg, embedder, tmp_path
):
    data = load_training_data(
        [announced_folder, headed_mramg], split="none", embedder=embedder, balance=3
    )
    names = [c["name"] for c in data.description["corpora"]]
    assert names == ["guide", "headed"]
    # the 6-answer folder is repeated (round(10 / 6) = 2x) to weigh about as much as the other
    assert data.train_corpus.count("guide") == 12 and data.train_corpus.count("headed") == 10
    profiles = data.profiles_of("train")
    assert profiles[0] is data.profiles["guide"] and profiles[-1] is data.profiles["headed"]
    assert data.profiles["guide"].lift["forward"] > data.profiles["headed"].lift["forward"]
    with pytest.raises(ValueError, match="one --data"):
        load_training_data([announced_folder, headed_mramg], "headed", embedder=embedder)


def _train_argv(tmp_path) -> list[str]:
    return ["--epochs", "2", "--group-size", "4", "--cache-dir", str(tmp_path / "cache")]


def test_train_cli_takes_data_repeatedly_and_the_policy_uses_each_profile(
    announced_folder, headed_mramg, tmp_path, embedder
):
    out = tmp_path / "model"
    argv = ["train", "inserter-policy", "--data", str(announced_folder), "--data"]
    argv += [str(headed_mramg), "--split", "none", *_train_argv(tmp_path), "--out", str(out)]
    assert main(argv) == 0
    config = json.loads((out / "config.json").read_text())
    assert [c["name"] for c in config["data"]["corpora"]] == ["guide", "headed"]
    assert config["feature_version"] == 3
    readme = (out / "README.md").read_text()
    assert f"--data {announced_folder} --data {headed_mramg}" in readme
    assert "inserter.profile" in readme


def test_train_cli_reads_a_recipe_with_a_data_list(
    announced_folder, headed_mramg, tmp_path, capsys
):
    recipe = tmp_path / "policy.yaml"
    out = tmp_path / "model"
    recipe.write_text(
        f"data:\n  - {announced_folder}\n  - {headed_mramg}\nsplit: none\nepochs: 2\n"
        f"group-size: 4\nout: {out}\n"
    )
    assert main(["train", "inserter-policy", "--recipe", str(recipe)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert len(config["data"]["corpora"]) == 2 and config["training"]["epochs"] == 2
    recipe.write_text("data: [x]\nchapters: filters\n")
    assert main(["train", "inserter-policy", "--recipe", str(recipe)]) != 0
    assert "unknown key 'chapters'" in capsys.readouterr().err


def test_learned_inserter_places_by_the_corpus_profile(tmp_path, embedder):
    """Same answer, same image: a corpus that shows figures under headings gets it first, one
    that announces figures gets it after the announcement (a policy that weighs the prior)."""
    from m2io.inserters.learned import LearnedInserter
    from m2io.learned import ModelCard, Policy, save_model
    from m2io.learned.features import KEEP_FEATURES, SLOT_FEATURES
    from m2io.types import Candidate, Sentence, TextAnswer

    w = np.zeros(len(SLOT_FEATURES))
    w[SLOT_FEATURES.index("prior_sum")] = 5.0
    u = np.zeros(len(KEEP_FEATURES))
    u[KEEP_FEATURES.index("keep_bias")] = 5.0
    save_model(tmp_path / "m", Policy({"u": u, "w": w}), ModelCard())
    answer = TextAnswer(
        "q", (Sentence("Crop removes the edges."), Sentence("The dialog is shown below:"))
    )
    cand = (Candidate(ImageRef("a", caption="Crop dialog")),)
    under = CorpusProfile({"start": 1.5, "forward": -1.0, "back": 0.0, "end": 0.0})
    announce = CorpusProfile({"start": -2.0, "forward": 1.6, "back": 0.0, "end": 0.0})
    first = LearnedInserter(tmp_path / "m", embedder=embedder, profile=under)
    after = LearnedInserter(tmp_path / "m", embedder=embedder, profile=announce)
    assert first.insert(answer, cand).as_dict() == {"a": 0}
    assert after.insert(answer, cand).as_dict() == {"a": 2}


def test_a_profile_loads_from_an_index_folder(announced_folder, tmp_path):
    """``--set inserter.profile=INDEX`` measures the corpus the index was built from."""
    from m2io.learned_training.items import corpus_index

    cd = load_corpus_data(announced_folder)
    index = corpus_index(cd, tmp_path / "index")
    assert load_profile(index).lift == pytest.approx(corpus_profile(cd.corpus.documents).lift)


def test_an_index_keeps_its_profile_so_a_moved_index_still_has_it(
    announced_folder, tmp_path, caplog
):
    """The profile is kept in the index folder (content hash checked): a cold start reads it back
    instead of reloading the corpus, and an index whose corpus is gone still has it; with
    neither, the pipeline's learned inserter warns and places without one."""
    import json
    import shutil

    from m2io.config import PipelineConfig, StageConfig
    from m2io.factory import build_inserter
    from m2io.learned.profile import PROFILE_FILE, index_profile
    from m2io.learned_training.items import corpus_index

    cd = load_corpus_data(announced_folder)
    index = corpus_index(cd, tmp_path / "index")
    measured = index_profile(index)
    kept = json.loads((index / PROFILE_FILE).read_text())
    assert kept["lift"] == pytest.approx(measured.lift, abs=1e-4)
    shutil.rmtree(announced_folder)  # the corpus is gone: the kept profile still serves
    assert index_profile(index).lift == pytest.approx(measured.lift, abs=1e-4)
    cfg = PipelineConfig(index=str(index), inserter=StageConfig("learned"))
    assert build_inserter(cfg).profile.lift == pytest.approx(measured.lift, abs=1e-4)
    (index / PROFILE_FILE).write_text(json.dumps({**kept, "content_hash": "other corpus"}))
    with caplog.at_level("WARNING", logger="m2io.factory"):
        assert build_inserter(cfg).profile is None
    assert "no corpus profile" in caplog.text
