"""Issue 23 item 3: options reach the library as arguments; the command line alone reads the
environment (``m2io.cli.environment``) and passes each value on, and ``m2io index``'s options are
a typed record that ``--set`` fills through the recipe's own override parser."""

from __future__ import annotations

from pathlib import Path

import pytest

from m2io.cli import environment
from m2io.cli.common import config_from_args
from m2io.cli.index import index_options
from m2io.cli.main import build_parser, main
from m2io.config import IndexOptions, PipelineConfig, apply_override
from m2io.factory import stage_options
from m2io.llm.client import DEFAULT_BASE_URL, ChatClient
from m2io.testing.hash_embedder import HashEmbedder

VARS = (
    "M2IO_INDEX",
    "M2IO_EMBED_BACKEND",
    "M2IO_CACHE",
    "OPENAI_BASE_URL",
    "XDG_CACHE_HOME",
    "M2IO_VECTOR_INDEX",
    "M2IO_MILVUS_URI",
)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in VARS:
        monkeypatch.delenv(var, raising=False)


def _ask(*argv: str) -> PipelineConfig:
    full = ["ask", *argv, "a question"]
    return config_from_args(build_parser(full).parse_args(full))


def _index_args(*argv: str):
    full = ["index", "corpus", *argv]
    return build_parser(full).parse_args(full)


def test_typed_flags_are_set_as_given_not_parsed_again_as_yaml() -> None:
    cfg = _ask("--index", "on", "--inserter", "learned", "--model", "1e3", "--top-k", "4")
    assert cfg.index == "on"  # YAML would have read a bool
    assert cfg.inserter.options["model"] == "1e3"  # and a float here
    assert cfg.retriever.options["top_k"] == 4
    opts = index_options(_index_args("--subset", "2024", "--out", "no", "--max-words", "60"))
    assert (opts.subset, opts.out, opts.max_words) == ("2024", "no", 60)


def test_openai_base_url_is_read_by_the_command_line_and_passed_in_the_recipe(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    assert ChatClient(model="m").base_url == DEFAULT_BASE_URL  # the library ignores it
    assert ChatClient(base_url="http://127.0.0.1:9/v1/", model="m").base_url.endswith(":9/v1")
    cfg = _ask("--generator", "openai", "--generator-model", "m")
    assert cfg.llm["base_url"] == "http://127.0.0.1:9/v1"
    assert stage_options("generator", cfg)["base_url"] == "http://127.0.0.1:9/v1"
    assert _ask("--base-url", "http://other/v1").llm["base_url"] == "http://other/v1"  # flag wins
    assert "base_url" not in _ask("--set", "llm.model=smollm2-135m").llm  # a local model
    monkeypatch.delenv("OPENAI_BASE_URL")
    assert "base_url" not in _ask("--generator", "openai").llm


def test_cache_folder_is_read_at_the_edge_and_reaches_local_model_stages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from m2io.learned_training.grpo import default_cache_dir
    from m2io.llm import smollm2

    assert environment.cache_dir({"M2IO_CACHE": "/c", "XDG_CACHE_HOME": "/x"}) == "/c"
    assert environment.cache_dir({"XDG_CACHE_HOME": "/x"}) == str(Path("/x") / "m2io")
    assert environment.cache_dir({}) is None
    monkeypatch.setenv("M2IO_CACHE", str(tmp_path))
    home = Path.home() / ".cache" / "m2io"
    assert default_cache_dir() == home and smollm2.cache_root() == home  # the library: none
    assert smollm2.model_dir(tmp_path) == tmp_path / "models" / "smollm2-135m"
    cfg = _ask("--generator", "local")
    assert cfg.llm["cache_dir"] == str(tmp_path)
    assert stage_options("generator", cfg)["cache_dir"] == str(tmp_path)
    own = _ask("--generator", "local", "--set", "generator.cache_dir=/mine")
    assert stage_options("generator", own)["cache_dir"] == "/mine"  # the recipe's wins
    assert "cache_dir" not in stage_options("generator", _ask())  # extractive takes none


def test_index_options_take_set_through_the_recipe_parser() -> None:
    opts = IndexOptions()
    assert opts.override("index.max_words=90").max_words == 90
    assert opts.override("index.rebuild=true").rebuild is True
    assert opts.override("index.subset=2024").subset == "2024"  # a name, not a number
    assert opts.override("index.include=[a.md, 'b/*.md']").include == ("a.md", "b/*.md")
    assert opts.override("index.clip=").clip is None
    with pytest.raises(ValueError, match="index.max_words must be a whole number"):
        opts.override("index.max_words=1.5")
    with pytest.raises(ValueError, match="index.rebuild must be true or false"):
        opts.override("index.rebuild=1")
    with pytest.raises(ValueError, match="index.store must be one of embedded, milvus"):
        opts.override("index.store=redis")
    with pytest.raises(ValueError, match="expected one of index.out, .*index.ray"):
        opts.override("index.max_wrds=9")
    with pytest.raises(ValueError, match="must look like section.key=value"):
        opts.override("index.max_words")


def test_embed_backend_is_a_flag_a_set_key_and_the_environment_in_that_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert index_options(_index_args()).embed_backend is None
    monkeypatch.setenv("M2IO_EMBED_BACKEND", "Torch ")
    assert index_options(_index_args()).embed_backend == "torch"
    assert index_options(_index_args("--embed-backend", "onnx")).embed_backend == "onnx"
    set_onnx = ("--set", "index.embed_backend=onnx")
    assert index_options(_index_args(*set_onnx)).embed_backend == "onnx"
    assert _ask().embed_backend == "torch"
    assert _ask("--set", "embed_backend=onnx").embed_backend == "onnx"
    monkeypatch.setenv("M2IO_EMBED_BACKEND", "cuda")
    with pytest.raises(ValueError, match="M2IO_EMBED_BACKEND='cuda': use one of onnx, torch"):
        index_options(_index_args())
    with pytest.raises(ValueError, match="embed_backend must be one of onnx, torch"):
        apply_override(PipelineConfig(), "embed_backend=cuda")


def test_the_vector_store_variables_fill_only_what_the_options_leave_open(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from m2io.cli.index import vector_store
    from m2io.index.ann import VectorStore

    monkeypatch.setenv("M2IO_VECTOR_INDEX", " HNSW")
    monkeypatch.setenv("M2IO_MILVUS_URI", "http://h:19530")
    opts = index_options(_index_args())
    assert (opts.vector_index, opts.milvus_uri) == ("hnsw", None)  # no Milvus asked: no URI
    assert vector_store(opts.store, opts.vector_index, opts.milvus_uri) == VectorStore("hnsw")
    assert index_options(_index_args("--vector-index", "exact")).vector_index == "exact"
    milvus = index_options(_index_args("--store", "milvus"))
    assert milvus.milvus_uri == "http://h:19530"
    own = index_options(_index_args("--store", "milvus", "--milvus-uri", "http://mine:1"))
    assert own.milvus_uri == "http://mine:1"
    monkeypatch.setenv("M2IO_VECTOR_INDEX", "flat")
    with pytest.raises(ValueError, match="M2IO_VECTOR_INDEX='flat': use one of auto, exact"):
        index_options(_index_args())


def test_m2io_index_passes_the_backend_to_the_embedder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("faiss")
    import m2io.embed.text as text_mod
    from m2io.demo import corpus_path

    asked: list[tuple[str, str | None]] = []

    def load(name: str = "", backend: str | None = None) -> HashEmbedder:
        asked.append((name, backend))
        return HashEmbedder()

    monkeypatch.setattr(text_mod, "load_text_embedder", load)
    monkeypatch.setenv("M2IO_EMBED_BACKEND", "torch")
    argv = ["index", str(corpus_path()), "-q", "--max-words", "80"]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    assert main([*argv, "--out", str(tmp_path / "b"), "--embed-backend", "onnx"]) == 0
    assert asked == [("all-MiniLM-L6-v2", "torch"), ("all-MiniLM-L6-v2", "onnx")]
    assert "M2IO_VECTOR_INDEX" not in environment.os.environ  # nothing written to pass it on


@pytest.mark.parametrize("command", ["ask", "index", "serve", "eval", "train"])
def test_every_command_help_names_the_variables_it_reads(command: str) -> None:
    parser = build_parser([command])
    sub = parser._subparsers._group_actions[0].choices[command]  # type: ignore[union-attr]
    text = " ".join(sub.format_help().split())
    for var in ("M2IO_INDEX", "M2IO_EMBED_BACKEND", "M2IO_CACHE", "OPENAI_BASE_URL"):
        assert var in text
    assert ("M2IO_API_KEY" in text) == (command == "serve")
    assert ("M2IO_MILVUS_URI" in text) == (command == "index")


def test_demo_indexes_with_the_backend_it_answers_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("faiss")
    pytest.importorskip("onnxruntime")
    import yaml

    import m2io.index as index_pkg

    real = index_pkg.build_index
    built_with: list[str | None] = []

    def build(documents, folder, *, embedder=None, **options):
        built_with.append(getattr(embedder, "backend", None))
        return real(documents, folder, embedder=embedder, **options)

    monkeypatch.setattr(index_pkg, "build_index", build)
    monkeypatch.setenv("M2IO_EMBED_BACKEND", "onnx")
    assert main(["demo", "--index", str(tmp_path / "demo"), "--dump-config", "-q"]) == 0
    assert built_with == ["onnx"]
    assert yaml.safe_load(capsys.readouterr().out)["embed_backend"] == "onnx"


def test_each_variable_reads_as_a_typed_value_or_none() -> None:
    env = {"M2IO_API_KEY": "k", "M2IO_INDEX": "idx", "OPENAI_BASE_URL": "  ", "M2IO_CACHE": ""}
    assert environment.serve_api_key(env) == "k" and environment.serve_api_key({}) is None
    assert environment.index_dir(env) == "idx"
    assert environment.base_url(env) is None and environment.cache_dir(env) is None
    assert environment.milvus_uri({"M2IO_MILVUS_URI": " http://h:1 "}) == "http://h:1"
