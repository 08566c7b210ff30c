"""``m2io train inserter-policy`` end to end on a tiny MRAMG-layout folder."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from m2io.cli.main import main
from m2io.corpus.mramg import QAItem
from m2io.corpus.mramg_write import write_mramg
from m2io.types import Document, ImageAnchor, ImageRef

TOPICS = "crop levels curves blur sharpen rotate scale layers paths text".split()


@pytest.fixture
def tiny_mramg(tmp_path):
    # One real-sized figure per page: a 4x4 file shared by every page is what the index now
    # recognises as decoration (issue 9) and never offers, which would leave nothing to train on.
    docs, questions = [], []
    for d, topic in enumerate(TOPICS):
        png = tmp_path / f"fig{d}.png"
        Image.new("RGB", (64, 48), (20 * d % 256, 90, 160)).save(png)
        before = f"The {topic} command changes the image. Its dialog looks like this:\n"
        text = before + f"Set the {topic} amount. Click OK to apply it."
        image = ImageRef(f"{d}", path=str(png), caption=f"The {topic} dialog")
        docs.append(Document(str(d), text, (ImageAnchor(image, len(before)),)))
        answer = before + "<PIC>\n" + text[len(before) :]
        questions.append(QAItem(f"q{d}", f"How do I use {topic}?", answer, (str(d),), (f"{d}",)))
    return write_mramg(tmp_path / "tiny", "tiny", docs, questions)


def test_train_inserter_policy_writes_a_loadable_model(tiny_mramg, tmp_path, embedder, capsys):
    out = tmp_path / "model"
    rc = main(
        [
            "train",
            "inserter-policy",
            "--data",
            str(tiny_mramg),
            "--subset",
            "tiny",
            "--val-fraction",
            "0.3",
            "--epochs",
            "3",  # tiny: the CLI wiring is under test here, not learning
            "--group-size",
            "4",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    for name in ("model.safetensors", "config.json", "history.json", "README.md"):
        assert (out / name).is_file(), name
    config = json.loads((out / "config.json").read_text())
    assert config["data"]["split"] == "doc" and config["data"]["n_train"] > 0
    assert config["seed"] == 0 and config["alpha"] == 0.8
    # issue 14: held-out metrics are grouped by the kind of item they were measured on
    assert "position_accuracy" in config["metrics"]["held_out"]["inserter"]
    readme = (out / "README.md").read_text()
    assert "m2io train inserter-policy --data" in readme and "--seed 0" in readme
    assert "wrote" in capsys.readouterr().err

    from m2io.inserters.learned import LearnedInserter

    ins = LearnedInserter(out, embedder=embedder)
    assert ins.card.data["subset"] == "tiny"


def test_pipeline_items_train_on_what_the_inserter_meets_end_to_end(tiny_mramg, tmp_path, capsys):
    """--pipeline-items builds an index, runs retrieval + extractive generation per question and
    trains on those answers too; the held-out side reports end-to-end image metrics."""
    out = tmp_path / "model"
    argv = ["train", "inserter-policy", "--data", str(tiny_mramg), "--subset", "tiny"]
    argv += ["--val-fraction", "0.3", "--epochs", "2", "--group-size", "4", "--pipeline-items"]
    argv += ["--index", str(tmp_path / "index"), "--cache-dir", str(tmp_path / "cache")]
    assert main([*argv, "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    counts = config["data"]["pipeline_items"]
    assert counts["train"] > 0 and counts["val"] > 0
    assert config["data"]["n_train"] + config["data"]["n_val"] == len(TOPICS) + sum(counts.values())
    # issue 14: one name per metric (was pipeline_f1), grouped by item kind
    assert "image_f1" in config["metrics"]["held_out"]["pipeline"]
    assert "--pipeline-items --index" in (out / "README.md").read_text()
    assert "end to end: F1" in capsys.readouterr().err
    assert (tmp_path / "index").is_dir()


def test_train_requires_a_what(capsys):
    with pytest.raises(SystemExit):
        main(["train"])
    assert "inserter-policy" in capsys.readouterr().err
