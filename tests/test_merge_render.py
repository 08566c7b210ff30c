import base64
import json
from dataclasses import replace

from PIL import Image

from m2io.mergers.default import DefaultMerger
from m2io.mergers.render import to_html, to_markdown
from m2io.types import Candidate, ImageRef, Placement, Sentence, Slot, TextAnswer


def _setup(tmp_path):
    img = tmp_path / "a.png"
    Image.new("RGB", (8, 8), "red").save(img)
    answer = TextAnswer("Q?", (Sentence("First."), Sentence("Second."), Sentence("Third.")))
    cands = (Candidate(ImageRef("a", str(img), caption="Red <square>")),)
    return answer, cands


def test_merge_interleaves_and_reports_bad_slots(tmp_path):
    answer, cands = _setup(tmp_path)
    placement = Placement((Slot("a", 2), Slot("ghost", 1), Slot("a", 9)))
    out = DefaultMerger().merge(answer, placement, cands)
    kinds = [s.type for s in out.segments]
    assert kinds == ["text", "text", "image", "text"]
    img = out.images[0]
    assert (img.image_id, img.after_sentence, img.caption) == ("a", 2, "Red <square>")
    assert any("ghost" in n for n in out.notes) and any("sentence 9" in n for n in out.notes)
    data = json.loads(json.dumps(out.to_dict()))
    seg = data["segments"][2]
    assert seg["type"] == "image" and seg["path"].endswith("a.png") and seg["after_sentence"] == 2


def test_image_before_first_sentence(tmp_path):
    answer, cands = _setup(tmp_path)
    out = DefaultMerger().merge(answer, Placement((Slot("a", 0),)), cands)
    assert out.segments[0].type == "image"


def test_markdown_and_self_contained_html(tmp_path):
    answer, cands = _setup(tmp_path)
    out = DefaultMerger().merge(answer, Placement((Slot("a", 1),)), cands)
    # issue 10: renderers embed local files only from inside the answer's image root (the corpus
    # folder), and Markdown escapes HTML in captions, so the root is given and the alt text reads
    # "Red &lt;square&gt;" (shown as "Red <square>" by a Markdown viewer).
    out = replace(out, image_root=str(tmp_path))
    md = to_markdown(out, relative_to=tmp_path)
    assert md.startswith("First.\n\n![Red &lt;square&gt;](<a.png>")
    assert "Second. Third." in md
    page = to_html(out)
    assert "&lt;square&gt;" in page and "<square>" not in page.split("<body>")[1]
    uri = page.split('src="')[1].split('"')[0]
    assert uri.startswith("data:image/png;base64,")
    assert base64.b64decode(uri.split(",", 1)[1])[:4] == b"\x89PNG"


def test_markdown_written_elsewhere_links_its_images_relatively(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    answer, cands = _setup(corpus)
    out = DefaultMerger().merge(answer, Placement((Slot("a", 1),)), cands)
    out = replace(out, image_root=str(corpus))
    md = to_markdown(out, relative_to=tmp_path / "results" / "run1")
    # the .md file sits beside the corpus, not in it: ../ up to the common folder, not absolute
    assert "](<../../corpus/a.png>" in md
    assert str(tmp_path) not in md


def test_step_labels_start_lines_of_their_own():
    sentences = (
        "It has no dedicated dialog.",
        "Step 1: Get your statement",
        "Step 2: Open the account",
    )
    answer = TextAnswer("Q?", tuple(Sentence(s) for s in sentences))
    out = DefaultMerger().merge(answer, Placement(()), ())
    md = to_markdown(out)
    assert "dialog.\nStep 1: Get your statement\nStep 2: Open the account" in md
    assert "Step 1: Get your statement<br>Step 2: Open the account" in to_html(out)
