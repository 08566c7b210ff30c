"""A local ``transformers`` chat backend: a :class:`~m2io.llm.base.ChatModel` in-process.

``LocalChatModel(model).chat(messages, temperature=..., max_tokens=...) -> ChatResult`` runs the
model in-process, so every stage that takes a chat client (LLM inserter, local generator) works
without a server. What it loads, from a hub id (needs the hub or its cache), a local folder, or
``"smollm2-135m"`` (see :mod:`m2io.llm.smollm2`):

- a text-only causal LM (Llama, Qwen2, SmolLM2, ...): prompts go through the tokenizer's chat
  template; image parts in messages are dropped (with a warning once);
- a vision-language model with a processor (Qwen2.5-VL style: ``preprocessor_config.json`` in the
  folder): messages go through ``AutoProcessor.apply_chat_template`` and images are passed as PIL;
- a PEFT/LoRA adapter folder (``adapter_config.json``, e.g. an intermediate training checkpoint):
  the base model named in it is loaded and the adapter merged.

Example::

    llm = LocalChatModel("smollm2-135m")
    llm.chat([{"role": "user", "content": "Hi"}], max_tokens=20).text
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

from m2io.llm.base import ChatBackend, ChatResult, LLMError, Message
from m2io.registry import require
from m2io.types import Usage

log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda", "mps")


def _is_vision_folder(path: Path) -> bool:
    return (path / "preprocessor_config.json").exists() or (path / "processor_config.json").exists()


def text_only(messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """Messages with list contents flattened to their text parts; returns the dropped image count."""
    dropped = 0
    out = []
    for m in messages:
        content = m.get("content", "")
        if isinstance(content, list):
            texts = []
            for p in content:
                if p.get("type") == "text":
                    texts.append(str(p.get("text", "")))
                else:
                    dropped += 1
            content = "\n".join(texts)
        out.append({"role": m["role"], "content": content})
    return out, dropped


class LocalChatModel(ChatBackend):
    """Chat with a local ``transformers`` model.

    Args:
        model: Hub id, local model folder (plain, LoRA adapter, or VL with processor), or
            ``"smollm2-135m"``.
        device: ``"auto"`` (CUDA if available, else CPU), ``"cpu"``, ``"cuda"`` or ``"mps"``.
        dtype: ``"auto"`` (bfloat16 on CUDA, float32 on CPU), or a torch dtype name.
        max_input_tokens: Prompts longer than this are cut from the left of the user text
            (keeping the chat template's ending), with a warning.
        trust_remote_code: Passed to ``from_pretrained``.
        num_threads: CPU threads for torch (process-wide: ``torch.set_num_threads``); on a
            small, busy machine 1 thread is often faster than oversubscribing the cores.
        cache_dir: Where ``"smollm2-135m"`` is converted (default ``~/.cache/m2io``; the
            command line passes ``$M2IO_CACHE``), see :mod:`m2io.llm.smollm2`.
    """

    def __init__(
        self,
        model: str,
        *,
        device: str = "auto",
        dtype: str = "auto",
        max_input_tokens: int = 4096,
        trust_remote_code: bool = False,
        num_threads: int | None = None,
        cache_dir: str | None = None,
    ) -> None:
        if not model:
            raise ValueError("model must be a model folder, hub id or 'smollm2-135m'")
        if device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
        if max_input_tokens < 16:
            raise ValueError(f"max_input_tokens must be >= 16, got {max_input_tokens}")
        from m2io.llm.smollm2 import resolve_model

        self.name = model
        self.cache_dir = cache_dir
        self.path = resolve_model(model, cache_dir)
        self.max_input_tokens = max_input_tokens
        self._torch = require("torch", "local")
        self._tf = require("transformers", "local")
        torch = self._torch
        if num_threads is not None:
            if num_threads < 1:
                raise ValueError(f"num_threads must be >= 1, got {num_threads}")
            torch.set_num_threads(num_threads)
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device
        if dtype == "auto":
            self.dtype = torch.bfloat16 if device == "cuda" else torch.float32
        else:
            self.dtype = getattr(torch, dtype)
        self._lock = threading.Lock()
        self._warned_images = False
        self.processor: Any = None
        self.tokenizer: Any = None
        self.vision = False
        self.model = self._load(trust_remote_code)
        self.model.eval()

    def _load(self, trust_remote_code: bool) -> Any:
        tf = self._tf
        kwargs: dict[str, Any] = {"dtype": self.dtype, "trust_remote_code": trust_remote_code}
        folder = Path(self.path)
        try:
            if (folder / "adapter_config.json").exists():
                return self._load_adapter(folder, kwargs)
            if folder.is_dir() and _is_vision_folder(folder):
                self.vision = True
                self.processor = tf.AutoProcessor.from_pretrained(
                    self.path, trust_remote_code=trust_remote_code
                )
                self.tokenizer = self.processor.tokenizer
                model = tf.AutoModelForImageTextToText.from_pretrained(self.path, **kwargs)
            else:
                self.tokenizer = tf.AutoTokenizer.from_pretrained(
                    self.path, trust_remote_code=trust_remote_code
                )
                model = tf.AutoModelForCausalLM.from_pretrained(self.path, **kwargs)
        except (OSError, ValueError) as err:  # no weights / no usable tokenizer in the folder
            raise LLMError(
                f"cannot load local model {self.name!r} from {self.path!r}: {err} (a hub id "
                "needs the hub or its cache; a folder needs config.json and weights)"
            ) from err
        return model.to(self.device)

    def _load_adapter(self, folder: Path, kwargs: dict[str, Any]) -> Any:
        peft = require("peft", "train")
        from m2io.llm.smollm2 import resolve_model

        base = json.loads((folder / "adapter_config.json").read_text())["base_model_name_or_path"]
        base = resolve_model(base, self.cache_dir)
        tok_src = folder if (folder / "tokenizer_config.json").exists() else base
        self.tokenizer = self._tf.AutoTokenizer.from_pretrained(str(tok_src))
        model = self._tf.AutoModelForCausalLM.from_pretrained(base, **kwargs)
        model = peft.PeftModel.from_pretrained(model, str(folder)).merge_and_unload()
        return model.to(self.device)

    def _encode(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        if self.vision:
            templater: Any = self.processor
        else:
            messages, dropped = text_only(messages)
            if dropped and not self._warned_images:
                log.warning("%s is text-only: %d image part(s) ignored", self.name, dropped)
                self._warned_images = True
            if self.tokenizer.chat_template is None:
                raise LLMError(f"{self.name!r} has no chat template in its tokenizer")
            templater = self.tokenizer
        enc = templater.apply_chat_template(
            messages,
            add_generation_prompt=True,
            tokenize=True,
            return_dict=True,
            return_tensors="pt",
        )
        n = enc["input_ids"].shape[1]
        if n > self.max_input_tokens:
            log.warning("prompt of %d tokens cut to the last %d", n, self.max_input_tokens)
            enc = {
                k: v[:, -self.max_input_tokens :] if getattr(v, "ndim", 0) == 2 else v
                for k, v in enc.items()
            }
        return {k: v.to(self.device) if hasattr(v, "to") else v for k, v in enc.items()}

    def _reply(
        self, messages: list[Message], temperature: float, max_tokens: int | None
    ) -> ChatResult:
        """Generate one reply; greedy at ``temperature`` 0, sampled otherwise.

        Raises:
            LLMError: The prompt could not be built or generation failed (e.g. out of memory).
        """
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        torch = self._torch
        with self._lock:
            try:
                enc = self._encode(messages)
                n_prompt = int(enc["input_ids"].shape[1])
                gen: dict[str, Any] = {
                    "max_new_tokens": max_tokens or 512,
                    "do_sample": temperature > 0,
                    "pad_token_id": self.tokenizer.pad_token_id
                    if self.tokenizer.pad_token_id is not None
                    else self.tokenizer.eos_token_id,
                }
                if temperature > 0:
                    gen["temperature"] = temperature
                else:
                    gen.update(temperature=None, top_p=None, top_k=None)
                t0 = time.perf_counter()
                with torch.inference_mode():
                    out = self.model.generate(**enc, **gen)
            except LLMError:
                raise
            except (RuntimeError, ValueError, TypeError, KeyError) as err:
                raise LLMError(f"local model {self.name!r} failed: {err}") from err
        new = out[0, n_prompt:]
        text = self.tokenizer.decode(new, skip_special_tokens=True)
        log.debug("generated %d tokens in %.2fs", len(new), time.perf_counter() - t0)
        n_new = int(new.shape[0])
        eos = self.tokenizer.eos_token_id
        ended = n_new > 0 and eos is not None and int(new[-1]) in _ids(eos)
        return ChatResult(
            text=text,
            usage=Usage(n_prompt, n_new),
            model=self.name,
            finish_reason="length" if n_new >= gen["max_new_tokens"] and not ended else "stop",
        )

    def close(self) -> None:
        """Nothing to release explicitly (kept for ChatClient compatibility)."""


def _ids(eos: int | list[int]) -> set[int]:
    return {int(e) for e in eos} if isinstance(eos, list | tuple) else {int(eos)}
