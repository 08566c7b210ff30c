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
