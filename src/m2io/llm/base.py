"""The chat-model seam: the one protocol every LLM-backed stage talks to.

The OpenAI generator, the local generator, the LLM inserter, Single-Shot and the judge each hold a
:class:`ChatModel` and call only its ``chat`` method, so an OpenAI-compatible endpoint
(:class:`~m2io.llm.client.ChatClient`), a local ``transformers`` model
(:class:`~m2io.llm.local.LocalChatModel`) or a scripted fake in a test are interchangeable. Which
backend a configuration means is decided in one place, :func:`m2io.llm.models.make_chat_model`
(see docs/design.md, "The spine" and "Hostile input", rule 6).

A backend reports every failure (unreachable, timed out, a reply that is not a chat completion,
a model that cannot load or generate) as :class:`LLMError`; the stages catch it, fall back and say
so in their notes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Protocol

from m2io.types import Usage

Message = dict[str, Any]
"""One chat message: ``{"role": ..., "content": str | list of content parts}``."""


class LLMError(RuntimeError):
    """The model could not be reached, timed out, or answered something unusable.

    Attributes:
        partial: Text the model had streamed before the failure (kept for the record).
        timed_out: True when a timeout or the deadline ended the call.
        public: A short account that is safe to show a client (no URLs, no raw error text);
            the message itself is for the log. Defaults to "timed out" or "the model call
            failed".
    """

    def __init__(
        self, message: str, *, partial: str = "", timed_out: bool = False, public: str = ""
    ) -> None:
        super().__init__(message)
        self.partial = partial
        self.timed_out = timed_out
        self.public = public or ("timed out" if timed_out else "the model call failed")


@dataclass(frozen=True)
class ChatResult:
    """One reply: its text, token usage, the model that wrote it and how it ended.

    ``finish_reason`` is the backend's (``"stop"``, ``"length"``, ...) or None when not reported;
    ``notes`` lists what went wrong on the way without losing the reply (retries, odd usage).
    """

    text: str
    usage: Usage
    model: str
    finish_reason: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def truncated(self) -> bool:
        """True when the reply stopped at ``max_tokens``."""
        return self.finish_reason == "length"


class ChatModel(Protocol):
    """Anything that answers chat messages.

    Example:
        >>> class Echo:
        ...     def chat(self, messages, *, temperature=0.0, max_tokens=None):
        ...         return ChatResult(messages[-1]["content"], Usage(), "echo")
        >>> Echo().chat([{"role": "user", "content": "Hi"}]).text
        'Hi'
    """

    def chat(
        self,
        messages: list[Message],
        *,
        temperature: float = 0.0,
        max_tokens: int | None = None,
    ) -> ChatResult:
        """One reply to ``messages``; greedy at ``temperature`` 0.

        Raises:
            LLMError: The backend failed; the caller falls back and says so.
        """
        ...


class ChatBackend(ABC):
    """Base of the chat models m2io ships (:class:`~m2io.llm.client.ChatClient`,
    :class:`~m2io.llm.local.LocalChatModel`): :meth:`ChatModel.chat` is answered by ``_reply``."""

    def chat(
        self,
        messages: list[Message],
        *,
        temperature: float = 0.0,
        max_tokens: int | None = None,
    ) -> ChatResult:
        """One reply to ``messages`` (see :meth:`ChatModel.chat`)."""
        return self._reply(messages, temperature, max_tokens)

    @abstractmethod
    def _reply(
        self, messages: list[Message], temperature: float, max_tokens: int | None
    ) -> ChatResult:
        """The backend's reply; raises :class:`LLMError` when the backend fails."""
