from m2io.generators.extractive import ExtractiveGenerator
from m2io.generators.openai import OpenAIGenerator
from m2io.testing.fake_openai import FakeOpenAIServer
from m2io.types import Chunk, Retrieval, RetrievedChunk


def _retrieval(*texts: str) -> Retrieval:
    chunks = tuple(
        RetrievedChunk(Chunk(f"d{i}#0", f"d{i}", t, title=f"Doc {i}"), score=1.0 / (i + 1))
        for i, t in enumerate(texts)
    )
    return Retrieval("q", chunks, ())


CROP = (
    "The Crop tool is used to remove the edges of an image. "
    "You can crop an image by dragging a rectangle over the part to keep. "
    "Press Enter to apply the crop. "
    "The options dialog lets you fix the aspect ratio."
)
LAYERS = "Layers are stacked like transparent sheets. Each layer has an opacity."
OTHER = "The print dialog sends the image to a printer. Paper size is chosen here."


def test_extractive_answers_from_the_relevant_chunk_not_the_first():
    gen = ExtractiveGenerator(max_words=60)
    ans = gen.generate("How do I crop an image?", _retrieval(OTHER, CROP, LAYERS))
    text = ans.text
    assert "crop an image by dragging" in text
    assert ans.sentences[0].source_chunk_id == "d1#0"
    assert all(s.source_chunk_id for s in ans.sentences)
    assert "printer" not in text


def test_extractive_keeps_source_order_and_budget():
    gen = ExtractiveGenerator(max_words=25)
    ans = gen.generate("crop aspect ratio", _retrieval(CROP))
    assert sum(len(s.text.split()) for s in ans.sentences) <= 25
    positions = [CROP.index(s.text) for s in ans.sentences]
    assert positions == sorted(positions)


def test_extractive_reports_empty_retrieval():
    ans = ExtractiveGenerator().generate("anything", Retrieval("anything", (), ()))
    assert ans.sentences == ()
    assert ans.notes


def test_openai_generator_against_scripted_server():
    def responder(req):
        assert "Crop tool" in req["messages"][1]["content"]
        return "Use the Crop tool. Drag a rectangle and press Enter."

    with FakeOpenAIServer(responder, fail_first=1) as srv:
        gen = OpenAIGenerator(model="fake", base_url=srv.base_url, max_retries=2)
        ans = gen.generate("How do I crop?", _retrieval(CROP, LAYERS))
    assert [s.text for s in ans.sentences] == [
        "Use the Crop tool.",
        "Drag a rectangle and press Enter.",
    ]
    assert ans.sentences[0].source_chunk_id == "d0#0"
    assert ans.usage.completion_tokens > 0
    assert len(srv.requests) == 2  # one scripted 503, then success


def test_openai_generator_falls_back_and_says_so_when_the_server_is_down():
    with FakeOpenAIServer(lambda r: "x", fail_first=10) as srv:
        gen = OpenAIGenerator(model="fake", base_url=srv.base_url, max_retries=1, timeout=5)
        ans = gen.generate("How do I crop an image?", _retrieval(CROP))
    assert ans.sentences, "the answer text must not be lost"
    assert any("fell back" in n for n in ans.notes)
