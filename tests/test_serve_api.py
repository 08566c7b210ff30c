"""The HTTP service against the real app (FastAPI's TestClient) on the demo corpus.

The index is built with the tests' hash embedder (no model) so the whole file runs in seconds;
``demo_pipeline`` and ``build_app`` are also used by the uvicorn and browser tests.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("multipart")

from fastapi.testclient import TestClient  # noqa: E402

from m2io.corpus import load_corpus  # noqa: E402
from m2io.demo import corpus_path
from m2io.generators.extractive import ExtractiveGenerator  # noqa: E402
from m2io.index import Index, build_index  # noqa: E402
from m2io.index.source_page import section_anchor  # noqa: E402
from m2io.inserters.anchored import AnchoredInserter  # noqa: E402
from m2io.pipeline import Pipeline  # noqa: E402
from m2io.retrievers.hybrid import HybridRetriever  # noqa: E402
from m2io.serve import create_app  # noqa: E402
from m2io.testing.hash_embedder import HashEmbedder  # noqa: E402

QUESTION = "How can I find the edges of objects in an image?"
WRITE = {"X-M2IO-Write": "1"}
"""The header a keyless upload needs (a cross-site form cannot send it)."""


def index_folder(corpus: Path, out: Path) -> Path:
    """Index the Markdown/HTML folder ``corpus`` into ``out`` with the hash embedder."""
    loaded = load_corpus(corpus, format="folder", exclude=("LICENSE*",))
    build_index(loaded.documents, out, embedder=HashEmbedder(), progress=False, corpus_root=corpus)
    return out


def demo_pipeline(index_dir: Path) -> Pipeline:
    """The default stages over ``index_dir``, with the hash embedder everywhere."""
    emb = HashEmbedder()
    index = Index.open(index_dir, embedder=emb)
    return Pipeline(HybridRetriever(index), ExtractiveGenerator(), AnchoredInserter(embedder=emb))


def demo_copy(tmp: Path) -> tuple[Path, Path]:
    """A writable copy of the demo corpus and its index: (corpus, index)."""
    corpus = tmp / "corpus"
    shutil.copytree(corpus_path(), corpus)
    return corpus, index_folder(corpus, tmp / "index")


def build_app(index_dir: Path, **kwargs):
    return create_app(demo_pipeline(index_dir), index_dir=index_dir, **kwargs)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, Path]:
    return demo_copy(tmp_path_factory.mktemp("serve-demo"))


@pytest.fixture(scope="module")
def client(demo) -> TestClient:
    return TestClient(build_app(demo[1], backends={"inserter": ["none"]}))


def test_answer_gives_text_with_sources_and_images_served_by_this_server(client, demo):
    r = client.post("/v1/answer", json={"question": QUESTION})
    assert r.status_code == 200, r.text
    body = r.json()
    texts = [s for s in body["segments"] if s["type"] == "text"]
    images = [s for s in body["segments"] if s["type"] == "image"]
    assert texts and images
    assert all(1 <= s["source"] <= len(body["sources"]) for s in texts)
    assert set(body["timings_ms"]) >= {"retrieve", "generate", "insert", "merge", "total"}
    for img in images:
        assert 0 <= img["after_sentence"] <= len(texts)
        assert img["url"].startswith("http://testserver/v1/images/")
        got = client.get(img["url"])
        assert got.status_code == 200
        assert got.headers["content-type"] == "image/png"
        assert got.content == (demo[0] / img["image_id"]).read_bytes()
        assert img["url"] in body["markdown"]  # the Markdown points at this server too
    src = body["sources"][0]
    assert src["url"].startswith("http://testserver/v1/sources/")
    page = client.get(src["url"])
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "sandbox" in page.headers["content-security-policy"]
    assert str(demo[0]) not in r.text  # no server path leaks into the answer


def test_a_source_opens_as_a_sanitised_page_at_the_cited_section(tmp_path):
    corpus, _ = demo_copy(tmp_path / "a")
    (corpus / "12-hostile.md").write_text(
        "# Hostile page\n\nIntro text about edge pixels.\n\n## Hidden edges\n\n"
        "Edges <script>alert(1)</script> and <b>bold</b> [link](javascript:alert(2)) stay text.\n\n"
        "![A camera](images/camera.png)\n\nMore about hidden edges and gradients.\n"
    )
    index = index_folder(corpus, tmp_path / "index")
    client = TestClient(build_app(index))
    # (the hash embedder gives no meaning to match: the question names the page by its title)
    question = "What does the hostile page say about hidden edges?"
    body = client.post("/v1/answer", json={"question": question}).json()
    src = next(s for s in body["sources"] if s["doc_id"] == "12-hostile.md")
    url, _, fragment = src["url"].partition("#")
    assert url.endswith("/v1/sources/12-hostile.md") and fragment == section_anchor(src["section"])
    page = client.get(url)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert f'id="{fragment}"' in html  # where the link opens
    assert '<h2 id="hidden-edges">Hidden edges</h2>' in html
    assert "<script" not in html and "<b>" not in html and "Edges " in html
    assert "javascript:" not in html.replace("&lt;", "<").split("<body>")[0]
    img = html.split('<img src="')[1].split('"')[0]
    assert img.startswith("http://testserver/v1/images/")
    assert client.get(img).content == (corpus / "images" / "camera.png").read_bytes()
    csp = page.headers["content-security-policy"]
    assert "script-src" not in csp and "default-src 'none'" in csp and "img-src 'self'" in csp
    assert "# Hostile page" not in html and "![" not in html  # no raw markup shown


def test_answer_takes_per_request_stage_choices(client):
    none = client.post("/v1/answer", json={"question": QUESTION, "inserter": "none"}).json()
    assert not [s for s in none["segments"] if s["type"] == "image"]
    few = client.post("/v1/answer", json={"question": QUESTION, "top_k": 1})
    assert few.status_code == 200


def test_a_per_request_learned_inserter_reads_the_served_corpus_profile(tmp_path):
    from m2io.learned.profile import PROFILE_FILE

    _, index_dir = demo_copy(tmp_path)
    assert not (index_dir / PROFILE_FILE).exists()
    with TestClient(build_app(index_dir, backends={"inserter": ["learned"]})) as c:
        r = c.post("/v1/answer", json={"question": QUESTION, "inserter": "learned"})
    assert r.status_code == 200, r.text
    assert (index_dir / PROFILE_FILE).is_file()  # measured on the served corpus, and kept


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({}, "question"),
        ({"question": ""}, "question"),
        ({"question": "   "}, "question is empty"),
        ({"question": "x" * 5000}, "question"),
        ({"question": "q", "top_k": 0}, "top_k"),
        ({"question": "q", "inserter": "os:system"}, "inserter"),
        ({"question": "q", "colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_422_with_a_message(client, body, where):
    r = client.post("/v1/answer", json=body)
    assert r.status_code == 422
    assert where in r.json()["error"]["message"]


def test_malformed_json_is_422(client):
    r = client.post(
        "/v1/answer", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422
    assert r.json()["error"]["message"]


def test_stream_sends_text_first_then_each_image_then_done(client):
    r = client.post("/v1/answer/stream", json={"question": QUESTION})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    events = [
        (block.split("\n")[0].removeprefix("event: "), json.loads(block.split("\n")[1][6:]))
        for block in r.text.strip().split("\n\n")
    ]
    kinds = [k for k, _ in events]
    assert kinds[0] == "text" and kinds[-1] == "done"
    assert set(kinds[1:-1]) == {"image"}
    done = events[-1][1]
    assert [d for k, d in events if k == "image"] == [
        s for s in done["segments"] if s["type"] == "image"
    ]
    assert events[0][1]["segments"] == [s for s in done["segments"] if s["type"] == "text"]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/images/../../../../etc/passwd",
        "/v1/images/..%2f..%2f..%2fetc%2fpasswd",
        "/v1/images/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/v1/images/%252e%252e%252fetc%252fpasswd",
        "/v1/images/%2fetc%2fpasswd",
        "/v1/images//etc/passwd",
        "/v1/images/images/../01-digital-images-and-pixels.md",
        "/v1/images/images%2f..%2f01-digital-images-and-pixels.md",
        "/v1/images/LICENSE-images.md",
        "/v1/images/images",
        "/v1/images/images/camera.png%00.md",
        "/v1/sources/..%2f..%2fetc%2fpasswd",
        "/v1/sources/%2fetc%2fpasswd",
    ],
)
def test_no_request_path_reaches_the_file_system(client, path):
    # raw paths: the client must not normalise the dot segments away before sending
    r = client.request("GET", "http://testserver" + path)
    assert r.status_code == 404, (path, r.status_code)
    assert r.headers["content-type"] == "application/json"
    assert "root:" not in r.text


def test_image_is_served_only_from_inside_the_corpus(tmp_path):
    corpus, index = demo_copy(tmp_path)
    app = TestClient(build_app(index))
    assert app.get("/v1/images/images%2Fcamera.png").status_code == 200
    # a symlink swapped in after indexing points outside the corpus: refused at the last step
    secret = tmp_path / "secret.png"
    shutil.copy(corpus / "images" / "camera.png", secret)
    (corpus / "images" / "camera.png").unlink()
    (corpus / "images" / "camera.png").symlink_to(secret)
    assert app.get("/v1/images/images%2Fcamera.png").status_code == 404


def test_image_type_comes_from_its_bytes_and_it_caches(tmp_path):
    corpus = tmp_path / "c"
    corpus.mkdir()
    png = (corpus_path() / "images" / "camera.png").read_bytes()
    (corpus / "photo.jpg").write_bytes(png)  # PNG bytes under a .jpg name
    (corpus / "guide.md").write_text(
        "# Guide\n\nThe camera photograph shows a tripod.\n\n![A camera on a tripod](photo.jpg)\n\n"
        "More words about the tripod and the camera follow here.\n"
    )
    client = TestClient(build_app(index_folder(corpus, tmp_path / "i")))
    r = client.get("/v1/images/photo.jpg")
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/png"
    assert "max-age" in r.headers["cache-control"]
    again = client.get("/v1/images/photo.jpg", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


def test_api_key_guards_v1_but_signed_image_urls_load(demo):
    client = TestClient(build_app(demo[1], api_key="s3cret"))
    assert client.get("/health").status_code == 200
    assert client.get("/").status_code == 200
    denied = client.post("/v1/answer", json={"question": QUESTION})
    assert denied.status_code == 401
    assert "API key" in denied.json()["error"]["message"]
    wrong = {"Authorization": "Bearer nope"}
    assert client.post("/v1/answer", json={"question": QUESTION}, headers=wrong).status_code == 401
    assert client.get("/v1/models").status_code == 401
    good = {"Authorization": "Bearer s3cret"}
    body = client.post("/v1/answer", json={"question": QUESTION}, headers=good).json()
    url = next(s["url"] for s in body["segments"] if s["type"] == "image")
    assert "sig=" in url
    assert client.get(url).status_code == 200  # an <img> cannot send the header
    bare = url.split("?")[0]
    assert client.get(bare).status_code == 401
    assert client.get(bare + "?sig=" + "0" * 32).status_code == 401
    assert client.get(bare, headers=good).status_code == 200


def test_request_size_is_limited_with_413(demo):
    client = TestClient(build_app(demo[1], max_request_bytes=2000))
    big = {"question": "edges " * 600}
    r = client.post("/v1/answer", json=big)
    assert r.status_code == 413
    assert "larger than 2000 bytes" in r.json()["error"]["message"]

    def chunks():  # no Content-Length: counted as it streams
        yield b'{"question": "'
        for _ in range(100):
            yield b"edges " * 10
        yield b'"}'

    r = client.post("/v1/answer", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_chat_completions_answers_the_last_user_message_in_markdown(client):
    messages = [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "What is a histogram?"},
        {"role": "assistant", "content": "…"},
        {"role": "user", "content": [{"type": "text", "text": QUESTION}]},
    ]
    r = client.post("/v1/chat/completions", json={"model": "m2io", "messages": messages})
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "chat.completion"
    md = body["choices"][0]["message"]["content"]
    assert "](<http://testserver/v1/images/" in md
    assert "Sources:" in md
    assert client.get("/v1/models").json()["data"][0]["id"] == "m2io"
    bad = client.post(
        "/v1/chat/completions", json={"messages": [{"role": "system", "content": "x"}]}
    )
    assert bad.status_code == 422
    assert client.post("/v1/chat/completions", json={"messages": []}).status_code == 422


def test_docs_and_page_work_offline(client):
    spec = client.get("/openapi.json").json()
    assert {"/v1/answer", "/v1/chat/completions", "/v1/images/{image_id}", "/v1/documents"} <= set(
        spec["paths"]
    )
    for page in ("/docs", "/"):
        r = client.get(page)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert "http://" not in r.text and "https://" not in r.text  # nothing from a CDN
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/..%2fapp.py").status_code == 404


def test_a_pipeline_without_index_still_answers_but_serves_no_files():
    class Fixed:
        def run(self, question):
            from m2io.types import ImageSegment, MultimodalAnswer, TextSegment

            return MultimodalAnswer(
                question,
                (TextSegment("<script>alert(1)</script>", 1), ImageSegment("x.png", 1, "/etc/x")),
            )

    client = TestClient(create_app(Fixed()))
    body = client.post("/v1/answer", json={"question": "q"}).json()
    assert body["segments"][1]["url"] is None
    assert "<script>" not in body["markdown"]
    r = client.post("/v1/documents", files={"files": ("a.md", b"# A")}, headers=WRITE)
    assert r.status_code == 501


def test_added_documents_are_answered_served_and_survive_a_restart(tmp_path):
    corpus, index = demo_copy(tmp_path)
    client = TestClient(build_app(index))
    png = (corpus_path() / "images" / "clock.png").read_bytes()
    doc = (
        "# Zebra crossings\n\nA zebra crossing is painted with wide white stripes on the road.\n\n"
        "![Zebra stripes seen from above](pics/zebra.png)\n\n"
        "Drivers must stop when a pedestrian waits at the zebra crossing.\n"
    )
    r = client.post(
        "/v1/documents",
        files=[
            ("files", ("zebra.md", doc.encode(), "text/markdown")),
            ("files", ("pics/zebra.png", png, "image/png")),
        ],
        headers=WRITE,
    )
    assert r.status_code == 200, r.text
    added = r.json()
    assert added["doc_ids"] and added["images"] >= 1
    question = {"question": "What is painted on a zebra crossing?"}
    body = client.post("/v1/answer", json=question).json()
    assert "zebra" in " ".join(s["text"] for s in body["segments"] if s["type"] == "text").lower()
    assert body["sources"][0]["doc_id"] in added["doc_ids"]
    image = next(s for s in body["segments"] if s["type"] == "image")
    assert client.get(image["url"]).content == png
    restarted = TestClient(build_app(index))  # a new process reads the same folder
    again = restarted.post("/v1/answer", json=question).json()
    assert again["sources"][0]["doc_id"] in added["doc_ids"]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([("files", ("x.png", b"\x89PNG", "image/png"))], "no document"),
        ([("files", ("a/b.md", b"# B", "text/markdown"))], "plain, unique file name"),
        (
            [
                ("files", ("b.md", b"# B", "text/markdown")),
                ("files", ("../x.png", b"x", "image/png")),
            ],
            "without '..'",
        ),
        (
            [
                ("files", ("b.md", b"# B", "text/markdown")),
                ("files", ("/x.png", b"x", "image/png")),
            ],
            "without '..'",
        ),
    ],
)
def test_bad_uploads_are_422(client, files, message):
    r = client.post("/v1/documents", files=files, headers=WRITE)
    assert r.status_code == 422
    assert message in r.json()["error"]["message"]


def test_upload_size_is_limited(demo):
    client = TestClient(build_app(demo[1], max_upload_bytes=10_000))
    r = client.post("/v1/documents", files={"files": ("big.md", b"word " * 5000)}, headers=WRITE)
    assert r.status_code == 413
