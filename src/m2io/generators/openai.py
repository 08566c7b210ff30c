"""Text stage backed by any OpenAI-compatible chat endpoint (OpenAI, vLLM, Ollama, llama.cpp)."""

from __future__ import annotations

from m2io.generators.prompts import ChatGenerator, attribute
from m2io.llm.base import ChatModel
from m2io.llm.models import ChatModelSpec, make_chat_model

__all__ = ["OpenAIGenerator", "attribute"]


class OpenAIGenerator(ChatGenerator):
    """Writes the answer with one chat call over the retrieved excerpts.

    Args:
        model: Model name on the endpoint.
        base_url: Endpoint root (``.../v1``); default OpenAI (the command line fills in
            ``$OPENAI_BASE_URL``).
        api_key_env: Environment variable with the API key (optional for local servers).
        temperature: Sampling temperature.
        max_tokens: Answer length cap.
        idle_timeout: Seconds to wait for the next bytes once tokens flow.
        first_token_timeout: Seconds to wait for the first token, the server's reading of the
            prompt included (default ``max(90, idle_timeout)``: a 2,000-token prompt takes
            ~45 s on a 2-core CPU llama.cpp server before anything is sent).
        deadline: Seconds for the whole call, retries included (``timeout`` is its older name).
        context_tokens: The model's context size in tokens; default: what the server says
            (llama.cpp ``/props``, Ollama ``/api/show``). The excerpts are trimmed, lowest
            ranked first, so the prompt and ``max_tokens`` fit it.
        max_context_chars: Excerpt text kept in the prompt at most.
        max_retries: Extra attempts after a connection failure or HTTP 429/503 (a request the
            server may still be computing is never sent again).
        client: A ready :class:`~m2io.llm.base.ChatModel` (any backend); overrides the
            endpoint arguments.

    The model sees the assembled context as excerpts numbered ``[1]..[n]`` (title and section
    named) and is told to cite them; each ``[n]`` is stripped from the answer and becomes the
    sentence's :class:`~m2io.types.Source` (an uncited sentence has none). A failed call
    (unreachable, timed out, malformed reply) falls back to the extractive answer with a note; a
    reply cut at ``max_tokens`` is kept with a note.

    Example (an Ollama server on this machine)::

        gen = OpenAIGenerator(model="qwen2.5:3b", base_url="http://localhost:11434/v1")
        gen.generate("How do I crop?", retrieval).text
    """

    _label = "openai"

    def __init__(
        self,
        *,
        model: str = "gpt-4o-mini",
        base_url: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        temperature: float = 0.0,
        max_tokens: int = 400,
        idle_timeout: float = 30.0,
        first_token_timeout: float | None = None,
        deadline: float = 180.0,
        context_tokens: int | None = None,
        max_context_chars: int = 6000,
        timeout: float | None = None,
        max_retries: int = 2,
        client: ChatModel | None = None,
    ) -> None:
        spec = ChatModelSpec(
            model=model,
            backend="openai",
            base_url=base_url,
            api_key_env=api_key_env,
            max_retries=max_retries,
            idle_timeout=idle_timeout,
            first_token_timeout=first_token_timeout,
            context_tokens=context_tokens,
            deadline=timeout if timeout is not None else deadline,
        )
        self._chat: ChatModel = client or make_chat_model(spec)
        # every option as given, for the recipe (Pipeline.to_config); client None = built here
        self._client = client
        self.model = model
        self.base_url = base_url
        self.api_key_env = api_key_env
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.idle_timeout = idle_timeout
        self.first_token_timeout = first_token_timeout
        self.context_tokens = context_tokens
        self.max_context_chars = max_context_chars
        self.deadline = deadline
        self.timeout = timeout
        self.max_retries = max_retries
