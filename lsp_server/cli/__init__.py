"""The `vetted` command line: the argument parser, and one module per command.

`serve`, `complete`, `tests`, `batch` (batch and eval), `rank`, `train`, `status` (status
and explain); `model pull` is answered here.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path

from codegen.runtime.model import ModelError, parse_spec, pull, resolve_default_spec
from codegen.runtime.placement import DTYPES, QUANTIZE_MODES
from lsp_server.cli.output import JsonFormatter, say

logger = logging.getLogger("vetted")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(prog="vetted", description=__doc__)
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    parser.add_argument("--log-file", type=Path, help="log here instead of stderr")
    parser.add_argument("--log-format", choices=("text", "json"), default="text",
                        help="json: one JSON object per line (time, level, logger, message)")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the language server")
    transport = serve.add_mutually_exclusive_group()
    transport.add_argument("--stdio", action="store_true", help="talk over stdin/stdout (default)")
    transport.add_argument("--tcp", type=int, metavar="PORT", help="listen on 127.0.0.1:PORT")
    serve.add_argument("--model", default="", help="model spec; default: settings or built-in")
    serve.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:N")
    serve.add_argument("--dtype", default=None, choices=DTYPES, help="weight precision")
    serve.add_argument("--quantize", default=None, choices=QUANTIZE_MODES,
                       help="decoding weights (default auto: int4 on a CPU)")
    serve.add_argument("--exclude", action="append", default=[], metavar="FEATURE",
                       help="leave out a feature (repeatable)")
    serve.add_argument("-v", "--verbose", action="count", default=0, dest="serve_verbose")
    serve.add_argument("--log-file", type=Path, dest="serve_log_file")
    serve.add_argument("--log-format", choices=("text", "json"), default="",
                       dest="serve_log_format")

    complete = sub.add_parser("complete", help="complete once at a position and print the result")
    complete.add_argument("file", type=Path)
    complete.add_argument("--line", type=int, required=True, help="0-based line")
    complete.add_argument("--character", type=int, required=True,
                          help="0-based character in UTF-16 code units, as in LSP")
    complete.add_argument("--model", default="", help="model spec; default: the built-in default")
    complete.add_argument("--device", default="auto")
    complete.add_argument("--dtype", default="auto", choices=DTYPES, help="weight precision")
    complete.add_argument("--quantize", default="auto", choices=QUANTIZE_MODES,
                          help="decoding weights: auto (int4 on a CPU), int4, int8, off")
    complete.add_argument("--n", type=int, default=1, help="number of alternatives")
    complete.add_argument("--max-new-tokens", type=int, default=64)
    complete.add_argument("--adapter", default="", help="LoRA adapter folder to complete with")
    complete.add_argument("--json", action="store_true", help="print one JSON object")

    ranking = sub.add_parser("rank", help="rank recorded candidates (JSONL in, JSONL out)")
    ranking.add_argument("input", type=Path,
                         help="one task per line (see codegen/jobs/rank_tasks.py)")
    ranking.add_argument("-o", "--output", type=Path, required=True)
    ranking.add_argument("--mypy", action="store_true", help="also type-check each candidate")
    ranking.add_argument("--no-examples", action="store_true", help="ignore docstring examples")
    ranking.add_argument("--no-agreement", action="store_true", help="no behaviour clustering")
    ranking.add_argument("--no-generated", action="store_true", help="ignore generated tests")
    ranking.add_argument("--quiet", action="store_true", help="no progress line")

    from lsp_server.cli.batch import add_parsers as add_batch_parsers
    from lsp_server.cli.status import add_parsers as add_status_parsers
    from lsp_server.cli.tests import add_parser as add_tests_parser
    from lsp_server.cli.train import add_parser as add_train_parser

    add_tests_parser(sub)
    add_train_parser(sub)
    add_batch_parsers(sub)
    add_status_parsers(sub)

    model = sub.add_parser("model", help="manage models")
    model_sub = model.add_subparsers(dest="model_command", required=True)
    pull_parser = model_sub.add_parser("pull", help="obtain and cache a model")
    pull_parser.add_argument("spec", nargs="?", default="")
    return parser


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `vetted` console script."""
    args = build_parser().parse_args(argv)
    verbose = args.verbose + getattr(args, "serve_verbose", 0)
    log_file = args.log_file or getattr(args, "serve_log_file", None)
    handler = logging.FileHandler(log_file) if log_file else logging.StreamHandler(sys.stderr)
    if getattr(args, "log_format", "text") == "json" or getattr(args, "serve_log_format", ""
                                                                 ) == "json":
        handler.setFormatter(JsonFormatter())
    logging.basicConfig(
        level=logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=[handler],
    )
    if verbose < 2:  # pygls logs whole messages (documents, completions) at INFO
        logging.getLogger("pygls").setLevel(logging.WARNING)
    try:
        if args.command == "serve":
            from lsp_server.cli.serve import serve

            serve(args)
        elif args.command == "complete":
            from lsp_server.cli.complete import complete

            sys.exit(complete(args))
        elif args.command == "rank":
            from lsp_server.cli.rank import rank_file

            sys.exit(rank_file(args))
        elif args.command == "train":
            from lsp_server.cli.train import run as run_train

            sys.exit(run_train(args))
        elif args.command in ("status", "explain"):
            from lsp_server.cli import status

            sys.exit(status.run(args))
        elif args.command in ("batch", "eval"):
            from lsp_server.cli import batch

            run = batch.run_batch_command if args.command == "batch" else (
                batch.run_eval_command)
            sys.exit(run(args))
        elif args.command == "tests":
            from lsp_server.cli.complete import project_root
            from lsp_server.cli.tests import run as run_tests

            sys.exit(run_tests(args, project_root(Path(args.target.partition("::")[0]))))
        else:
            spec = parse_spec(args.spec) if args.spec else resolve_default_spec()
            print(pull(spec, progress=say))
    except ModelError as exc:
        print(f"vetted: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:  # a second Ctrl-C, or one before a command set its own handler
        print("\nvetted: interrupted", file=sys.stderr)
        sys.exit(130)
    except OSError as exc:  # a full disk, a closed pipe, a folder that vanished
        logger.debug("command failed", exc_info=True)
        _quiet_stdout()
        print(f"vetted: {_os_error(exc)}", file=sys.stderr)
        sys.exit(1)
    finally:
        # The command is over and what it wrote is whole: a Ctrl-C from here on (while
        # libraries' exit handlers run) ends the process quietly instead of interrupting
        # one of them with a traceback.
        signal.signal(signal.SIGINT, signal.SIG_DFL)


def _os_error(exc: OSError) -> str:
    """One line for an operating-system error: what failed, on which file."""
    what = exc.strerror or str(exc) or type(exc).__name__
    name = exc.filename if exc.filename is not None else None
    return f"{what}: {name}" if name is not None else what


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so flushing it at exit cannot raise a second time."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
