"""Chat models: the :class:`ChatModel` protocol, its two backends and the one factory.

- :mod:`m2io.llm.base` — the protocol, :class:`ChatResult` and :class:`LLMError`;
- :mod:`m2io.llm.client` — OpenAI-compatible endpoints (streamed, with deadlines);
- :mod:`m2io.llm.local` — a local ``transformers`` model;
- :mod:`m2io.llm.models` — :func:`make_chat_model`, the one place that picks the backend.
"""

from m2io.llm.base import ChatModel, ChatResult, LLMError, Message
from m2io.llm.models import (
    BACKENDS,
    ChatModelSpec,
    LazyChatModel,
    choose_backend,
    is_local_model,
    make_chat_model,
)

__all__ = [
    "BACKENDS",
    "ChatModel",
    "ChatModelSpec",
    "ChatResult",
    "LLMError",
    "LazyChatModel",
    "Message",
    "choose_backend",
    "is_local_model",
    "make_chat_model",
]
