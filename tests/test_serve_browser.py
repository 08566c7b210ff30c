"""The web page in headless Chromium (Debian's ``chromium``, driven by Playwright's Python package).

It asks a question on the demo corpus and checks what a reader sees: the figures load, have a
size, and sit between the sentences the API placed them after; a click opens one full size;
sources and timings are listed. A malicious corpus (script tags, ``onerror`` attributes,
``javascript:`` links, in text, captions and titles) must show as text and run nothing.

``scripts/setup.sh`` installs both (``apt-get install chromium``, the ``dev`` extra); without
them the tests are skipped with the reason. ``playwright install`` is not used: it downloads a
browser build, and the machines have no internet.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from test_serve_api import QUESTION, build_app, demo_copy, index_folder  # noqa: E402
from test_serve_uvicorn import LiveServer  # noqa: E402

from m2io.demo import corpus_path  # noqa: E402
from m2io.testing.browser import CHROMIUM, LAUNCH_ARGS  # noqa: E402

TIMEOUT_MS = 20_000

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

pytestmark = [
    pytest.mark.skipif(
        sync_playwright is None,
        reason="Playwright's Python package is missing (pip install 'm2io[dev]')",
    ),
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason=f"no Chromium at {CHROMIUM} (apt-get install chromium; scripts/setup.sh does)",
    ),
]


@pytest.fixture(scope="module")
def browser() -> Iterator:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, timeout=TIMEOUT_MS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory) -> Iterator[LiveServer]:
    _, index = demo_copy(tmp_path_factory.mktemp("serve-browser"))
    with LiveServer(build_app(index)) as server:
        yield server


def ask(browser, url: str, question: str):
    """A fresh page at ``url`` that asked ``question``; the page and its console errors."""
    page = browser.new_page(viewport={"width": 1000, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(url + "/")
    page.fill("#question", question)
    page.click("#ask-button")
    page.wait_for_selector("#answer p")
    # polled from here: wait_for_function evaluates a string in the page, which the CSP forbids
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while not page.evaluate("() => Array.from(document.images).every(i => i.complete)"):
        assert time.monotonic() < deadline, "images did not finish loading"
        page.wait_for_timeout(50)
    return page, errors, dialogs


def test_figures_render_inline_between_the_right_sentences(browser, demo_server):
    page, errors, _ = ask(browser, demo_server.url, QUESTION)
    figures = page.query_selector_all("#answer figure")
    assert figures, "no figure in the answer"
    layout = page.evaluate(
        """() => Array.from(document.querySelectorAll('#answer figure')).map(fig => {
            const img = fig.querySelector('img');
            const box = img.getBoundingClientRect();
            const k = Number(fig.dataset.afterSentence);
            const at = n => document.querySelector(`#answer [data-sentence="${n}"]`);
            const before = at(k), after = at(k + 1);
            return {
                id: fig.dataset.imageId, k,
                natural: img.naturalWidth, width: box.width, height: box.height,
                top: box.top, bottom: box.bottom,
                beforeBottom: before ? before.getBoundingClientRect().bottom : null,
                afterTop: after ? after.getBoundingClientRect().top : null,
                precedesBefore: before ? !!(before.compareDocumentPosition(fig) & 4) : null,
                followsAfter: after ? !!(after.compareDocumentPosition(fig) & 2) : null,
                caption: (fig.querySelector('figcaption') || {}).textContent || '',
            };
        })"""
    )
    for fig in layout:
        assert fig["natural"] > 0, f"{fig['id']} did not load"
        assert fig["width"] > 20 and fig["height"] > 20, fig
        if fig["k"] > 0:  # below the sentence it follows
            assert fig["precedesBefore"] and fig["top"] >= fig["beforeBottom"] - 1, fig
        if fig["afterTop"] is not None:  # above the next sentence
            assert fig["followsAfter"] and fig["bottom"] <= fig["afterTop"] + 1, fig
        assert fig["caption"] and not fig["caption"].endswith(".png")
    # the page shows what the API placed, in the same order
    api = page.evaluate(
        """async q => (await (await fetch('/v1/answer', {method: 'POST',
            headers: {'Content-Type': 'application/json'}, body: JSON.stringify({question: q})}))
            .json()).segments.filter(s => s.type === 'image')
            .map(s => [s.image_id, s.after_sentence])""",
        QUESTION,
    )
    assert [[f["id"], f["k"]] for f in layout] == api
    sources = page.query_selector_all("#source-list li a")
    assert sources and all(
        a.get_attribute("href").startswith(demo_server.url + "/v1/sources/") for a in sources
    )
    assert page.query_selector_all("#timing-rows tr")
    assert page.inner_text("#status").startswith("Answered")
    # a click shows the figure full size
    figures[0].query_selector("img").click()
    page.wait_for_selector("#viewer[open]")
    assert page.evaluate("document.getElementById('viewer-img').naturalWidth") > 0
    page.click("#viewer-close")
    assert not page.evaluate("document.getElementById('viewer').open")
    assert errors == []  # no CSP violation, no script error
    page.close()


EVIL_MD = """# Clock <script>window.__xss = 1</script> repair

The clock repair guide explains how to open a clock case <img src=x onerror="window.__xss=2"> safely.
See [the clock manual](javascript:window.__xss=3) before you open the clock case.
Type `<b>bold</b>` in the clock settings field &lt;script&gt;window.__xss=4&lt;/script&gt; now.

![Clock face"><img src=x onerror="window.__xss=5">](clock.png "Clock <svg onload=window.__xss=6>")

After opening the clock case, the clock hands can be removed with a clock key.
"""
EVIL_HTML = """<html><head><title>Clock &lt;img src=x onerror=window.__xss=7&gt; cleaning</title>
</head><body><h1>Clock cleaning</h1>
<p>To clean a clock, wipe the clock face gently.<script>window.__xss=8</script> The clock
<a href="javascript:window.__xss=9">cleaning kit</a> helps.</p>
<figure><img src="clock.png" alt="x" onerror="window.__xss=10">
<figcaption>A clean clock &lt;iframe src=javascript:window.__xss=11&gt;</figcaption></figure>
<p>Dry the clock case before closing the clock.</p></body></html>
"""


@pytest.mark.parametrize(
    ("question", "shown"),
    [
        ("How do I open the clock case?", "<svg onload=window.__xss=6>"),
        ("How do I clean a clock?", "<iframe src=javascript:window.__xss=11>"),
    ],
)
def test_a_malicious_document_shows_as_text_and_runs_nothing(browser, tmp_path, question, shown):
    corpus = tmp_path / "evil"
    corpus.mkdir()
    shutil.copy(corpus_path() / "images" / "clock.png", corpus / "clock.png")
    (corpus / "evil.md").write_text(EVIL_MD)
    (corpus / "evil.html").write_text(EVIL_HTML)
    index = index_folder(corpus, tmp_path / "index")
    with LiveServer(build_app(index)) as server:
        page, errors, dialogs = ask(browser, server.url, question)
        page.wait_for_timeout(300)  # give any injected handler time to fire
        assert page.evaluate("window.__xss") is None
        assert dialogs == []
        live = page.evaluate(
            """() => {
                const scope = document.querySelectorAll('#answer *, #sources *, #notes *');
                return {
                    scripts: document.querySelectorAll('#answer script, #sources script').length,
                    handlers: Array.from(scope).filter(e => Array.from(e.attributes)
                        .some(a => a.name.startsWith('on'))).length,
                    js: Array.from(document.querySelectorAll('a[href]'))
                        .filter(a => !/^(https?:|#)/.test(a.getAttribute('href'))
                                     && !a.getAttribute('href').startsWith('/')).length,
                    frames: document.querySelectorAll('iframe, svg').length,
                };
            }"""
        )
        assert live == {"scripts": 0, "handlers": 0, "js": 0, "frames": 0}
        assert shown in page.inner_text("#answer")  # the markup is visible as text
        assert page.evaluate("document.querySelector('#answer figure img').naturalWidth") > 0
        assert errors == []
        page.close()


def test_docs_page_lists_the_routes_offline(browser, demo_server):
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(demo_server.url + "/docs")
    page.wait_for_selector("section.route", timeout=TIMEOUT_MS)
    titles = page.eval_on_selector_all("section.route h2", "hs => hs.map(h => h.textContent)")
    assert "POST /v1/answer" in titles and "POST /v1/chat/completions" in titles
    assert all(u.startswith(demo_server.url) for u in requests)  # nothing from a CDN
    assert errors == []
    page.close()


def test_page_asks_for_the_api_key_and_then_shows_the_figures(browser, tmp_path):
    _, index = demo_copy(tmp_path)
    with LiveServer(build_app(index, api_key="k3y")) as server:
        page = browser.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(server.url + "/")
        page.fill("#question", QUESTION)
        page.click("#ask-button")
        page.wait_for_selector("#key-row:not([hidden])")
        assert "API key" in page.inner_text("#status")
        page.fill("#api-key", "k3y")
        page.click("#ask-button")
        page.wait_for_selector("#answer figure img")
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        while not page.evaluate("() => Array.from(document.images).every(i => i.complete)"):
            assert time.monotonic() < deadline
            page.wait_for_timeout(50)
        widths = page.eval_on_selector_all(
            "#answer figure img", "is => is.map(i => i.naturalWidth)"
        )
        assert widths and min(widths) > 0  # signed image URLs load without the header
        page.close()


def test_a_source_link_opens_a_readable_page_at_its_section(browser, demo_server):
    page, errors, _ = ask(browser, demo_server.url, QUESTION)
    links = [a.get_attribute("href") for a in page.query_selector_all("#source-list li a")]
    deep = next((h for h in links if "#" in h and not h.endswith("#edge-detection")), links[0])
    page.close()
    source = browser.new_page(viewport={"width": 900, "height": 700})
    source.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    source.goto(deep)
    heading = source.query_selector(f"[id='{deep.rsplit('#', 1)[1]}']")
    assert heading is not None, f"no element for the fragment of {deep}"
    box = heading.bounding_box()
    assert box is not None and 0 <= box["y"] < 100  # the page opened at the cited section
    assert source.evaluate("window.scrollY") > 0
    images = source.evaluate("Array.from(document.images).map(i => i.naturalWidth)")
    assert images and all(w > 0 for w in images)  # figures load through /v1/images
    assert source.evaluate("getComputedStyle(document.body).maxWidth") != "none"  # styled
    assert "#" not in source.inner_text("body").split("\n")[0]  # no raw Markdown
    assert errors == []  # no CSP violation
    source.close()


BUILD_MD = """# Building the clock firmware

Building the clock firmware needs a compiler. Build the clock firmware from its folder.

Build it:

make

And finally install it:

sudo make install

The clock firmware then runs on the clock.
"""


def _one_page_server(tmp_path, name: str, text: str) -> LiveServer:
    """A server (use it in a ``with`` block) over the index of a one-page corpus: file
    ``name`` holding ``text``."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / name).write_text(text)
    return LiveServer(build_app(index_folder(corpus, tmp_path / "index")))


def test_commands_show_as_code_on_lines_of_their_own(browser, tmp_path):
    with _one_page_server(tmp_path, "build.md", BUILD_MD) as server:
        page, errors, _ = ask(browser, server.url, "How do I build the clock firmware?")
        codes = page.eval_on_selector_all("#answer p code", "els => els.map(e => e.textContent)")
        assert codes == ["make", "sudo make install"]
        text = page.inner_text("#answer p")
        assert "Build it:\nmake\nAnd finally install it:\nsudo make install\n" in text, text
        assert errors == []
        page.close()


PLOT_HTML = """<html><body><h1>Plotting two curves</h1>
<p>To plot two curves in one figure window, call subplot before each plot. For example,</p>
<pre>subplot (2, 1, 1)
  plot (x, sin (x));  # <script>window.bad = 1</script>
subplot (2, 1, 2)
  plot (x, cos (x));</pre>
<p>creates a figure window with two plots, one above the other.</p></body></html>"""


def test_a_code_block_shows_as_a_block_with_its_lines_and_runs_nothing(browser, tmp_path):
    with _one_page_server(tmp_path, "plots.html", PLOT_HTML) as server:
        page, errors, _ = ask(browser, server.url, "How do I plot two curves in one figure window?")
        blocks = page.eval_on_selector_all("#answer pre.code", "els => els.map(e => e.textContent)")
        assert len(blocks) == 1, blocks
        lines = blocks[0].split("\n")
        assert lines[0] == "subplot (2, 1, 1)" and lines[1].startswith("  plot (x, sin (x));")
        assert "```" not in blocks[0]
        assert page.evaluate("window.bad") is None  # the <script> in the code is text
        text = page.inner_text("#answer")
        assert text.index("For example,") < text.index("subplot (2, 1, 1)") < text.index("creates")
        assert errors == []
        page.close()


def _queue_page(n_steps: int) -> str:
    steps = "".join(
        f"<li><p>Update queue group {n} to the new backend.</p><p>"
        + " ".join(f"Check entry {n}.{k} of the queue list for an old backend." for k in range(5))
        + f"</p><pre>$ lpadmin -p q{n}</pre></li>"
        for n in range(1, n_steps + 1)
    )
    return (
        "<html><body><h1>Updating the printer queues</h1><p>Here are the steps to update the "
        f"printer queues after an upgrade.</p><ol>{steps}</ol></body></html>"
    )


def test_a_procedure_longer_than_the_answer_says_where_it_goes_on(browser, tmp_path):
    with _one_page_server(tmp_path, "queues.html", _queue_page(9)) as server:
        page, errors, _ = ask(
            browser, server.url, "How do I update the printer queues after an upgrade?"
        )
        said = page.inner_text("#answer p.continued")
        assert said.startswith("Step") and "continue in" in said, said
        assert "Updating the printer queues" in said
        links = page.eval_on_selector_all(
            "#answer p.continued a", "els => els.map(e => e.getAttribute('href'))"
        )
        assert links == ["#source-1"]
        text = page.inner_text("#answer")
        assert text.index("1. Update queue group 1") < text.index("2. Update queue group 2")
        assert text.index("Update queue group") < text.index(said.split(" ")[0])
        assert errors == []
        page.close()
