"""The ``m2io`` command line: a thin layer over the library, one module per subcommand.

Run ``m2io --help`` or ``m2io SUBCOMMAND --help``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from m2io.cli import environment

# subcommand → module in m2io.cli (each has add_arguments(parser) and run(args) -> int)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("demo", "index the bundled demo corpus and answer a question from it"),
    "index": ("index", "build a persistent index from a corpus folder"),
    "ask": ("ask", "answer a question with images placed in the text"),
    "serve": ("serve", "HTTP API and web page over an index (models loaded once)"),
    "eval": ("eval", "evaluate a pipeline end to end on an MRAMG-layout subset"),
    "eval-inserter": ("eval_inserter", "evaluate an image inserter alone on gold answer text"),
    "report": ("report", "compare results files: Markdown table and PNG plots"),
    "build-inserter-data": ("build_data", "write the M2IO-Inserter training set (SFT/GRPO)"),
    "train": ("train", "train a model: inserter-policy (learned inserter), sft, grpo"),
}


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The ``m2io`` parser. Given ``argv``, only the chosen subcommand's module is imported (its
    options are all that parse); the others are listed by name and help, so a cold ``m2io ask``
    does not pay for the evaluation and training packages."""
    parser = argparse.ArgumentParser(
        prog="m2io",
        description="Multimodal RAG that answers with retrieved images at the right sentences.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = _chosen_command(argv)
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(
            name, help=help_text, description=help_text, epilog=environment.epilog(name)
        )
        if chosen is not None and name != chosen:
            continue
        talk = p.add_mutually_exclusive_group()
        talk.add_argument("-v", "--verbose", action="store_true", help="log progress and timings")
        talk.add_argument(
            "-q",
            "--quiet",
            action="store_true",
            help="no progress bars and no progress messages; warnings still print",
        )
        mod = importlib.import_module(f"m2io.cli.{module}")
        mod.add_arguments(p)
        p.set_defaults(_module=mod)
    return parser


def _chosen_command(argv: list[str] | None) -> str | None:
    """The subcommand ``argv`` names (the first word that is not an option), if it is one."""
    if argv is None:
        return None
    first = next((a for a in argv if not a.startswith("-")), None)
    return first if first in COMMANDS else None


def silence_progress_bars() -> None:
    """Turn off every progress bar this process may show: tqdm's (m2io's own, sentence-
    transformers', evaluation loops') and the Hugging Face libraries' (downloads, weight loading).

    The environment variables reach libraries not imported yet (``TQDM_DISABLE`` is read when
    tqdm is imported); libraries already imported are told directly.
    """
    os.environ["TQDM_DISABLE"] = "1"
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    if "huggingface_hub" in sys.modules:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv).parse_args(argv)
    if args.quiet:
        silence_progress_bars()
        if hasattr(args, "no_progress"):  # eval, eval-inserter: --quiet implies --no-progress
            args.no_progress = True
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # Some dependencies lower their own loggers' levels when they are first used (bm25s does so
    # while building an index), after any setLevel here: filter at the handler. Their INFO lines
    # (faiss's CPU-feature probing, model paths) say nothing to a user even with -v; m2io logs
    # what matters (which model loaded, in how long). HTTP requests stay visible with -v.
    noisy = ("bm25s", "faiss", "sentence_transformers") + (() if args.verbose else ("httpx",))
    for handler in logging.getLogger().handlers:
        handler.addFilter(lambda r: r.levelno >= logging.WARNING or not r.name.startswith(noisy))
    try:
        return int(args._module.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError, ImportError) as err:
        print(f"m2io {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
