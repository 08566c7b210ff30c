"""One factory for chat models: an OpenAI-compatible endpoint or a local ``transformers`` model.

Every stage that talks to a model describes it with a :class:`ChatModelSpec` and gets a
:class:`~m2io.llm.base.ChatModel` from :func:`make_chat_model`. Whether that is an endpoint
client or a local model is decided here and nowhere else (:func:`choose_backend`):

1. ``backend`` given: it wins;
2. else a ``base_url`` means the endpoint (``"openai"``);
3. else a model that names a local model — a folder that exists, or ``smollm2-135m`` — is
   ``"local"``;
4. else the caller's default: ``"openai"`` for the ``llm`` section, the OpenAI generator and the
   judge; ``"local"`` for the LLM inserter (a hub id loads through ``transformers``).

Example:
    >>> spec = ChatModelSpec(model="qwen2.5:3b", base_url="http://localhost:11434/v1")
    >>> spec.backend_for("local")
    'openai'
    >>> ChatModelSpec(model="smollm2-135m").backend_for("openai")
    'local'
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from m2io.llm.base import ChatModel, ChatResult, Message
from m2io.llm.client import ChatClient
from m2io.llm.local import DEVICES, LocalChatModel
from m2io.llm.smollm2 import ALIASES

Backend = Literal["openai", "local"]
BACKENDS: tuple[Backend, ...] = ("openai", "local")
DEFAULT_MODEL = "gpt-4o-mini"
LOCAL_FIELDS = (
    "device",
    "dtype",
    "max_input_tokens",
    "trust_remote_code",
    "num_threads",
    "cache_dir",
)
"""The :class:`ChatModelSpec` fields a :class:`~m2io.llm.local.LocalChatModel` takes (by name)."""


def is_local_model(model: object) -> bool:
    """True for ``smollm2-135m`` (and its aliases) and for a path that exists."""
    return (
        isinstance(model, str)
        and bool(model)
        and (model.lower() in ALIASES or Path(model).exists())
    )


def choose_backend(
    model: object, base_url: str | None = None, backend: str | None = None, *, default: Backend
) -> Backend:
    """The backend a model description means (the rules are in the module docstring).

    Raises:
        ValueError: ``backend`` is neither ``"openai"`` nor ``"local"``.
    """
    if backend is not None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be 'openai' or 'local', got {backend!r}")
        return backend  # type: ignore[return-value]
    if base_url:
        return "openai"
    if is_local_model(model):
        return "local"
    return default


@dataclass(frozen=True)
class ChatModelSpec:
    """What a chat model is: the union of the endpoint's and the local model's settings.

    Attributes:
        model: Model name on the endpoint, or a local model folder / hub id / ``smollm2-135m``.
        backend: ``"openai"``, ``"local"`` or None (decided by :func:`choose_backend`).
        base_url: Endpoint root (``…/v1``); default OpenAI's (the command line fills in
            ``$OPENAI_BASE_URL``).
        api_key_env: Environment variable holding the API key (endpoint).
        idle_timeout: Seconds to wait for the next bytes once tokens flow (endpoint).
        first_token_timeout: Seconds to wait for the first token, prompt reading included
            (endpoint; default ``max(90, idle_timeout)``).
        deadline: Seconds for a whole call, retries included (endpoint; default 180).
        context_tokens: The model's context size (endpoint; default: asked from the server,
            see :mod:`m2io.llm.window`); prompts are fitted to it.
        timeout: Older name of ``deadline``.
        connect_timeout: Seconds to open a connection (endpoint).
        max_retries: Extra attempts after a connection failure or HTTP 429/503 (endpoint).
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"mps"`` (local).
        dtype: ``"auto"`` or a torch dtype name (local).
        num_threads: CPU threads for torch, process-wide (local).
        max_input_tokens: Prompt length cap (local).
        trust_remote_code: Passed to ``from_pretrained`` (local).
        cache_dir: Where ``smollm2-135m`` is converted (local; default ``~/.cache/m2io``).
    """

    model: str = DEFAULT_MODEL
    backend: Backend | None = None
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    idle_timeout: float = 30.0
    first_token_timeout: float | None = None
    context_tokens: int | None = None
    deadline: float | None = None
    timeout: float | None = None
    connect_timeout: float = 10.0
    max_retries: int = 2
    device: str = "auto"
    dtype: str = "auto"
    num_threads: int | None = None
    max_input_tokens: int = 4096
    trust_remote_code: bool = False
    cache_dir: str | None = None

    def __post_init__(self) -> None:
        if self.backend is not None and self.backend not in BACKENDS:
            raise ValueError(f"backend must be 'openai' or 'local', got {self.backend!r}")
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {self.device!r}")

    def backend_for(self, default: Backend) -> Backend:
        """``"openai"`` or ``"local"``: what this spec means for a caller whose default is
        ``default``."""
        return choose_backend(self.model, self.base_url, self.backend, default=default)


def make_chat_model(
    spec: ChatModelSpec, *, default: Backend = "openai", lazy: bool = False
) -> ChatModel:
    """The chat model ``spec`` describes.

    Args:
        spec: The model.
        default: The backend when the spec does not say (see :func:`choose_backend`).
        lazy: Load a local model on its first call instead of now (an endpoint client is
            cheap and always built at once, so bad timeouts fail early).
    """
    if spec.backend_for(default) == "openai":
        return ChatClient(
            base_url=spec.base_url,
            model=spec.model,
            api_key_env=spec.api_key_env,
            max_retries=spec.max_retries,
            idle_timeout=spec.idle_timeout,
            first_token_timeout=spec.first_token_timeout,
            context_tokens=spec.context_tokens,
            deadline=spec.deadline if spec.deadline is not None else spec.timeout,
            connect_timeout=spec.connect_timeout,
        )

    def load() -> LocalChatModel:
        return LocalChatModel(spec.model, **{k: getattr(spec, k) for k in LOCAL_FIELDS})

    return LazyChatModel(load) if lazy else load()


class LazyChatModel:
    """A chat model built by ``load`` on the first call (a local model takes seconds to load).

    Args:
        load: Builds the model; called once, under a lock.
    """

    def __init__(self, load: Callable[[], ChatModel]) -> None:
        self._load = load
        self._model: ChatModel | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> ChatModel:
        """The model, loaded now if it was not yet."""
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    @property
    def is_loaded(self) -> bool:
        return self._model is not None

    def chat(
        self, messages: list[Message], *, temperature: float = 0.0, max_tokens: int | None = None
    ) -> ChatResult:
        return self.loaded.chat(messages, temperature=temperature, max_tokens=max_tokens)

    def close(self) -> None:
        close: Any = getattr(self._model, "close", None)
        if close is not None:
            close()
