"""Folder, Markdown and HTML loaders on hostile input: confined, linear, one bad file never fatal.

Each test here failed on the loaders before issue 10's hardening.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from fixtures_corpus import make_png
from PIL import Image

from m2io.corpus import load_folder
from m2io.corpus.htmldoc import html_to_text
from m2io.corpus.markdown import markdown_to_text
from m2io.corpus.report import ImageChecker


def _corpus_and_outside(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "corpus"
    outside = tmp_path / "outside"
    make_png(outside / "x.png")
    (outside / "secret.md").write_text("Top secret text.")
    root.mkdir()
    return root, outside


# --- confinement ----------------------------------------------------------------------------


def test_images_outside_the_root_are_refused_and_reported(tmp_path: Path) -> None:
    root, outside = _corpus_and_outside(tmp_path)
    make_png(root / "img" / "ok.png")
    (root / "img" / "link.png").symlink_to(outside / "x.png")
    (root / "page.md").write_text(
        "Intro.\n\n![up](../outside/x.png)\n\n"
        f"![file](file://{outside / 'x.png'})\n\n"
        "![site root](/img/ok.png)\n\n"
        f"![absolute]({outside / 'x.png'})\n\n"
        "![linked](img/link.png)\n\nEnd.\n"
    )
    corpus = load_folder(root)
    doc = corpus.get("page.md")
    # a leading "/" still means the corpus root; nothing outside it is indexed
    assert [a.image.image_id for a in doc.images] == ["img/ok.png"]
    assert list(corpus.images) == ["img/ok.png"]
    assert all(
        Path(i.path).resolve().is_relative_to(root.resolve()) for i in corpus.images.values()
    )
    refused = [w for w in corpus.warnings if "refused" in w and "page.md" in w]
    assert len(refused) == 3  # ../outside, file:// and the symlink
    assert any("../outside/x.png" in w for w in refused)
    assert any("img/link.png" in w for w in refused)
    # an absolute file-system path is a site-root path: root/<tmp>/outside/x.png, missing
    assert any(w.startswith("missing image") and "page.md" in w for w in corpus.warnings)


def test_symlinked_document_outside_the_root_is_not_indexed(tmp_path: Path) -> None:
    root, outside = _corpus_and_outside(tmp_path)
    (root / "real.md").write_text("Real page.")
    (root / "leak.md").symlink_to(outside / "secret.md")
    corpus = load_folder(root)
    assert [d.doc_id for d in corpus.documents] == ["real.md"]
    assert not any("Top secret" in d.text for d in corpus.documents)
    assert any(w.startswith("leak.md:") and "outside the corpus" in w for w in corpus.warnings)


def test_remote_images_only_http_urls_survive(tmp_path: Path) -> None:
    (tmp_path / "page.md").write_text(
        "Text.\n\n![chart](https://example.org/c.png)\n\n![js](javascript:alert(1))\n\n"
        "![rel](//cdn.example.org/x.png)\n\nEnd."
    )
    corpus = load_folder(tmp_path)
    [anchor] = corpus.get("page.md").images
    assert anchor.image.url == "https://example.org/c.png" and anchor.image.path is None
    assert any("javascript:" in w for w in corpus.warnings)
    assert any("//cdn.example.org/x.png" in w and "refused" in w for w in corpus.warnings)


def test_svg_is_unsupported_not_corrupt(tmp_path: Path) -> None:
    (tmp_path / "d.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    (tmp_path / "page.md").write_text("A drawing.\n\n![drawing](d.svg)\n")
    corpus = load_folder(tmp_path)
    assert corpus.get("page.md").images == ()
    [warning] = corpus.warnings
    assert warning.startswith("unsupported format (svg) image d.svg") and "corrupt" not in warning


# --- one bad file is skipped, not fatal -----------------------------------------------------


def test_very_long_image_name_is_reported_missing(tmp_path: Path) -> None:
    (tmp_path / "page.md").write_text(f"Text.\n\n![long]({'a' * 300}.png)\n")
    corpus = load_folder(tmp_path)
    assert corpus.get("page.md").text == "Text."
    assert any(w.startswith("missing image") and "too long" in w for w in corpus.warnings)


def test_truncated_jpeg_is_corrupt(tmp_path: Path) -> None:
    Image.effect_noise((256, 256), 64).convert("RGB").save(tmp_path / "full.jpg", quality=90)
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) * 2 // 3])
    checker = ImageChecker()
    assert checker.check(tmp_path / "full.jpg").ok
    status = checker.check(tmp_path / "cut.jpg")
    assert (status.ok, status.problem) == (False, "corrupt")
    assert "truncated" in status.reason.lower()


def test_malformed_marked_section_does_not_reject_the_page(tmp_path: Path) -> None:
    (tmp_path / "odd.html").write_text("<p>Kept text.</p>\x00<![ ]]><![CDAta[x]]><p>More.</p>")
    (tmp_path / "good.md").write_text("Good page.")
    corpus = load_folder(tmp_path)
    assert [d.doc_id for d in corpus.documents] == ["good.md", "odd.html"]
    assert corpus.get("odd.html").text.startswith("Kept text.")
    assert corpus.get("odd.html").text.endswith("More.")


def test_a_page_the_parser_rejects_is_skipped_and_the_rest_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bs4.exceptions import ParserRejectedMarkup

    from m2io.corpus import htmldoc

    def reject(*args, **kwargs):
        raise ParserRejectedMarkup("unknown status keyword")

    monkeypatch.setattr(htmldoc, "BeautifulSoup", reject)
    (tmp_path / "bad.html").write_text("<p>x</p>")
    (tmp_path / "good.md").write_text("Good page.")
    corpus = load_folder(tmp_path)
    assert [d.doc_id for d in corpus.documents] == ["good.md"]
    assert any(
        w.startswith("bad.html: could not be parsed (CorpusError: HTML parser rejected")
        for w in corpus.warnings
    )


def test_any_parser_exception_is_reported_per_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from m2io.corpus import folder

    def boom(text: str):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setitem(folder.PARSERS, ".txt", boom)
    (tmp_path / "a.txt").write_text("anything")
    (tmp_path / "b.md").write_text("Fine.")
    corpus = load_folder(tmp_path)
    assert [d.doc_id for d in corpus.documents] == ["b.md"]
    assert "a.txt: could not be parsed (RecursionError: maximum recursion" in corpus.warnings[0]


def test_html_parser_rejection_is_not_an_escape() -> None:
    assert html_to_text("\x00<![ ]]><p>x</p>").text.endswith("x")


# --- Markdown: linear time, placeholders, code, links ---------------------------------------

HOSTILE = {
    "images": "![" * 40000,
    "brackets": "[" * 100000,
    "img tags": "<img" * 50000,
    "figures": "<figure>" * 20000,
    "asterisks": "**a " * 30000,
    "underscores": "__a " * 30000,
    "comments": "<!--" * 30000,
    "links": "[x](" * 30000,
    "heading spaces": "# a" + " " * 100000 + "b",
    "front matter title": "---\ntitle: a" + " " * 50000 + "b\n---\n",
    "trailing spaces": " " * 100000 + "x",
    "ref lines": "[\n" * 50000,
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_markdown_hostile_input_parses_in_linear_time(name: str) -> None:
    start = time.perf_counter()
    markdown_to_text(HOSTILE[name])
    assert time.perf_counter() - start < 2.0


@pytest.mark.parametrize(
    "page", ["<a " * 30000, "<!--" * 30000, "<div>" * 5000 + "<img src=a.png>" * 5000]
)
def test_html_hostile_input_parses_in_linear_time(page: str) -> None:
    start = time.perf_counter()
    html_to_text(page)
    assert time.perf_counter() - start < 2.0


def test_private_use_placeholders_in_input_do_not_collide() -> None:
    parsed = markdown_to_text("a \ue0005\ue001 b ![x](x.png) \ue002 c")
    assert [i.src for _, i in parsed.images] == ["x.png"]
    assert parsed.text == "a \ufffd5\ufffd b \ufffd c"
    assert html_to_text("<p>a \ue0007\ue001 b</p>").text == "a \ufffd7\ufffd b"


def test_images_in_code_are_text_not_images() -> None:
    parsed = markdown_to_text(
        'Write `<img src="a.png">` or ``<figure><img src=b.png></figure>``.\n\n'
        '```html\n<img src="c.png">\n```\n'
    )
    assert parsed.images == []
    assert parsed.text == (
        'Write <img src="a.png"> or <figure><img src=b.png></figure>.\n\n```\n<img src="c.png">\n```'
    )


def test_link_with_parentheses_keeps_its_text_and_drops_the_url() -> None:
    parsed = markdown_to_text("See [Foo](https://en.wikipedia.org/wiki/Foo_(bar)) today.")
    assert parsed.text == "See Foo today."
    parsed = markdown_to_text("![Plot](img/plot_(1).png) after")
    assert [i.src for _, i in parsed.images] == ["img/plot_(1).png"]


def test_raw_script_is_dropped_and_entities_stay_text() -> None:
    parsed = markdown_to_text("Use &lt;script&gt; here. <script>alert(1)</script>Done.")
    # the entity is what the author wrote as text; raw script elements never reach the text
    assert parsed.text == "Use <script> here. Done."
    assert "alert" not in parsed.text


def test_img_attribute_with_angle_bracket() -> None:
    parsed = markdown_to_text("""Text <img alt="a > b" src="q.png"> more""")
    assert [(i.src, i.alt) for _, i in parsed.images] == [("q.png", "a > b")]
    assert parsed.text == "Text more"


# --- charsets -------------------------------------------------------------------------------


def test_utf16_page_with_bom_is_decoded(tmp_path: Path) -> None:
    page = "<html><body><p>Grüße aus Köln</p></body></html>"
    (tmp_path / "le.html").write_bytes(b"\xff\xfe" + page.encode("utf-16-le"))
    (tmp_path / "be.md").write_bytes(b"\xfe\xff" + "Ça va".encode("utf-16-be"))
    corpus = load_folder(tmp_path)
    assert corpus.get("le.html").text == "Grüße aus Köln"
    assert corpus.get("be.md").text == "Ça va"
    assert corpus.warnings == []


def test_meta_charset_decides_for_html(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_bytes(b'<meta charset="iso-8859-1"><p>caf\xe9 cr\xe8me</p>')
    (tmp_path / "b.html").write_bytes(
        b'<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">'
        b"<p>\x93quoted\x94</p>"
    )
    (tmp_path / "c.html").write_bytes(b'<meta charset="no-such-charset"><p>plain</p>')
    corpus = load_folder(tmp_path)
    assert corpus.get("a.html").text == "café crème"
    assert corpus.get("b.html").text == "\u201cquoted\u201d"
    assert corpus.get("c.html").text == "plain"
    assert corpus.warnings == ["c.html: unknown charset 'no-such-charset' in <meta>; read as UTF-8"]


def test_meta_charset_naming_a_non_text_codec_is_unknown() -> None:
    from m2io.corpus.report import decode_html

    warnings: list[str] = []
    assert decode_html(b'<meta charset="base64"><p>x</p>', "p.html", warnings).endswith("x</p>")
    assert warnings and "unknown charset 'base64'" in warnings[0]


def test_loader_survives_unreadable_names_on_this_platform(tmp_path: Path) -> None:
    # a NUL byte in a decoded URL cannot name a file: refused, not a crash
    (tmp_path / "page.md").write_text("Text.\n\n![nul](a%00b.png)\n")
    corpus = load_folder(tmp_path)
    assert corpus.get("page.md").text == "Text."
    assert any("a%00b.png" in w for w in corpus.warnings)
    assert os.sep == "/"  # the symlink tests above assume POSIX links
