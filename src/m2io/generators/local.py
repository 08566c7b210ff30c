"""Text stage backed by a local ``transformers`` model (no server, no API key).

Same prompt as the OpenAI generator (:mod:`m2io.generators.prompts`: numbered excerpts, ``[n]``
citations read back into each sentence's source), run in-process through
:class:`~m2io.llm.local.LocalChatModel` (loaded on the first question). Registered as generator
``"local"``::

    generator: {name: local, model: smollm2-135m, max_tokens: 200}
"""

from __future__ import annotations

from m2io.generators.prompts import ChatGenerator
from m2io.llm.base import ChatModel
from m2io.llm.models import ChatModelSpec, make_chat_model


class LocalGenerator(ChatGenerator):
    """Writes the answer with a local chat model over the retrieved excerpts.

    Args:
        model: Hub id (needs the hub or its cache), local model folder, or ``"smollm2-135m"``.
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"mps"``.
        temperature: Sampling temperature (0 = greedy).
        max_tokens: Answer length cap.
        max_context_chars: Excerpt text kept in the prompt (small models have short contexts).
        num_threads: CPU threads for torch (process-wide).
        cache_dir: Where ``"smollm2-135m"`` is converted (default ``~/.cache/m2io``).
        client: A ready :class:`~m2io.llm.base.ChatModel` (any backend); overrides ``model``.

    Example (loads the model on the first call)::

        gen = LocalGenerator(model="smollm2-135m")
        gen.generate("How do I crop?", retrieval).text
    """

    _label = "local"

    def __init__(
        self,
        *,
        model: str = "smollm2-135m",
        device: str = "auto",
        temperature: float = 0.0,
        max_tokens: int = 300,
        max_context_chars: int = 4000,
        num_threads: int | None = None,
        cache_dir: str | None = None,
        client: ChatModel | None = None,
    ) -> None:
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
        if max_context_chars < 100:
            raise ValueError(f"max_context_chars must be >= 100, got {max_context_chars}")
        self.model = model
        self.device = device
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.max_context_chars = max_context_chars
        self.num_threads = num_threads
        self.cache_dir = cache_dir
        local = {"device": device, "num_threads": num_threads, "cache_dir": cache_dir}
        spec = ChatModelSpec(model=model, backend="local", **local)
        self._chat: ChatModel = client or make_chat_model(spec, lazy=True)
        self._client = client  # as given, for the recipe (None = built here)
