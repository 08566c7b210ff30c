"""MRAMG loader against hostile and real-world input (issue 10): confinement to the bench root,
unsafe image URLs, deep JSON, wrong types, duplicates, the dataset's real layouts, and ``<PIC>``
in the middle of a sentence."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest
from fixtures_corpus import TOY_DOCS, build_mramg, make_png, write_doc_lines
from PIL import Image

from m2io.corpus import (
    CorpusError,
    Dropped,
    chunk_document,
    load_mramg,
    load_questions,
    write_mramg,
)
from m2io.text import split_sentences, split_with_images

COLLECTION = "IMAGE/images_info/toy_imgs_collection.json"


def _edit_collection(root: Path, **entries: dict) -> None:
    path = root / COLLECTION
    collection = json.loads(path.read_text())
    for image_id, changes in entries.items():
        collection[image_id.lstrip("_")].update(changes)
    path.write_text(json.dumps(collection))


def _reasons(dropped: list[Dropped]) -> list[tuple[str, str, str]]:
    return [(d.kind, d.item_id, d.reason) for d in dropped]


# --- confinement ----------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["absolute", "dotdot", "symlink"])
def test_image_outside_the_bench_root_is_refused(tmp_path: Path, how: str) -> None:
    root = build_mramg(tmp_path / "bench")
    secret = make_png(tmp_path / "outside" / "secret.png")
    if how == "absolute":
        _edit_collection(root, _10={"image_path": str(secret)})
    elif how == "dotdot":
        _edit_collection(root, _10={"image_path": "../../../../outside/secret.png"})
    else:
        link = root / "IMAGE/images/TOY/10.png"
        link.unlink()
        link.symlink_to(secret)
    dropped: list[Dropped] = []
    corpus = load_mramg(root, dropped=dropped)
    assert "10" not in corpus.images  # the file outside is never used
    assert all(str(secret) != img.path for img in corpus.images.values())
    assert set(corpus.images) == {"11", "12"}
    assert any(w.startswith("refused image 10") and "outside" in w for w in corpus.warnings)
    assert _reasons(dropped) == [("image", "10", "outside-root")]


def test_symlinked_documents_file_outside_the_root_is_refused(tmp_path: Path) -> None:
    root = build_mramg(tmp_path / "bench")
    outside = tmp_path / "elsewhere.jsonl"
    outside.write_text(json.dumps(TOY_DOCS[2]) + "\n")
    (root / "doc_toy.jsonl").unlink()
    (root / "doc_toy.jsonl").symlink_to(outside)
    with pytest.raises(CorpusError, match="outside"):
        load_mramg(root)


def test_only_http_image_urls_are_kept(tmp_path: Path) -> None:
    root = build_mramg(tmp_path)
    _edit_collection(
        root,
        _10={"image_url": "javascript:alert(document.cookie)"},
        _11={"image_url": "data:image/png;base64,iVBORw0KGgo="},
        _12={"image_url": "https://example.org/pixelize.png"},
    )
    collection = json.loads((root / COLLECTION).read_text())
    collection["13"] = {"image_url": "file:///etc/passwd", "image_path": "", "image_caption": ""}
    (root / COLLECTION).write_text(json.dumps(collection))
    write_doc_lines(root, "toy", [*(json.dumps(d) for d in TOY_DOCS), '[3, "Only.<PIC>", [13]]'])
    dropped: list[Dropped] = []
    corpus = load_mramg(root, dropped=dropped)
    assert corpus.images["10"].url is None and corpus.images["11"].url is None
    assert corpus.images["12"].url == "https://example.org/pixelize.png"
    assert "13" not in corpus.images  # known only by a file: URL, so not an image at all
    assert sum("not an http(s) URL" in w for w in corpus.warnings) == 3
    assert sorted(d.item_id for d in dropped if d.reason == "unsafe-url") == ["10", "11", "13"]


# --- JSON robustness ----------------------------------------------------------------------------


def test_deeply_nested_json_is_a_corpus_error_naming_file_and_line(tmp_path: Path) -> None:
    root = build_mramg(tmp_path)
    deep = "[" * 100_000
    write_doc_lines(root, "toy", [json.dumps(TOY_DOCS[0]), deep])
    with pytest.raises(CorpusError, match=r"doc_toy\.jsonl:2: JSON nested too deeply"):
        load_mramg(root)
    build_mramg(root)
    ok = '{"id": 1, "question": "Q?", "ground_truth": "A."}\n'
    (root / "toy_mqa.jsonl").write_text(ok + ok.replace("1", "2") + '{"a":' * 100_000 + "\n")
    with pytest.raises(CorpusError, match=r"toy_mqa\.jsonl:3: JSON nested too deeply"):
        load_questions(root)
    (root / COLLECTION).write_text('{"10": ' + "[" * 100_000)
    with pytest.raises(CorpusError, match=r"toy_imgs_collection\.json: JSON nested too deeply"):
        load_mramg(root)


def test_collection_values_of_the_wrong_type_are_reported_not_repr(tmp_path: Path) -> None:
    root = build_mramg(tmp_path)
    _edit_collection(
        root,
        _10={"image_caption": ["The Layers", "dialog"]},
        _11={"image_caption": {"en": "Blur"}, "image_url": 7},
        _12={"image_path": ["12.png"]},
    )
    corpus = load_mramg(root)
    assert corpus.images["10"].caption == "The Layers dialog"
    assert corpus.images["11"].caption == "" and corpus.images["11"].url is None
    assert "12" in corpus.images  # found by its id once the odd path is set aside
    assert not any("[" in img.caption or "{" in img.caption for img in corpus.images.values())
    text = "\n".join(corpus.warnings)
    assert "image 10: image_caption is a list" in text
    assert "image 11: image_caption is a dict" in text
    assert "image 11: image_url is a int" in text
    assert "image 12: image_path is a list" in text


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('[1, "text", "10"]', "images_list must be a list, got str"),
        ('[1, "text", [1.5]]', "string or integer ids, got a float"),
        ('[true, "text", []]', "doc_id must be a string or integer, got bool"),
    ],
)
def test_document_of_the_wrong_type_names_the_type(tmp_path: Path, line: str, message: str) -> None:
    root = build_mramg(tmp_path)
    write_doc_lines(root, "toy", [json.dumps(TOY_DOCS[0]), line])
    with pytest.raises(CorpusError, match=rf"doc_toy\.jsonl:2: .*{message}"):
        load_mramg(root)


def test_question_of_the_wrong_type_names_the_type(tmp_path: Path) -> None:
    q = {"id": [1], "question": "Q?", "ground_truth": "A."}
    build_mramg(tmp_path, questions=[q])
    with pytest.raises(CorpusError, match=r"toy_mqa\.jsonl:1: .*id must be .* got list"):
        load_questions(tmp_path)
    q = {"id": 1, "question": "Q?", "ground_truth": ["A."]}
    build_mramg(tmp_path, questions=[q])
    with pytest.raises(CorpusError, match=r"ground_truth must be a string, got list"):
        load_questions(tmp_path)


# --- duplicates ---------------------------------------------------------------------------------


def test_duplicate_question_ids_keep_the_first_and_name_both_lines(tmp_path: Path) -> None:
    qs = [
        {"id": "q1", "question": "First?", "ground_truth": "A."},
        {"id": "q2", "question": "Other?", "ground_truth": "B."},
        {"id": "q1", "question": "Again?", "ground_truth": "C."},
    ]
    build_mramg(tmp_path, questions=qs)
    warnings: list[str] = []
    dropped: list[Dropped] = []
    items = load_questions(tmp_path, warnings=warnings, dropped=dropped)
    assert [(q.qid, q.question) for q in items] == [("q1", "First?"), ("q2", "Other?")]
    assert len(warnings) == 1
    assert "toy_mqa.jsonl:3: duplicate question id q1 (first at line 1)" in warnings[0]
    assert _reasons(dropped) == [("question", "q1", "duplicate-id")]


def test_duplicate_keys_in_the_collection_are_reported(tmp_path: Path) -> None:
    root = build_mramg(tmp_path)
    text = (root / COLLECTION).read_text()
    extra = '"10": {"image_url": "", "image_path": "10.png", "image_caption": "Second"}'
    (root / COLLECTION).write_text(text[:-1] + ", " + extra + "}")
    corpus = load_mramg(root)
    assert corpus.images["10"].caption == "Second"  # the last, as json.load and MRAMG's tools
    assert [w for w in corpus.warnings if "duplicate key" in w] == [
        "toy_imgs_collection.json: duplicate key '10'; the last value is kept (as json.load does)"
    ]


def test_duplicate_doc_ids_name_both_lines(tmp_path: Path) -> None:
    build_mramg(tmp_path, docs=[[0, "First.", []], [1, "Other.", []], ["0", "Again.", []]])
    dropped: list[Dropped] = []
    corpus = load_mramg(tmp_path, dropped=dropped)
    assert [d.text for d in corpus.documents] == ["First.", "Other."]
    assert any(
        "doc_toy.jsonl:3: duplicate doc_id 0 (first at line 1)" in w for w in corpus.warnings
    )
    assert _reasons(dropped) == [("document", "0", "duplicate-id")]


# --- real MRAMG-Bench layouts -------------------------------------------------------------------


def test_image_zip_extracted_into_image_folder_loads(tmp_path: Path) -> None:
    build_mramg(tmp_path / "flat")
    root = tmp_path / "nested"
    root.mkdir()
    for name in ("doc_toy.jsonl", "toy_mqa.jsonl"):
        shutil.copy(tmp_path / "flat" / name, root / name)
    # `unzip IMAGE.zip -d IMAGE` gives IMAGE/IMAGE/images/... and IMAGE/IMAGE/images_info/...
    shutil.copytree(tmp_path / "flat/IMAGE", root / "IMAGE/IMAGE")
    corpus = load_mramg(root)
    assert corpus.warnings == []
    assert set(corpus.images) == {"10", "11", "12"}
    assert corpus.images["11"].caption == "Blur menu"  # the collection was found too


def test_unextracted_image_zip_is_named_in_the_error(tmp_path: Path) -> None:
    build_mramg(tmp_path)
    with zipfile.ZipFile(tmp_path / "IMAGE.zip", "w") as zf:
        for f in sorted((tmp_path / "IMAGE").rglob("*")):
            zf.write(f, f.relative_to(tmp_path).as_posix())
    shutil.rmtree(tmp_path / "IMAGE")
    with pytest.raises(CorpusError) as err:
        load_mramg(tmp_path)
    assert "IMAGE.zip is not extracted: run `unzip IMAGE.zip` in" in str(err.value)
    assert "place 3 images but not one could be loaded" in str(err.value)


def test_markers_without_any_resolvable_image_stop_with_the_folders_searched(
    tmp_path: Path,
) -> None:
    build_mramg(tmp_path)
    shutil.rmtree(tmp_path / "IMAGE/images/TOY")
    (tmp_path / "IMAGE/images/OTHER").mkdir()
    with pytest.raises(CorpusError) as err:
        load_mramg(tmp_path)
    message = str(err.value)
    assert "Searched: IMAGE/images, IMAGE, ." in message
    assert "IMAGE/IMAGE/images/TOY/" in message  # the layouts it would have read
    assert "missing image 10" in message
    # a subset whose documents place no image needs no image folder at all
    write_doc_lines(tmp_path, "toy", [json.dumps(TOY_DOCS[2])])
    assert len(load_mramg(tmp_path)) == 1


# --- <PIC> in the middle of a sentence ----------------------------------------------------------

MID = "The encoder, illustrated in <PIC>, is trained first. It then freezes."


def test_mid_sentence_marker_leaves_clean_text_and_writes_back_losslessly(tmp_path: Path) -> None:
    build_mramg(tmp_path / "src", docs=[[0, MID, [10]], [1, "Shown in <PIC> the loss.", [11]]])
    corpus = load_mramg(tmp_path / "src")
    doc = corpus.get("0")
    assert doc.text == "The encoder, illustrated in, is trained first. It then freezes."
    assert doc.text[: doc.images[0].offset].endswith("illustrated in")
    assert corpus.get("1").text == "Shown in the loss."
    # the image stays in the chunk of its sentence, and that sentence is whole
    (chunk,) = chunk_document(doc, max_words=7, overlap_sentences=0)[:1]
    assert chunk.text == "The encoder, illustrated in, is trained first."
    assert [a.image.image_id for a in chunk.images] == ["10"]
    write_mramg(tmp_path / "src", "toy", corpus.documents, copy_images=False)
    rows = [json.loads(ln) for ln in (tmp_path / "src/doc_toy.jsonl").read_text().splitlines()]
    assert [r[1] for r in rows] == [MID, "Shown in <PIC> the loss."]


def test_mid_sentence_marker_in_a_gold_answer_stays_in_its_sentence() -> None:
    sentences, positions = split_with_images(MID + "<PIC>")
    assert sentences == ["The encoder, illustrated in, is trained first.", "It then freezes."]
    assert positions == [1, 2]  # the image comes after the sentence that holds it
    assert split_sentences("As shown in <PIC>. Next one.") == ["As shown in.", "Next one."]
    # markers between sentences are boundaries, as before
    assert split_with_images("First part<PIC>\nSecond part.") == (
        ["First part", "Second part."],
        [1],
    )
    assert split_with_images("Done.<PIC> Next.") == (["Done.", "Next."], [1])


# --- the dev sets -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "counts"), [("gimp", (672, 1761, 584)), ("gnucash", (400, 183, 65))]
)
def test_dev_sets_load_as_before(dev_data: Path, name: str, counts: tuple) -> None:
    root = dev_data.parent / name
    if not (root / f"doc_{name}.jsonl").exists():
        pytest.skip(f"{root} not found")
    dropped: list[Dropped] = []
    warnings: list[str] = []
    corpus = load_mramg(root, dropped=dropped)
    questions = load_questions(root, warnings=warnings, dropped=dropped)
    assert (len(corpus), len(corpus.images), len(questions)) == counts
    assert corpus.warnings == [] and warnings == [] and dropped == []
    assert all(Path(img.path).is_relative_to(root.resolve()) for img in corpus.images.values())


def test_sentence_splitter_is_linear_on_hostile_text() -> None:
    # Was quadratic: each "Fig." (an abbreviation, so no cut) made the next check rescan the
    # whole sentence so far; 10 000 of them took over 10 s. Hard-wrapped lines were rejoined by
    # copying the sentence so far, and inline markers by copying the text so far.
    import time

    for hostile in ("see Fig. A " * 10_000, "a word here\n" * 40_000, "in <PIC>, b " * 20_000):
        t0 = time.perf_counter()
        sentences, _ = split_with_images(hostile)
        assert sentences and time.perf_counter() - t0 < 1.0


def test_an_svg_image_is_named_unsupported_not_corrupt(tmp_path):
    root = tmp_path / "bench"
    (root / "IMAGE" / "images" / "S").mkdir(parents=True)
    (root / "IMAGE" / "images_info").mkdir(parents=True)
    png = root / "IMAGE" / "images" / "S" / "ok.png"
    Image.new("RGB", (40, 40), "red").save(png)
    (root / "IMAGE" / "images" / "S" / "vec.svg").write_text("<svg xmlns='x'/>")
    info = {
        "1": {"image_url": "", "image_path": "ok.png", "image_caption": "red"},
        "2": {"image_url": "", "image_path": "vec.svg", "image_caption": "vector"},
    }
    (root / "IMAGE" / "images_info" / "s_imgs_collection.json").write_text(json.dumps(info))
    (root / "doc_s.jsonl").write_text(json.dumps(["d1", "A <PIC> and B <PIC>.", [1, 2]]) + "\n")
    dropped: list[Dropped] = []
    corpus = load_mramg(root, "s", dropped=dropped)
    assert set(corpus.images) == {"1"}
    assert [d.reason for d in dropped if d.kind == "image"] == ["unsupported"]
    assert any("unsupported format" in w and "2" in w for w in corpus.warnings), corpus.warnings
    assert not any("corrupt" in w for w in corpus.warnings)
