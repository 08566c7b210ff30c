"""GNOME help sources: Mallard pages and DocBook XML read as the rendered help reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fixtures_corpus import make_png

from m2io.corpus import load_folder
from m2io.corpus.yelp import FRAGMENT, NAV_ONLY, NOT_HELP, ONLY_INCLUDES, SAME_FILE
from m2io.index.sections import sections
from m2io.types import Document

MALLARD = """<?xml version="1.0" encoding="utf-8"?>
<page xmlns="http://projectmallard.org/1.0/" xmlns:if="http://projectmallard.org/if/1.0/"
      type="topic" id="annotations-save">
  <info>
    <link type="guide" xref="index#annotations"/>
    <desc>How to save your annotations.</desc>
    <credit type="author"><name>Jane Writer</name><email>jane@example.org</email></credit>
    <license><p>Creative Commons Share Alike 3.0</p></license>
    <revision pkgversion="3.2" date="2011-09-05" status="final"/>
  </info>
  <title>Save a copy of an annotated PDF</title>
  <comment><cite>editor</cite><p>Check this page before the release.</p></comment>
  <p>To keep your annotations, save a copy of the document:</p>
  <steps>
    <item><p>Click <guiseq><gui>File</gui><gui>Save As…</gui></guiseq>.</p></item>
    <item><p>Choose a folder, then press <keyseq><key>Ctrl</key><key>S</key></keyseq>.</p></item>
    <item><p>Check the copy in the <link xref="recent">recent files</link>.</p></item>
  </steps>
  <figure>
    <title>The save dialog</title>
    <desc>Choosing the folder of the annotated copy</desc>
    <media type="image" src="figures/save.png"><p>Save dialog</p></media>
  </figure>
  <if:choose>
    <if:when test="platform:gnome-classic"><p>Classic desktop only.</p></if:when>
    <if:else><p>The copy keeps every note you added.</p></if:else>
  </if:choose>
  <section id="terminal">
    <title>From a terminal</title>
    <p>Copy the file with its annotations:</p>
    <code>cp annotated.pdf ~/Documents/</code>
  </section>
  <links type="topic" groups="more"/>
</page>
"""

DOCBOOK_MASTER = """<?xml version="1.0"?>
<!DOCTYPE book PUBLIC "-//OASIS//DTD DocBook XML V4.5//EN"
  "http://www.oasis-open.org/docbook/xml/4.5/docbookx.dtd" [
  <!-- a comment in the subset: <!ENTITY fake "no"> ]> -->
  <!ENTITY app "<application>Gnumeric</application>">
  <!ENTITY files-opening SYSTEM "files-opening.xml">
  <!ENTITY legal SYSTEM "legal.xml">
]>
<book id="index" lang="en">
  <title>The &app; Manual</title>
  <bookinfo>&legal;<copyright><year>2012</year><holder>Someone</holder></copyright></bookinfo>
  <chapter id="chapter-files">
    <title>Files</title>
    &files-opening;
  </chapter>
</book>
"""

DOCBOOK_CHAPTER = """<sect1 id="sect-file-open">
  <title>Opening Files</title>
  <indexterm><primary>files</primary><secondary>opening</secondary></indexterm>
  <para>Opening a file into a &app; workbook uses the <interface>File Open</interface> dialog.
  <remark>TODO: say more here</remark></para>
  <sect2 id="sect-file-open-steps">
    <title>The steps</title>
    <procedure>
      <step><para>In the <menuchoice><guimenu>File</guimenu><guimenuitem>Open</guimenuitem>
        </menuchoice> menu, choose the file.</para></step>
      <step><para>Press <keycombo><keycap>Ctrl</keycap><keycap>O</keycap></keycombo> to open
        it.</para></step>
    </procedure>
    <figure id="fig-open">
      <title>Figure 3.1. The File Open dialog</title>
      <screenshot>
        <mediaobject>
          <imageobject><imagedata fileref="figures/open.png" format="PNG"/></imageobject>
          <textobject><phrase>A screenshot of the dialog</phrase></textobject>
        </mediaobject>
      </screenshot>
    </figure>
    <para>The dialog is shown in <xref linkend="fig-open"/>. From a shell:</para>
    <programlisting>ssconvert book.gnumeric book.csv
ssconvert --list-exporters</programlisting>
  </sect2>
</sect1>
"""

LEGAL = """<legalnotice id="legalnotice"><para>Permission is granted to copy.</para>
</legalnotice>"""


def _help_folder(root: Path) -> Path:
    (root / "C" / "evince").mkdir(parents=True)
    (root / "C" / "gnumeric").mkdir(parents=True)
    (root / "C" / "evince" / "annotations-save.page").write_text(MALLARD, encoding="utf-8")
    make_png(root / "C" / "evince" / "figures" / "save.png")
    (root / "C" / "evince" / "index.page").write_text(
        '<page xmlns="http://projectmallard.org/1.0/" type="guide" id="index">'
        "<info><desc>Guide</desc></info><title>Viewer Help</title>"
        '<section id="annotations"><title>Annotations</title></section></page>',
        encoding="utf-8",
    )
    gnumeric = root / "C" / "gnumeric"
    (gnumeric / "gnumeric.xml").write_text(DOCBOOK_MASTER, encoding="utf-8")
    (gnumeric / "index.docbook").symlink_to("gnumeric.xml")
    (gnumeric / "files-opening.xml").write_text(DOCBOOK_CHAPTER, encoding="utf-8")
    (gnumeric / "legal.xml").write_text(LEGAL, encoding="utf-8")
    make_png(gnumeric / "figures" / "open.png")
    (root / "settings.xml").write_text("<configuration><key>v</key></configuration>")
    return root


@pytest.fixture()
def corpus(tmp_path: Path):
    return load_folder(_help_folder(tmp_path / "help"))


def _doc(corpus, doc_id: str) -> Document:
    doc = corpus.get(doc_id)
    assert doc is not None, [d.doc_id for d in corpus.documents]
    return doc


def test_a_mallard_page_reads_as_the_rendered_page(corpus) -> None:
    doc = _doc(corpus, "C/evince/annotations-save.page")
    assert doc.title == "Save a copy of an annotated PDF"
    assert doc.text.startswith("Save a copy of an annotated PDF\n\n")
    # steps stay numbered, one a line, GUI sequences and keys readable
    assert (
        "1. Click File ▸ Save As….\n"
        "2. Choose a folder, then press Ctrl+S.\n"
        "3. Check the copy in the recent files."
    ) in doc.text
    # the figure sits after the steps, its title and desc as its caption
    assert [(a.image.image_id, a.image.caption) for a in doc.images] == [
        (
            "C/evince/figures/save.png",
            "The save dialog. Choosing the folder of the annotated copy",
        )
    ]
    assert doc.text[: doc.images[0].offset].endswith("in the recent files.")
    # the plain desktop's branch, code on its own line, the section a heading
    assert "The copy keeps every note you added." in doc.text
    assert "Classic desktop only" not in doc.text
    assert "with its annotations:\n```\ncp annotated.pdf ~/Documents/\n```" in doc.text
    assert [s.title for s in sections(doc)] == [doc.title, "From a terminal"]
    # metadata, navigation and editors' comments are not read
    for hidden in ("Jane Writer", "Creative Commons", "How to save your", "Check this page"):
        assert hidden not in doc.text


def test_a_docbook_chapter_with_sections_figures_and_code(corpus) -> None:
    doc = _doc(corpus, "C/gnumeric/files-opening.xml")
    assert doc.title == "Opening Files"
    # the master's entity reads as its text in the file it includes
    assert "Opening a file into a Gnumeric workbook uses the File Open dialog." in doc.text
    assert "TODO" not in doc.text and "secondary" not in doc.text  # remark, indexterm
    assert "1. In the File ▸ Open menu, choose the file.\n2. Press Ctrl+O to open it." in doc.text
    assert [s.title for s in sections(doc)] == ["Opening Files", "The steps"]
    (anchor,) = doc.images
    assert anchor.image.image_id == "C/gnumeric/figures/open.png"
    assert anchor.image.caption.startswith("The File Open dialog")  # figure number stripped
    assert doc.text[: anchor.offset].endswith("Ctrl+O to open it.")
    # an xref reads as its target's title; a listing keeps its lines
    assert "The dialog is shown in “Figure 3.1. The File Open dialog”." in doc.text
    assert "ssconvert book.gnumeric book.csv\nssconvert --list-exporters" in doc.text


def test_a_master_is_not_read_twice_and_other_xml_is_listed(corpus) -> None:
    ids = [d.doc_id for d in corpus.documents]
    assert sorted(ids) == ["C/evince/annotations-save.page", "C/gnumeric/files-opening.xml"]
    # the master holds only the included chapter: nothing of its own; the symlink is a
    # second name; the legal notice is metadata; a config file is no help page
    assert corpus.skipped[ONLY_INCLUDES] == ["C/gnumeric/gnumeric.xml"]
    assert corpus.skipped[SAME_FILE] == ["C/gnumeric/index.docbook"]
    assert corpus.skipped[FRAGMENT] == ["C/gnumeric/legal.xml"]
    assert corpus.skipped[NOT_HELP] == ["settings.xml"]
    assert corpus.skipped[NAV_ONLY] == ["C/evince/index.page"]
    text = " ".join(d.text for d in corpus.documents)
    assert "Permission is granted" not in text and text.count("Opening Files") == 1


def test_a_master_with_text_of_its_own_keeps_it(tmp_path: Path) -> None:
    master = DOCBOOK_MASTER.replace(
        "&files-opening;", "<para>Spreadsheets hold cells.</para>&files-opening;"
    )
    (tmp_path / "book.xml").write_text(master, encoding="utf-8")
    (tmp_path / "files-opening.xml").write_text(DOCBOOK_CHAPTER, encoding="utf-8")
    corpus = load_folder(tmp_path)
    book = _doc(corpus, "book.xml")
    assert book.title == "The Gnumeric Manual"
    assert book.text == "The Gnumeric Manual\n\nFiles\n\nSpreadsheets hold cells."
    assert _doc(corpus, "files-opening.xml").text.count("Opening a file") == 1


def test_a_master_that_xincludes_its_chapters_does_not_repeat_them(tmp_path: Path) -> None:
    (tmp_path / "guide.docbook").write_text(
        '<article xmlns:xi="http://www.w3.org/2001/XInclude"><title>Guide</title>'
        '<xi:include href="chapters/start.xml"/><xi:include href="chapters/end.xml"/></article>',
        encoding="utf-8",
    )
    (tmp_path / "chapters").mkdir()
    (tmp_path / "chapters" / "start.xml").write_text(
        "<section><title>Start</title><para>Run the program.</para></section>", encoding="utf-8"
    )
    (tmp_path / "chapters" / "end.xml").write_text(
        "<para>Quit it with Ctrl+Q.</para><para>Done.</para>", encoding="utf-8"
    )
    corpus = load_folder(tmp_path)
    assert {d.doc_id: d.text for d in corpus.documents} == {
        "chapters/start.xml": "Start\n\nRun the program.",
        # a fragment without a title of its own takes the title of the section including it
        "chapters/end.xml": "Guide\n\nQuit it with Ctrl+Q.\n\nDone.",
    }
    assert corpus.skipped[ONLY_INCLUDES] == ["guide.docbook"]


def test_undefined_entities_and_broken_markup_do_not_lose_the_file(tmp_path: Path) -> None:
    (tmp_path / "a.xml").write_text(
        '<!DOCTYPE article [<!ENTITY % kde-entities SYSTEM "none.ent"> %kde-entities;]>\n'
        "<article><title>&kappname; Handbook</title>"
        "<para>Use &kappname; &mdash; the viewer. An &unclosed paragraph <b>here.</para>"
        "<para>Copy with <keycombo>&Ctrl;<keycap>C</keycap></keycombo>.</para></article>",
        encoding="utf-8",
    )
    corpus = load_folder(tmp_path)
    doc = _doc(corpus, "a.xml")
    assert doc.title == "kappname Handbook"
    assert "Use kappname — the viewer." in doc.text
    assert "Copy with Ctrl+C." in doc.text  # a key given as an undefined entity keeps its name
    assert any("a.xml: undefined entities" in w and "&kappname;" in w for w in corpus.warnings)


def test_entities_are_not_expanded_recursively_nor_fetched(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    laughs = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{k} "{("&lol%s;" % (k - 1 if k > 1 else "")) * 10}">' for k in range(1, 10)
    )
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "bomb.xml").write_text(
        f'<!DOCTYPE article [{laughs}<!ENTITY file SYSTEM "file://{secret}">]>'
        "<article><title>Bomb</title><para>&lol9; and &file;</para></article>",
        encoding="utf-8",
    )
    corpus = load_folder(tmp_path / "docs")
    doc = _doc(corpus, "bomb.xml")
    assert "TOP SECRET" not in doc.text
    assert len(doc.text) < 200  # one level of names, never a billion lols


def test_an_image_outside_the_root_is_refused_and_reported(tmp_path: Path) -> None:
    make_png(tmp_path / "outside.png")
    root = tmp_path / "help"
    root.mkdir()
    (root / "p.page").write_text(
        '<page xmlns="http://projectmallard.org/1.0/" id="p"><title>Escape</title>'
        '<p>Text.</p><media type="image" src="../outside.png"><p>x</p></media></page>',
        encoding="utf-8",
    )
    corpus = load_folder(root)
    assert _doc(corpus, "p.page").images == ()
    assert any("../outside.png" in w and "refused" in w for w in corpus.warnings)


def test_a_folder_of_html_with_stray_xml_reads_as_before(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<h1>Home</h1><p>Welcome.</p>", encoding="utf-8")
    (tmp_path / "sitemap.xml").write_text("<urlset><url><loc>x</loc></url></urlset>")
    (tmp_path / "broken.xml").write_bytes(b"\xff\xfe<<<")
    corpus = load_folder(tmp_path)
    assert [d.doc_id for d in corpus.documents] == ["index.html"]
    assert corpus.skipped[NOT_HELP] == ["sitemap.xml"]
    assert any(w.startswith("broken.xml: not readable XML") for w in corpus.warnings)


def test_help_languages_are_kept_apart(tmp_path: Path) -> None:
    for lang, text in (("C", "Save the file."), ("de", "Speichern Sie die Datei.")):
        folder = tmp_path / lang / "app"
        folder.mkdir(parents=True)
        (folder / "save.page").write_text(
            f'<page xmlns="http://projectmallard.org/1.0/" id="save"><title>T</title>'
            f"<p>{text} Die und der das ist.</p></page>"
            if lang == "de"
            else f'<page xmlns="http://projectmallard.org/1.0/" id="save"><title>T</title>'
            f"<p>{text} The file is saved and the window is closed.</p></page>",
            encoding="utf-8",
        )
    corpus = load_folder(tmp_path)
    assert {d.doc_id: d.language for d in corpus.documents} == {
        "C/app/save.page": "en",
        "de/app/save.page": "de",
    }


def test_asking_the_indexed_help_folder_shows_the_figure(tmp_path: Path, capsys) -> None:
    pytest.importorskip("faiss")
    pytest.importorskip("bm25s")
    from m2io.cli.main import main
    from m2io.factory import build_pipeline
    from m2io.index import build_index
    from m2io.testing.hash_embedder import HashEmbedder

    corpus = load_folder(_help_folder(tmp_path / "help"))
    out = tmp_path / "index"
    build_index(
        corpus.documents,
        out,
        embedder=HashEmbedder(dim=256),
        progress=False,
        corpus_root=corpus.root,
    )
    embed = {"class": "m2io.testing.hash_embedder:HashEmbedder", "dim": 256, "name": "test-hash"}
    pipe = build_pipeline(
        {
            "index": str(out),
            "retriever": {"name": "hybrid", "embedder": embed},
            "generator": {"name": "extractive", "embedder": embed},
            "inserter": {"name": "anchored", "embedder": embed},
        }
    )
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(pipe.to_yaml(), encoding="utf-8")
    question = "How do I save a copy of an annotated PDF?"
    assert main(["ask", "--json", "--config", str(recipe), question]) == 0
    answer = json.loads(capsys.readouterr().out)
    texts = " ".join(s["text"] for s in answer["segments"] if s["type"] == "text")
    images = [s for s in answer["segments"] if s["type"] == "image"]
    assert "File ▸ Save As…" in texts
    assert [s["image_id"] for s in images] == ["C/evince/figures/save.png"]
    assert images[0]["caption"].startswith("The save dialog")
    assert answer["sources"][0]["doc_id"] == "C/evince/annotations-save.page"


def test_malformed_xml_is_read_as_far_as_it_goes_and_named_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "a.xml").write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE article [\n<!ENTITY x "y">\n]>\n'
        "<article><title>Broken</title>\n<para>Kept text.</para>\n<para>Open <b>tag</para>\n"
        "</article>",
        encoding="utf-8",
    )
    corpus = load_folder(tmp_path)
    assert "Kept text." in _doc(corpus, "a.xml").text
    assert any(w.startswith("a.xml: malformed XML at line 7 (") for w in corpus.warnings), (
        corpus.warnings
    )


def test_an_icon_inside_a_gui_label_stays_in_its_sentence(tmp_path: Path) -> None:
    (tmp_path / "wifi.page").write_text(
        '<page xmlns="http://projectmallard.org/1.0/" id="wifi"><title>Wi-Fi</title><steps>'
        '<item><p>Select <gui><media type="image" mime="image/svg" src="figures/w.svg"/>'
        "Wi-Fi</gui>. The section expands.</p></item><item><p>The icon changes "
        '(<media type="image" src="figures/bars.svg" width="28" height="28"/>).</p></item>'
        "</steps></page>",
        encoding="utf-8",
    )
    doc = _doc(load_folder(tmp_path), "wifi.page")
    assert "1. Select Wi-Fi. The section expands.\n2. The icon changes." in doc.text
    assert doc.images == ()


def test_nested_steps_are_indented_under_their_step(tmp_path: Path) -> None:
    (tmp_path / "form.page").write_text(
        '<page xmlns="http://projectmallard.org/1.0/" id="form"><title>Saving a form</title>'
        "<steps><item><p>To keep it editable:</p><steps><item><p>Click Save As.</p></item>"
        "<item><p>Choose a name.</p></item></steps></item><item><p>Close it.</p></item>"
        "</steps></page>",
        encoding="utf-8",
    )
    doc = _doc(load_folder(tmp_path), "form.page")
    assert (
        "1. To keep it editable:\n   1. Click Save As.\n   2. Choose a name.\n2. Close it."
        in doc.text
    )
