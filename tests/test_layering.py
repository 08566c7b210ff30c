"""The package map of docs/design.md holds: the inference path never imports training,
evaluation or the factory (nor the command line, the server, or the policy's training half,
``m2io.learned_training``), neither at module top nor inside a function nor for type checking."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import m2io
import m2io.learned

ROOT = Path(m2io.__file__).resolve().parent

# Packages and modules a question walks through when it is answered (and what they lean on).
INFERENCE_PACKAGES = (
    "corpus",
    "embed",
    "generators",
    "index",
    "inserters",
    "llm",
    "mergers",
    "metrics",
    "retrievers",
)
INFERENCE_MODULES = (
    "pipeline",
    "singleshot",
    "types",
    "text",
    "language",
    "safety",
    "protocol",
    "rewards",
    "learned.__init__",
    "learned.artifact",
    "learned.cues",
    "learned.features",
    "learned.policy",
    "learned.profile",
)
FORBIDDEN = (
    "m2io.training",
    "m2io.evaluation",
    "m2io.factory",
    "m2io.cli",
    "m2io.serve",
    "m2io.learned_training",
)


def inference_files() -> list[Path]:
    files = [f for pkg in INFERENCE_PACKAGES for f in sorted((ROOT / pkg).rglob("*.py"))]
    files += [ROOT / (m.replace(".", "/") + ".py") for m in INFERENCE_MODULES]
    return files


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module an ``import`` statement in ``path`` names, wherever the statement is;
    ``from m2io.learned import NAME`` counts as importing the module the face loads NAME from."""
    tree = ast.parse(path.read_text("utf-8"), str(path))
    if path == ROOT / "learned" / "__init__.py":  # the face names its modules for type checkers
        tree.body = [n for n in tree.body if not _type_checking_block(n)]
    package = (
        module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    )
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                out.append((node.lineno, f"{base}.{alias.name}"))
                if base == "m2io.learned" and alias.name in m2io.learned._WHERE:
                    out.append((node.lineno, f"m2io.learned.{m2io.learned._WHERE[alias.name]}"))
            out.append((node.lineno, base))
    return out


def _type_checking_block(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"


def forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN)


def test_inference_path_imports_no_training_evaluation_or_factory() -> None:
    bad = [
        f"{path.relative_to(ROOT.parent)}:{line}: {name}"
        for path in inference_files()
        for line, name in imported_modules(path)
        if forbidden(name)
    ]
    assert bad == []


def test_importing_the_inference_path_loads_none_of_them() -> None:
    modules = [module_name(p) for p in inference_files()]
    modules = [m for m in modules if not m.endswith(("milvus", "distributed", "onnx", "local"))]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        f"print(sorted(m for m in sys.modules if m.startswith({FORBIDDEN!r})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_learned_face_only_hands_names_on() -> None:
    tree = ast.parse((ROOT / "learned" / "__init__.py").read_text("utf-8"))
    defined = [n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)]
    assert set(defined) <= {"__getattr__", "__dir__"}
    assert sorted(m2io.learned.__all__) == sorted(m2io.learned._WHERE)
    for name in m2io.learned.__all__:  # every name it promises resolves
        assert getattr(m2io.learned, name) is not None


def test_every_package_face_only_hands_names_on() -> None:
    """Issue 14: a package's ``__init__.py`` re-exports names (lazily at most, through
    ``__getattr__``/``__dir__``); code lives in the package's modules."""
    allowed = {"__getattr__", "__dir__"}
    offenders = []
    for init in sorted(ROOT.rglob("__init__.py")):
        tree = ast.parse(init.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                if node.name not in allowed:
                    offenders.append(f"{init.relative_to(ROOT)}: {node.name}")
    assert offenders == []
