import subprocess
import sys


def test_import_m2io_stays_light():
    code = (
        "import sys, m2io, m2io.cli.main, m2io.pipeline, m2io.config;"
        "heavy = [m for m in ('torch', 'fastapi', 'trl', 'transformers', 'faiss') if m in sys.modules];"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_subcommand_imports_only_its_own_module():
    """A cold `m2io ask` parses its arguments without importing the evaluation, training or
    serving code (each costs import time it does not need); `m2io --help` still lists them all."""
    code = (
        "import sys; from m2io.cli.main import build_parser\n"
        "p = build_parser(['ask', '--index', 'x', 'q'])\n"
        "assert p.parse_args(['ask', '--index', 'x', 'q']).command == 'ask'\n"
        "bad = [m for m in sys.modules if m.startswith(('m2io.evaluation', 'm2io.training',"
        " 'm2io.serve', 'm2io.cli.eval', 'm2io.cli.train'))]\n"
        "print(','.join(bad))\n"
        "print(build_parser([]).format_help())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    imported, _, listing = out.stdout.partition("\n")
    assert imported == ""
    for name in ("ask", "eval", "eval-inserter", "serve", "train", "index"):
        assert f"    {name} " in listing
