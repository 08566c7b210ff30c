"""Issue 10: the renderers never embed a file from outside the corpus, never load a remote image
unless asked, re-check magic bytes, and write no live HTML into Markdown; ``ask`` checks its output
files before it runs the pipeline."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from builders import FixedGenerator, FixedRetriever, retrieval
from PIL import Image

from m2io.cli import main as cli_main
from m2io.inserters.none import NoInserter
from m2io.mergers import images as render_images
from m2io.mergers.render import to_html, to_markdown
from m2io.pipeline import Pipeline
from m2io.retrievers.hybrid import HybridRetriever
from m2io.types import (
    ImageSegment,
    MultimodalAnswer,
    TextSegment,
)

SECRET = "M2IO_API_KEY=sk-very-secret-value"


def _answer(*images: ImageSegment, root: Path | None, text: str = "First.") -> MultimodalAnswer:
    segs = (TextSegment(text, 1), *images, TextSegment("Second.", 2))
    return MultimodalAnswer(
        "Q?", segs, image_root=None if root is None else str(root), notes=("kept note",)
    )


def _png(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        Image.new("RGB", (4, 4), "blue").save(fh, format="PNG")
    return path


def _body(page: str) -> str:
    return page.split("<body>", 1)[1]


def _corpus(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "corpus"
    root.mkdir()
    secret = tmp_path / "outside" / "secret.png"
    secret.parent.mkdir()
    secret.write_text(SECRET)
    return root, secret


def _assert_not_leaked(out: str, secret: Path) -> None:
    raw = secret.read_bytes()
    assert SECRET not in out
    assert base64.b64encode(raw).decode()[:16] not in out
    assert str(secret) not in out


def test_file_outside_the_corpus_is_never_embedded(tmp_path):
    root, secret = _corpus(tmp_path)
    answer = _answer(ImageSegment("leak", 1, path=str(secret), caption="chart"), root=root)
    page = to_html(answer)
    _assert_not_leaked(page, secret)
    assert 'src="data:' not in page and "image leak unavailable" in page
    assert "image &#x27;leak&#x27; not shown: its file lies outside the corpus folder" in page
    md = to_markdown(answer)
    _assert_not_leaked(md, secret)
    assert "> note: image 'leak' not shown: its file lies outside the corpus folder" in md


def test_proc_environ_is_never_embedded(tmp_path, monkeypatch):
    monkeypatch.setenv("M2IO_FAKE_KEY", SECRET)
    answer = _answer(ImageSegment("env", 1, path="/proc/self/environ"), root=tmp_path)
    page = to_html(answer)
    assert SECRET not in page and 'src="data:' not in page
    md = to_markdown(answer)
    assert "/proc/self/environ" not in md and "](" not in md


def test_symlink_inside_the_corpus_pointing_outside_is_refused(tmp_path):
    root, secret = _corpus(tmp_path)
    link = root / "figure.png"
    link.symlink_to(secret)
    answer = _answer(ImageSegment("fig", 1, path=str(link)), root=root)
    page = to_html(answer)
    _assert_not_leaked(page, secret)
    assert 'src="data:' not in page and "outside the corpus folder" in page
    md = to_markdown(answer, relative_to=root)
    assert "figure.png" not in md and "outside the corpus folder" in md


def test_text_file_named_png_is_not_embedded(tmp_path):
    fake = tmp_path / "fake.png"
    fake.write_text(SECRET)
    page = to_html(_answer(ImageSegment("fake", 1, path=str(fake)), root=tmp_path))
    _assert_not_leaked(page, fake)
    assert 'src="data:' not in page
    assert "not shown: its file is not a PNG, JPEG, GIF, BMP, TIFF or WebP image" in page


def test_oversized_file_is_not_embedded(tmp_path, monkeypatch):
    monkeypatch.setattr(render_images, "MAX_IMAGE_BYTES", 32)
    big = _png(tmp_path / "big.png")
    page = to_html(_answer(ImageSegment("big", 1, path=str(big)), root=tmp_path))
    assert (
        'src="data:' not in page and "image &#x27;big&#x27; not shown: its file is larger" in page
    )


def test_no_image_root_embeds_no_local_file_and_says_why(tmp_path):
    img = _png(tmp_path / "a.png")
    answer = _answer(ImageSegment("a", 1, path=str(img)), root=None)
    page = to_html(answer)
    assert 'src="data:' not in page and "no corpus folder is known" in page
    # an explicit root (e.g. the demo's corpus folder) is enough
    assert 'src="data:image/png' in to_html(answer, image_root=tmp_path)
    assert "](<a.png>)" in to_markdown(answer, image_root=tmp_path, relative_to=tmp_path)


def test_png_inside_the_corpus_is_embedded_with_type_from_its_bytes(tmp_path):
    img = _png(tmp_path / "img" / "x.jpg")  # PNG bytes behind a .jpg name
    page = to_html(_answer(ImageSegment("x", 1, path=str(img), caption="blue"), root=tmp_path))
    src = page.split('<img src="', 1)[1].split('"', 1)[0]
    assert src.startswith("data:image/png;base64,")
    assert base64.b64decode(src.split(",", 1)[1]) == img.read_bytes()
    assert "not shown" not in page


def test_remote_image_only_when_allowed(tmp_path):
    url = "http://example.org/figure.png"
    answer = _answer(ImageSegment("r", 1, url=url), root=tmp_path)
    page = to_html(answer)
    assert url not in page and "--allow-remote-images" in page
    assert f'<img src="{url}"' in to_html(answer, allow_remote_images=True)
    md = to_markdown(answer)
    assert url not in md and "--allow-remote-images" in md
    assert f"](<{url}>)" in to_markdown(answer, allow_remote_images=True)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(document.cookie)",
        "data:text/html,<script>x</script>",
        "file:///etc/passwd",
    ],
)
def test_javascript_data_and_file_urls_never(tmp_path, url):
    answer = _answer(ImageSegment("j", 1, url=url), root=tmp_path)
    for remote in (False, True):
        page = to_html(answer, allow_remote_images=remote)
        md = to_markdown(answer, allow_remote_images=remote)
        assert url.split(":")[0] + ":" not in _body(page).replace("data-", "")
        assert "](" not in md and url not in md
    assert "not an absolute http(s) URL" in to_html(answer, allow_remote_images=True)


def test_markdown_escapes_html_and_image_syntax_from_text_and_captions(tmp_path):
    img = _png(tmp_path / "a.png")
    text = "Use <script>alert(1)</script> now. ![x](http://evil.example/t.png) [link](javascript:x)"
    answer = _answer(
        ImageSegment("a", 1, path=str(img), caption='<script>steal()</script> "q"'),
        root=tmp_path,
        text=text,
    )
    md = to_markdown(answer, relative_to=tmp_path)
    assert "<script>" not in md and "</script>" not in md
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in md
    assert "![&lt;script&gt;steal()&lt;/script&gt;" in md
    assert "!\\[x\\](http://evil" in md and "\\[link\\](javascript" in md
    assert md.count("](") - md.count("\\](") == 1  # only the real image is a live link


def test_markdown_renders_no_live_html_links_or_images(tmp_path):
    markdown_it = pytest.importorskip("markdown_it")
    img = _png(tmp_path / "a.png")
    text = (
        "Use <script>alert(1)</script> and &lt;script&gt;x&lt;/script&gt; now. "
        "![x](http://evil.example/t.png) [link](javascript:x) <http://evil.example/auto> "
        "\\[esc](http://evil.example/e) <img src=x onerror=alert(2)>"
    )
    answer = _answer(
        ImageSegment("a", 1, path=str(img), caption='<b>bold</b> "q" ](x)'),
        root=tmp_path,
        text=text,
    )
    rendered = markdown_it.MarkdownIt("commonmark", {"html": True}).render(
        to_markdown(answer, relative_to=tmp_path)
    )
    assert "<script" not in rendered and "<b>" not in rendered and '<img src="x' not in rendered
    assert 'href="' not in rendered and rendered.count("<img ") == 1
    assert '<img src="a.png"' in rendered


def test_html_hides_the_sentence_index_but_keeps_the_attribute(tmp_path):
    img = _png(tmp_path / "a.png")
    page = to_html(_answer(ImageSegment("a", 1, path=str(img), caption="c"), root=tmp_path))
    assert "(after sentence" not in page
    assert 'data-after-sentence="1"' in page


def test_pipeline_answer_carries_the_retrievers_image_root():
    nothing = FixedRetriever(retrieval("q?"), image_root="/srv/corpus")
    answer = Pipeline(nothing, FixedGenerator("An answer."), NoInserter()).run("q?")
    assert answer.image_root == "/srv/corpus"
    assert answer.to_dict()["image_root"] == "/srv/corpus"


def test_hybrid_retriever_exposes_the_index_corpus_root(tmp_path):
    class _Index:
        corpus_root = tmp_path

    retriever = object.__new__(HybridRetriever)
    retriever.index = _Index()
    assert retriever.image_root == str(tmp_path)
    _Index.corpus_root = None
    assert retriever.image_root is None


@pytest.mark.parametrize("flag", ["--html", "--markdown"])
def test_ask_checks_output_files_before_running(tmp_path, monkeypatch, capsys, flag):
    import m2io.factory

    def no_pipeline(cfg):
        raise AssertionError("the pipeline must not run when the output file is unusable")

    monkeypatch.setattr(m2io.factory, "build_pipeline", no_pipeline)
    index = tmp_path / "index"
    index.mkdir()
    base = ["ask", "what?", "--index", str(index)]
    assert cli_main.main([*base, flag, str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{flag} " in err and "is a directory" in err and "Traceback" not in err
    missing = os.path.join(str(tmp_path), "no-such-folder", "out.html")
    assert cli_main.main([*base, flag, missing]) == 2
    assert "does not exist" in capsys.readouterr().err
