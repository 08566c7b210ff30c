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


DESIGN = ROOT.parents[1] / "docs" / "design.md"
MAP_MARKER = "<!-- allowed imports: tests/test_layering.py reads the block below -->"


def _unit(module: str) -> str | None:
    """The package or top-level module of ``m2io`` that ``module`` belongs to."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "m2io" else None


def _all_modules() -> dict[str, Path]:
    return {module_name(f): f for f in sorted(ROOT.rglob("*.py")) if module_name(f) != "m2io"}


def code_arrows() -> dict[str, set[str]]:
    """``{unit: the units it imports}`` read from every module's import statements."""
    modules = _all_modules()
    units = {_unit(name) for name in modules}
    arrows: dict[str, set[str]] = {unit: set() for unit in units}
    for name, path in modules.items():
        unit = _unit(name)
        for _, imported in imported_modules(path):
            other = _unit(imported)
            if other in units and other != unit:  # (``from m2io import __version__`` aside)
                arrows[unit].add(other)
    return arrows


def documented_arrows() -> dict[str, set[str]]:
    """The rows of the package map in docs/design.md."""
    text = DESIGN.read_text("utf-8")
    assert MAP_MARKER in text, "docs/design.md lost its package map"
    block = text.split(MAP_MARKER, 1)[1].split("```", 2)[1]
    table: dict[str, set[str]] = {}
    for line in block.splitlines():
        if "─►" in line:
            left, _, right = line.partition("─►")
            table[left.strip()] = {x.strip() for x in right.split(",") if x.strip()}
    return table


def test_the_package_map_in_the_design_is_the_code() -> None:
    """Issue 23 item 4: every import between packages is an arrow of docs/design.md's map, and
    every arrow there is an import (a new arrow is a change to both)."""
    code, documented = code_arrows(), documented_arrows()
    assert sorted(code) == sorted(documented)  # one row per package and top-level module
    undocumented = sorted(f"{u} ─► {v}" for u in code for v in code[u] - documented[u])
    stale = sorted(f"{u} ─► {v}" for u in documented for v in documented[u] - code.get(u, set()))
    assert (undocumented, stale) == ([], [])


def test_no_import_circle_between_modules() -> None:
    """Issue 23 item 4: no module imports (directly or through others) one that imports it,
    wherever the import statement stands; package faces, which only hand names on, aside."""
    modules = _all_modules()
    graph = {
        name: {
            m
            for _, m in imported_modules(path)
            if m in modules and m != name and modules[m].name != "__init__.py"
        }
        for name, path in modules.items()
    }
    circles = []
    for start in graph:  # a path from a module's imports back to itself
        seen, todo = set(), list(graph[start])
        while todo:
            m = todo.pop()
            if m == start:
                circles.append(start)
                break
            if m not in seen:
                seen.add(m)
                todo.extend(graph[m])
    assert circles == []


# Issue 23 item 3: the command line (``cli/``, the server's edge included: ``m2io serve``) reads
# the environment and passes each value on as an argument; the test fakes may read it. The one
# read the library keeps, with why (docs/design.md, How options reach the library):
ENV_READS_KEPT = {
    # the API key, from the variable the ``api_key_env`` option names: the secret never enters
    # a recipe, a dumped config or a log
    "llm/client.py": 1,
}
ENV_NAMES = ("environ", "environb", "getenv", "getenvb")


def environment_reads(path: Path) -> list[int]:
    """Lines of ``path`` that touch ``os.environ`` or ``getenv``, however imported or aliased."""
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Attribute) and node.attr in ENV_NAMES:
            found.append(node.lineno)
        elif isinstance(node, ast.Name) and node.id in ENV_NAMES:
            found.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            found += [node.lineno for a in node.names if a.name in ENV_NAMES]
    return found


def test_the_library_reads_no_environment_variable() -> None:
    """Outside ``cli/`` and ``testing/`` no module reads the environment, bar the one kept read;
    an option reaches the library as an argument."""
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(("cli/", "testing/")):
            continue
        lines = environment_reads(path)
        if len(lines) > ENV_READS_KEPT.get(rel, 0):
            found[rel] = lines
    assert found == {}


def test_the_environment_scan_finds_each_way_of_reading(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import os\nfrom os import getenv, environ as E\n"
        "a = os.environ.get('A')\nb = getenv('B')\nc = os.getenv('C')\nd = E['D']\n"
    )
    assert sorted(environment_reads(probe)) == [2, 2, 3, 4, 5]
