from m2io.llm.client import ChatClient
from m2io.singleshot import SingleShotPipeline, parse_inline
from m2io.testing.fake_openai import FakeOpenAIServer
from m2io.types import Candidate, Chunk, ImageRef, Retrieval, RetrievedChunk

CANDS = (Candidate(ImageRef("x1", caption="crop")), Candidate(ImageRef("x2", caption="layers")))


def test_parse_inline_positions_and_problems():
    text = "Select the crop tool. <img1>\nDrag a frame. Press Enter.<img2> <img2> <img7>"
    sents, slots, problems = parse_inline(text, CANDS)
    assert sents == ["Select the crop tool.", "Drag a frame.", "Press Enter."]
    assert [(s.image_id, s.after_sentence) for s in slots] == [("x1", 1), ("x2", 3)]
    assert any("twice" in p for p in problems) and any("<img7>" in p for p in problems)


class _Retriever:
    def retrieve(self, query, top_k=None):
        chunk = Chunk("d#0", "d", "The crop tool removes borders.")
        return Retrieval(query, (RetrievedChunk(chunk, 1.0),), CANDS)


def test_single_shot_pipeline_end_to_end():
    with FakeOpenAIServer(lambda r: "<img1> The crop tool removes borders.") as srv:
        pipe = SingleShotPipeline(_Retriever(), ChatClient(base_url=srv.base_url, model="f"))
        ans = pipe.run("How to crop?")
        assert "<img1> caption: crop" in srv.requests[0]["messages"][1]["content"]
    assert ans.segments[0].type == "image" and ans.segments[0].after_sentence == 0
    assert set(ans.timings_ms) >= {"retrieve", "generate", "total"}
