from builders import CROP_CANDS, FixedRetriever, retrieval

from m2io.llm.client import ChatClient
from m2io.singleshot import SingleShotPipeline, parse_inline
from m2io.testing.fake_openai import FakeOpenAIServer

CANDS = CROP_CANDS


def test_parse_inline_positions_and_problems():
    text = "Select the crop tool. <img1>\nDrag a frame. Press Enter.<img2> <img2> <img7>"
    sents, slots, problems = parse_inline(text, CANDS)
    assert sents == ["Select the crop tool.", "Drag a frame.", "Press Enter."]
    assert [(s.image_id, s.after_sentence) for s in slots] == [("x1", 1), ("x2", 3)]
    assert any("twice" in p for p in problems) and any("<img7>" in p for p in problems)


def test_single_shot_pipeline_end_to_end():
    with FakeOpenAIServer(lambda r: "<img1> The crop tool removes borders.") as srv:
        pipe = SingleShotPipeline(
            FixedRetriever(retrieval("", "The crop tool removes borders.", cands=CANDS)),
            ChatClient(base_url=srv.base_url, model="f"),
        )
        ans = pipe.run("How to crop?")
        assert "<img1> caption: crop" in srv.requests[0]["messages"][1]["content"]
    assert ans.segments[0].type == "image" and ans.segments[0].after_sentence == 0
    assert set(ans.timings_ms) >= {"retrieve", "generate", "total"}
