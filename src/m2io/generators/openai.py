"""Text stage backed by any OpenAI-compatible chat endpoint (OpenAI, vLLM, Ollama, llama.cpp)."""

from __future__ import annotations

from m2io.generators.extractive import terms
from m2io.generators.prompts import SYSTEM, context_block
from m2io.llm.client import ChatClient, LLMError
from m2io.text import split_sentences
from m2io.types import Retrieval, Sentence, TextAnswer


class OpenAIGenerator:
    """Writes the answer with one chat call over the retrieved excerpts.

    Args:
        model: Model name on the endpoint.
        base_url: Endpoint root (``.../v1``); default ``$OPENAI_BASE_URL`` or OpenAI.
        api_key_env: Environment variable with the API key (optional for local servers).
        temperature: Sampling temperature.
        max_tokens: Answer length cap.
        timeout: Seconds per request; ``max_retries`` extra attempts on 429/5xx/network errors.

    Example:
        >>> gen = OpenAIGenerator(model="qwen2.5:3b", base_url="http://localhost:11434/v1")
    """

    def __init__(
        self,
        *,
        model: str = "gpt-4o-mini",
        base_url: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        temperature: float = 0.0,
        max_tokens: int = 400,
        timeout: float = 60.0,
        max_retries: int = 2,
        client: ChatClient | None = None,
    ) -> None:
        self.client = client or ChatClient(
            base_url=base_url,
            model=model,
            api_key_env=api_key_env,
            timeout=timeout,
            max_retries=max_retries,
        )
        self.temperature = temperature
        self.max_tokens = max_tokens

    def generate(self, question: str, retrieval: Retrieval) -> TextAnswer:
        messages = [
            {"role": "system", "content": SYSTEM},
            {
                "role": "user",
                "content": f"Excerpts:\n{context_block(retrieval)}\n\nQuestion: {question}\nAnswer:",
            },
        ]
        try:
            result = self.client.chat(
                messages, temperature=self.temperature, max_tokens=self.max_tokens
            )
        except LLMError as err:
            from m2io.generators.extractive import ExtractiveGenerator

            fallback = ExtractiveGenerator().generate(question, retrieval)
            note = f"openai generator failed ({err}); fell back to the extractive answer"
            return TextAnswer(question, fallback.sentences, notes=(*fallback.notes, note))
        sentences = tuple(
            Sentence(s, attribute(s, retrieval)) for s in split_sentences(result.text.strip())
        )
        notes = () if sentences else ("openai generator returned an empty answer",)
        return TextAnswer(question, sentences, usage=result.usage, notes=notes)


def attribute(sentence: str, retrieval: Retrieval) -> str | None:
    """The retrieved chunk sharing most content words with ``sentence`` (None if none share any)."""
    words = set(terms(sentence))
    best, best_overlap = None, 0
    for rc in retrieval.chunks:
        overlap = len(words & set(terms(rc.chunk.text)))
        if overlap > best_overlap:
            best, best_overlap = rc.chunk.chunk_id, overlap
    return best
