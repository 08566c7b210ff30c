"""The paper's image inserter: an (M)LLM reads the numbered answer and the candidates and answers
``<think>…</think><answer>{"<img2>": 1}</answer>`` (M2IO-R1, arXiv 2508.06328).

Backends: any :class:`~m2io.llm.base.ChatModel` — an OpenAI-compatible endpoint (vLLM, Ollama,
llama.cpp server, OpenAI) or a local ``transformers`` model, including a folder written by
``m2io train sft`` / ``m2io train grpo``; :func:`m2io.llm.models.make_chat_model` picks which from
the arguments (see docs/design.md, "The spine"). The output is read by the shared protocol parser
(:func:`m2io.protocol.parse_placement_output`), the same one the GRPO format reward uses.

A format error or a backend failure never loses the answer: the placement comes from the
fallback inserter (the Rule-Based one by default), ``format_ok`` is False and ``notes`` says why.
Near-misses the parser can repair (a code fence, single quotes, ``img2`` for ``<img2>``) keep the
model's placement, still with ``format_ok`` False and the repairs listed in ``notes``. The model's
raw reply (or what it streamed before a timeout) is kept in ``Placement.raw`` either way.
"""

from __future__ import annotations

import logging
from typing import Literal

from m2io.inserters.base import INSERTERS, Inserter
from m2io.inserters.prompt import (
    build_inserter_messages,
    candidate_pairs,
    candidate_tags,
    load_images,
    to_openai_content,
)
from m2io.llm.base import ChatModel, LLMError, Message
from m2io.llm.models import ChatModelSpec, make_chat_model
from m2io.llm.notes import FELL_BACK, TRUNCATED
from m2io.protocol import parse_placement_output
from m2io.types import Candidate, Placement, Slot, TextAnswer, Usage

log = logging.getLogger(__name__)


class LLMInserter:
    """Place images with one LLM call per answer.

    Args:
        model: Model name on the endpoint (openai backend) or a local model folder / hub id /
            ``"smollm2-135m"`` (local backend).
        base_url: OpenAI-compatible endpoint root (``…/v1``); giving it selects the openai backend.
        backend: ``"openai"`` or ``"local"``; default: openai if ``base_url`` is given, else local
            (:func:`m2io.llm.models.choose_backend`).
        with_images: Show the model the candidates' pixels (vision models only): data-URI
            ``image_url`` parts for openai, PIL images for a local VL model.
        with_context: Show each candidate's source context next to its caption, when known.
        temperature: Sampling temperature (0 = greedy).
        max_tokens: Cap on the reply's length.
        fallback: Inserter used when the output cannot be used (a registered name, e.g.
            ``"rule"`` or ``"none"``).
        repair: Keep a near-miss output's recovered placement (True) or fall back on any format
            error (False).
        api_key_env, max_retries: For the openai backend (retries only where nothing can still
            be running on the server: connection failures, HTTP 429/503).
        idle_timeout, first_token_timeout, deadline: For the openai backend: seconds to wait for
            the next bytes once tokens flow, for the first token (the prompt's reading
            included), and for the whole call (``timeout`` is the older name of ``deadline``).
        device: For the local backend (``"auto"``, ``"cpu"``, ``"cuda"``).
        num_threads: For the local backend on CPU: torch threads (process-wide).
        cache_dir: For the local backend: where ``"smollm2-135m"`` is converted (default
            ``~/.cache/m2io``).
        client: A ready :class:`~m2io.llm.base.ChatModel`; overrides ``model``/``base_url``
            (``backend`` still says how images are sent: data URIs for openai, PIL otherwise).

    Example (a vLLM server on this machine)::

        ins = LLMInserter(model="Qwen/Qwen2.5-VL-3B-Instruct",
                          base_url="http://localhost:8000/v1", with_images=True)
        ins.insert(answer, retrieval.candidates).as_dict()  # {'img_12': 1}
    """

    def __init__(
        self,
        *,
        model: str | None = None,
        base_url: str | None = None,
        backend: Literal["openai", "local"] | None = None,
        with_images: bool = False,
        with_context: bool = True,
        temperature: float = 0.0,
        max_tokens: int = 256,
        fallback: str = "rule",
        repair: bool = True,
        api_key_env: str = "OPENAI_API_KEY",
        idle_timeout: float = 30.0,
        first_token_timeout: float | None = None,
        deadline: float = 120.0,
        timeout: float | None = None,
        max_retries: int = 1,
        device: str = "auto",
        num_threads: int | None = None,
        cache_dir: str | None = None,
        client: ChatModel | None = None,
    ) -> None:
        spec = ChatModelSpec(
            model=model or "",
            backend=backend,
            base_url=base_url,
            api_key_env=api_key_env,
            max_retries=max_retries,
            idle_timeout=idle_timeout,
            first_token_timeout=first_token_timeout,
            deadline=timeout if timeout is not None else deadline,
            device=device,
            num_threads=num_threads,
            cache_dir=cache_dir,
        )
        if client is None and not model:
            raise ValueError(
                "LLMInserter needs model= (a name on the endpoint, a local model folder, or "
                "'smollm2-135m')"
            )
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
        if fallback == "llm":
            raise ValueError("fallback cannot be 'llm' itself")
        self._fallback_cls = INSERTERS.get(fallback)  # fails early on an unknown name
        self._fallback: Inserter | None = None
        self.fallback_name = self.fallback = fallback
        self.model = model
        self.base_url = base_url
        self.backend = spec.backend_for("local")
        self.with_images = with_images
        self.with_context = with_context
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.repair = repair
        self.api_key_env = api_key_env
        self.idle_timeout = idle_timeout
        self.first_token_timeout = first_token_timeout
        self.deadline = deadline
        self.timeout = timeout
        self.max_retries = max_retries
        self.device = device
        self.num_threads = num_threads
        self.cache_dir = cache_dir
        # a local model loads on the first answer
        self._chat: ChatModel = client or make_chat_model(spec, default="local", lazy=True)
        self._client = client  # as given, for the recipe (None = built here)

    @property
    def client(self) -> ChatModel:
        """The chat model that places the images (the one passed in, or built from the spec)."""
        return self._chat

    @property
    def fallback_inserter(self) -> Inserter:
        """The inserter that places the images when the model's reply is unusable."""
        if self._fallback is None:
            self._fallback = self._fallback_cls()
        return self._fallback

    def messages(self, answer: TextAnswer, candidates: tuple[Candidate, ...]) -> list[Message]:
        """The chat messages sent for this answer (see :mod:`m2io.inserters.prompt`)."""
        images = load_images(candidates) if self.with_images else None
        msgs = build_inserter_messages(
            answer.question,
            [s.text for s in answer.sentences],
            candidate_pairs(candidates),
            with_context=self.with_context,
            images=images,
        )
        if images is not None and self.backend == "openai":
            msgs = to_openai_content(msgs)
        return msgs

    def insert(self, answer: TextAnswer, candidates: tuple[Candidate, ...]) -> Placement:
        if not answer.sentences or not candidates:
            return Placement()
        try:
            result = self.client.chat(
                self.messages(answer, candidates),
                temperature=self.temperature,
                max_tokens=self.max_tokens,
            )
        except LLMError as err:
            log.warning("llm inserter backend failed: %s", err)
            return self._fall_back(
                answer,
                candidates,
                f"llm inserter: backend failed ({err.public})",
                raw=err.partial or None,
            )
        tags = candidate_tags(len(candidates))
        parsed = parse_placement_output(result.text, tags, len(answer.sentences))
        notes = tuple(f"llm inserter: {n}" for n in result.notes)
        if result.truncated:
            notes += (f"llm inserter: reply {TRUNCATED} ({self.max_tokens})",)
        notes += tuple(f"llm inserter format: {e}" for e in parsed.errors)
        usable = parsed.format_ok or (self.repair and bool(parsed.mapping))
        if not usable:
            return self._fall_back(
                answer,
                candidates,
                "llm inserter: output did not follow the protocol",
                raw=result.text,
                usage=result.usage,
                extra=notes,
            )
        by_tag = {t: c.image_id for t, c in zip(tags, candidates, strict=True)}
        slots: list[Slot] = []
        seen: set[str] = set()
        order = sorted(enumerate(parsed.mapping.items()), key=lambda t: (t[1][1], t[0]))
        for _, (name, sentence) in order:
            image_id = by_tag[name]
            if image_id not in seen:  # the same image offered twice under two tags
                seen.add(image_id)
                slots.append(Slot(image_id, sentence))
        if not parsed.format_ok:
            notes = (*notes, "llm inserter: near-miss output repaired; placement kept")
        return Placement(
            slots=tuple(slots),
            format_ok=parsed.format_ok,
            notes=notes,
            raw=result.text,
            usage=result.usage,
        )

    def _fall_back(
        self,
        answer: TextAnswer,
        candidates: tuple[Candidate, ...],
        why: str,
        *,
        raw: str | None,
        usage: Usage | None = None,
        extra: tuple[str, ...] = (),
    ) -> Placement:
        placed = self.fallback_inserter.insert(answer, candidates)
        return Placement(
            slots=placed.slots,
            format_ok=False,
            notes=(
                *extra,
                f"{why}; {FELL_BACK} to the {self.fallback_name} inserter",
                *placed.notes,
            ),
            raw=raw,
            usage=usage or Usage(),
        )
