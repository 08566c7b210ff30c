"""Text stage backed by any OpenAI-compatible chat endpoint (OpenAI, vLLM, Ollama, llama.cpp)."""

from __future__ import annotations

from m2io.generators.prompts import attribute, chat_answer
from m2io.llm.client import ChatClient
from m2io.types import Retrieval, TextAnswer

__all__ = ["OpenAIGenerator", "attribute"]


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
        return chat_answer(
            self.client,
            question,
            retrieval,
            label="openai",
            temperature=self.temperature,
            max_tokens=self.max_tokens,
        )
