"""MRAMG-Bench layout: loading, error reporting, writing back, and the GIMP dev set."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import pytest
from fixtures_corpus import (
    TOY_CAPTIONS,
    TOY_DOCS,
    build_folder,
    build_mramg,
    make_corrupt,
    write_doc_lines,
)

from m2io.corpus import (
    Corpus,
    CorpusError,
    QAItem,
    load_corpus,
    load_folder,
    load_mramg,
    load_questions,
    write_mramg,
)
from m2io.text import PIC


def _strip_markers(content: str) -> str:
    return content.replace(PIC, "")


def test_loads_documents_with_images_at_marker_offsets(tmp_path: Path) -> None:
    corpus = load_mramg(build_mramg(tmp_path))
    # every anchored image is in the corpus' image table, with its caption from the collection
    assert {k: im.caption for k, im in corpus.images.items()} == TOY_CAPTIONS
    assert [d.doc_id for d in corpus.documents] == ["0", "1", "2"]
    assert corpus.warnings == []
    for doc, (_, content, ids) in zip(corpus.documents, TOY_DOCS, strict=True):
        assert doc.text == _strip_markers(content)
        assert [a.image.image_id for a in doc.images] == [str(i) for i in ids]
        pieces = content.split(PIC)
        for k, anchor in enumerate(doc.images):
            # the text before the k-th marker, with the earlier markers removed
            assert doc.text[: anchor.offset] == "".join(pieces[: k + 1])
    blur = corpus.documents[1]
    assert blur.text[: blur.images[1].offset].endswith("most common one.")
    assert blur.images[0].image.caption == "Blur menu"
    assert Path(blur.images[0].image.path).is_absolute()
    assert Path(blur.images[0].image.path).is_file()
    assert set(corpus.images) == {"10", "11", "12"}
    assert corpus.documents[0].source == "doc_toy.jsonl:1"


@pytest.mark.parametrize("style", ["bare", "images", "absolute"])
def test_image_paths_are_resolved_whatever_their_base(tmp_path: Path, style: str) -> None:
    corpus = load_mramg(build_mramg(tmp_path, image_path_style=style))
    assert corpus.warnings == []
    assert all(Path(img.path).is_file() for img in corpus.images.values())


def test_subset_must_be_chosen_when_several(tmp_path: Path) -> None:
    build_mramg(tmp_path, subset="alpha")
    build_mramg(tmp_path, subset="beta")
    with pytest.raises(CorpusError, match="alpha, beta"):
        load_mramg(tmp_path)
    assert len(load_mramg(tmp_path, subset="beta")) == 3
    with pytest.raises(CorpusError, match="gamma"):
        load_mramg(tmp_path, subset="gamma")


def test_malformed_json_line_names_file_and_line(tmp_path: Path) -> None:
    build_mramg(tmp_path)
    write_doc_lines(tmp_path, "toy", [json.dumps(TOY_DOCS[0]), '[1, "broken", [', ""])
    with pytest.raises(CorpusError, match=r"doc_toy\.jsonl:2: malformed JSON"):
        load_mramg(tmp_path)


@pytest.mark.parametrize(
    "record",
    [
        {"doc_id": 1, "content": "x", "images_list": []},
        [1, "only two"],
        [1, 42, []],
        [1, "text", [None]],
        [[1], "text", []],
    ],
)
def test_wrong_record_shape_names_file_and_line(tmp_path: Path, record: object) -> None:
    build_mramg(tmp_path)
    write_doc_lines(tmp_path, "toy", [json.dumps(TOY_DOCS[0]), "", json.dumps(record)])
    with pytest.raises(CorpusError, match=r"doc_toy\.jsonl:3: expected a JSON array"):
        load_mramg(tmp_path)


def test_missing_and_corrupt_images_are_dropped_and_reported(tmp_path: Path) -> None:
    build_mramg(tmp_path)
    (tmp_path / "IMAGE/images/TOY/11.png").unlink()
    make_corrupt(tmp_path / "IMAGE/images/TOY/12.png")
    corpus = load_mramg(tmp_path)
    assert len(corpus) == 3
    blur = corpus.get("1")
    assert blur is not None and blur.images == ()
    assert blur.text == _strip_markers(TOY_DOCS[1][1])  # text kept
    assert [a.image.image_id for a in corpus.get("0").images] == ["10"]
    assert set(corpus.images) == {"10"}
    missing = [w for w in corpus.warnings if w.startswith("missing image 11")]
    corrupt = [w for w in corpus.warnings if w.startswith("corrupt image 12")]
    assert len(missing) == 1 and "11.png" in missing[0] and "in doc 1" in missing[0]
    assert len(corrupt) == 1 and "in doc 1" in corrupt[0]


def test_unchecked_load_only_tests_existence(tmp_path: Path) -> None:
    build_mramg(tmp_path)
    make_corrupt(tmp_path / "IMAGE/images/TOY/12.png")
    assert "12" in load_mramg(tmp_path, verify=False).images


def test_unknown_image_id_is_reported(tmp_path: Path) -> None:
    build_mramg(tmp_path, docs=[[0, "Text.<PIC> More.", [99]]])
    corpus = load_mramg(tmp_path)
    assert corpus.documents[0].images == ()
    assert any("unknown image 99" in w and "doc_toy.jsonl:1" in w for w in corpus.warnings)


def test_more_markers_than_images_removes_the_extra_markers(tmp_path: Path) -> None:
    build_mramg(tmp_path, docs=[[0, "A.<PIC> B.<PIC> C.<PIC>", [10]]])
    corpus = load_mramg(tmp_path)
    doc = corpus.documents[0]
    assert doc.text == "A. B. C."
    assert [(a.image.image_id, a.offset) for a in doc.images] == [("10", 2)]
    assert any("doc_toy.jsonl:1" in w and "3 <PIC> markers but 1" in w for w in corpus.warnings)


def test_fewer_markers_than_images_drops_unplaced_images(tmp_path: Path) -> None:
    build_mramg(tmp_path, docs=[[0, "A.<PIC> B.", [10, 11, 12]]])
    corpus = load_mramg(tmp_path)
    assert [a.image.image_id for a in corpus.documents[0].images] == ["10"]
    assert any("doc_toy.jsonl:1" in w and "11, 12" in w for w in corpus.warnings)


def test_non_utf8_bytes_are_replaced_and_reported(tmp_path: Path) -> None:
    build_mramg(tmp_path)
    bad = (
        json.dumps([5, "caf\u00e9 menu", []], ensure_ascii=False)
        .encode()
        .replace(b"\xc3\xa9", b"\xe9")
    )
    write_doc_lines(tmp_path, "toy", [json.dumps(TOY_DOCS[0]), bad])
    corpus = load_mramg(tmp_path)
    assert corpus.get("5").text == "caf\ufffd menu"
    assert any(w.startswith("doc_toy.jsonl:2: invalid UTF-8") for w in corpus.warnings)


def test_empty_corpus_is_an_error(tmp_path: Path) -> None:
    build_mramg(tmp_path)
    write_doc_lines(tmp_path, "toy", ["", "  "])
    with pytest.raises(CorpusError, match="no documents"):
        load_mramg(tmp_path)
    with pytest.raises(CorpusError, match="no doc_<subset>.jsonl"):
        load_mramg(tmp_path / "IMAGE")


def test_duplicate_doc_id_is_skipped_and_reported(tmp_path: Path) -> None:
    build_mramg(tmp_path, docs=[[0, "First.", []], ["0", "Again.", []]])
    corpus = load_mramg(tmp_path)
    assert [d.text for d in corpus.documents] == ["First."]
    assert any("doc_toy.jsonl:2: duplicate doc_id 0" in w for w in corpus.warnings)


def test_questions_load_with_string_ids(tmp_path: Path) -> None:
    items = load_questions(build_mramg(tmp_path))
    assert items[1] == QAItem(
        "toy-1", "What blurs?", "Gaussian blur.<PIC> Pixelize.<PIC>", ("1",), ("11", "12")
    )


def test_malformed_question_names_file_and_line(tmp_path: Path) -> None:
    build_mramg(tmp_path)
    with (tmp_path / "toy_mqa.jsonl").open("a") as fh:
        fh.write('{"id": "q", "question": "no answer"}\n')
    with pytest.raises(CorpusError, match=r"toy_mqa\.jsonl:3: .*missing ground_truth"):
        load_questions(tmp_path)


def test_question_marker_mismatch_is_a_warning(tmp_path: Path) -> None:
    q = {"id": 1, "question": "Q?", "ground_truth": "A.", "provenance": [0], "images_list": [10]}
    build_mramg(tmp_path, questions=[q])
    warnings: list[str] = []
    assert load_questions(tmp_path, "toy", warnings=warnings)[0].qid == "1"
    assert warnings and "toy_mqa.jsonl:1" in warnings[0]


def test_round_trip_referencing_images_gives_equal_documents(tmp_path: Path) -> None:
    first = load_mramg(build_mramg(tmp_path / "src"))
    questions = load_questions(tmp_path / "src")
    # Issue 10: a loader only reads images inside the folder it loads, so the subset that
    # references the source images by path is written into a folder holding them (was: a
    # sibling "out" folder, whose images are now refused as lying outside it).
    out = tmp_path
    write_mramg(out, "toy", first.documents, questions, copy_images=False)
    again = load_mramg(out)
    assert again.documents == first.documents
    assert load_questions(out) == questions
    rows = [json.loads(ln) for ln in (out / "doc_toy.jsonl").read_text().splitlines()]
    assert rows == TOY_DOCS  # numeric ids stay JSON integers, markers where they were


def test_round_trip_copying_images(tmp_path: Path) -> None:
    first = load_mramg(build_mramg(tmp_path / "src"))
    write_mramg(tmp_path / "out", "toy", first.documents)
    again = load_mramg(tmp_path / "out")
    assert again.warnings == []

    def without_paths(corpus: Corpus) -> list:
        return [
            replace(
                d, images=tuple(replace(a, image=replace(a.image, path=None)) for a in d.images)
            )
            for d in corpus.documents
        ]

    assert without_paths(again) == without_paths(first)
    for image in again.images.values():
        assert image.path.startswith(str((tmp_path / "out/IMAGE/images/TOY").resolve()))
        src = Path(first.images[image.image_id].path)
        assert Path(image.path).read_bytes() == src.read_bytes()


def test_folder_corpus_written_as_mramg_reloads(tmp_path: Path) -> None:
    folder = load_folder(build_folder(tmp_path / "docs"))
    write_mramg(tmp_path / "out", "docs", folder.documents)
    again = load_mramg(tmp_path / "out")
    assert again.warnings == []
    assert [d.text for d in again.documents] == [d.text for d in folder.documents]
    assert [
        [(a.image.image_id, a.offset, a.image.caption) for a in d.images] for d in again.documents
    ] == [
        [(a.image.image_id, a.offset, a.image.caption) for a in d.images] for d in folder.documents
    ]


def test_writer_refuses_a_literal_marker(tmp_path: Path) -> None:
    from m2io.types import Document

    with pytest.raises(CorpusError, match="literal <PIC>"):
        write_mramg(tmp_path, "x", [Document("d", "a <PIC> b")])


def test_load_corpus_chooses_the_format(tmp_path: Path) -> None:
    mramg = build_mramg(tmp_path / "m")
    folder = build_folder(tmp_path / "f")
    assert load_corpus(mramg).get("0") is not None
    assert load_corpus(mramg / "doc_toy.jsonl").get("1") is not None
    assert load_corpus(folder).get("layers.md") is not None
    with pytest.raises(CorpusError, match="no documents found"):
        load_corpus(mramg, format="folder")  # JSONL files are not folder documents
    with pytest.raises(ValueError, match="auto, mramg, folder"):
        load_corpus(mramg, format="pdf")
    with pytest.raises(CorpusError, match="no doc_"):
        load_corpus(folder, format="mramg")


def test_dev_set_loads_fast_and_complete(dev_data: Path) -> None:
    t0 = time.perf_counter()
    corpus = load_corpus(dev_data)
    seconds = time.perf_counter() - t0
    assert len(corpus.documents) == 672
    assert len(corpus.images) == 1761
    assert corpus.warnings == []
    assert all(d.text.count(PIC) == 0 for d in corpus.documents)
    assert all(0 <= a.offset <= len(d.text) for d in corpus.documents for a in d.images)
    assert len(load_questions(dev_data)) == 584
    assert seconds < 10, f"loading the dev set took {seconds:.1f} s (target: about 1 s)"


def test_foreign_image_paths_fall_back_to_the_file_name(tmp_path: Path) -> None:
    build_mramg(tmp_path)
    info = tmp_path / "IMAGE/images_info/toy_imgs_collection.json"
    collection = json.loads(info.read_text())
    collection["10"]["image_path"] = "/home/someone/MRAMG/IMAGE/images/TOY/10.png"
    collection["11"]["image_path"] = "IMAGE\\images\\TOY\\11.png"
    info.write_text(json.dumps(collection))
    corpus = load_mramg(tmp_path)
    assert corpus.warnings == []
    assert {Path(i.path).name for i in corpus.images.values()} == {"10.png", "11.png", "12.png"}


def test_missing_collection_finds_images_by_id(tmp_path: Path) -> None:
    build_mramg(tmp_path)
    (tmp_path / "IMAGE/images_info/toy_imgs_collection.json").unlink()
    corpus = load_mramg(tmp_path)
    assert set(corpus.images) == {"10", "11", "12"}
    assert all(i.caption == "" for i in corpus.images.values())
    assert len(corpus.warnings) == 1 and "toy_imgs_collection.json: not found" in corpus.warnings[0]


def test_malformed_collection_names_file_and_line(tmp_path: Path) -> None:
    build_mramg(tmp_path)
    (tmp_path / "IMAGE/images_info/toy_imgs_collection.json").write_text('{\n "1": {,\n}')
    with pytest.raises(CorpusError, match=r"toy_imgs_collection\.json:2: malformed JSON"):
        load_mramg(tmp_path)
