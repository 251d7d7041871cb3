"""The `vetted` command line: serve, complete, tests, batch, eval, rank, model pull."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
from pathlib import Path
from typing import Any

from codegen.pipeline import Pipeline
from codegen.positions import PositionError, offset_at, position_at
from codegen.ranking import syntax_ok
from codegen.runtime.model import ModelError, parse_spec, pull, resolve_default_spec
from codegen.runtime.placement import DTYPES, QUANTIZE_MODES
from codegen.types import Candidate, CompletionRequest, CompletionResult
from prompts.templates import FimTemplate
from validators import Verdict, close_validators, create_validators

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

    from lsp_server.batch_command import add_parsers as add_batch_parsers
    from lsp_server.status_command import add_parsers as add_status_parsers
    from lsp_server.tests_command import add_parser as add_tests_parser
    from lsp_server.train_command import add_parser as add_train_parser

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
            serve(args)
        elif args.command == "complete":
            sys.exit(complete(args))
        elif args.command == "rank":
            from lsp_server.rank_command import rank_file

            sys.exit(rank_file(args))
        elif args.command == "train":
            from lsp_server.train_command import run as run_train

            sys.exit(run_train(args))
        elif args.command in ("status", "explain"):
            from lsp_server import status_command

            sys.exit(status_command.run(args))
        elif args.command in ("batch", "eval"):
            from lsp_server import batch_command

            run = batch_command.run_batch_command if args.command == "batch" else (
                batch_command.run_eval_command)
            sys.exit(run(args))
        elif args.command == "tests":
            from lsp_server.tests_command import run as run_tests

            sys.exit(run_tests(args, project_root(Path(args.target.partition("::")[0]))))
        else:
            spec = parse_spec(args.spec) if args.spec else resolve_default_spec()
            print(pull(spec, progress=say))
    except ModelError as exc:
        print(f"vetted: {exc}", file=sys.stderr)
        sys.exit(1)


class JsonFormatter(logging.Formatter):
    """Structured logs: one JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as JSON (the exception's traceback as a string field)."""
        entry: dict[str, Any] = {
            "time": self.formatTime(record), "level": record.levelname,
            "logger": record.name, "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def say(message: str) -> None:
    """Progress for a person at a terminal, on stderr so `--json` output stays clean."""
    print(f"vetted: {message}", file=sys.stderr, flush=True)


SWITCH_INTERVAL_S = 0.0005


def serve(args: argparse.Namespace) -> None:
    """Run the language server until the client exits."""
    from codegen.loaded_model import CompletionService
    from lsp_server.config import RuntimeSettings, Settings
    from lsp_server.server import create_server
    from validators import create_validators

    # The decode thread runs Python between its kernels; at the default 5 ms switch interval
    # the event loop could wait that long for the GIL on every message it handles.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    settings = Settings(model=args.model, device=args.device or "auto", dtype=args.dtype or "auto",
                        runtime=RuntimeSettings(quantize=args.quantize or "auto"))
    service = CompletionService(validators=create_validators())
    server = create_server(settings, service, exclude=args.exclude)
    if args.tcp is not None:
        server.start_tcp("127.0.0.1", args.tcp)
    else:
        server.start_io()


def complete(args: argparse.Namespace) -> int:
    """Complete once through the same pipeline as the server; return the exit code."""
    from codegen.runtime.backends import RuntimeOptions, load_backend

    try:
        text = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"vetted: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    try:
        offset = offset_at(text, args.line, args.character)
        root = project_root(args.file)
        request = CompletionRequest(
            text=text, offset=offset, path=str(args.file.resolve().relative_to(root)), n=args.n,
            max_new_tokens=args.max_new_tokens, trigger="invoked", root=str(root),
            adapter=args.adapter,
        )
    except (PositionError, ValueError) as exc:
        print(f"vetted: {exc}", file=sys.stderr)
        return 2
    spec = parse_spec(args.model) if args.model else resolve_default_spec()
    backend = load_backend(spec, device=args.device, dtype=args.dtype, progress=say,
                           runtime=RuntimeOptions(quantize=args.quantize))
    if args.adapter:
        check = getattr(backend, "check_adapter", None)
        if check is None:
            raise ModelError(f"{backend.description} serves no LoRA adapters")
        check(args.adapter)
    # A one-shot command has the time to let mypy's daemon start: a check it skipped while
    # starting would say nothing about the candidates.
    validators = create_validators(patient=True)
    try:
        pipeline = Pipeline(backend, FimTemplate(), validators=validators)
        result = pipeline.complete(request, threading.Event())
    finally:
        close_validators(validators)
        close = getattr(backend, "close", None)
        if close is not None:
            close()
    if args.json:
        print(json.dumps(result_to_json(result)))
    else:
        print_human(result, backend.description)
    return 0


ROOT_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", "mypy.ini", ".git")
"""Files that mark a project's root directory."""


def project_root(file: Path) -> Path:
    """The nearest directory above `file` with a project marker, else the file's directory."""
    start = file.resolve().parent
    for directory in (start, *start.parents):
        if any((directory / marker).exists() for marker in ROOT_MARKERS):
            return directory
    return start


def check_summary(verdict: Verdict) -> str:
    """``mypy ok``, ``tests failed``, or ``tests not run (no examples or tests)``."""
    if not verdict.ran:
        why = verdict.detail.split("\n", 1)[0]
        return f"{verdict.check} not run" + (f" ({why})" if why else "")
    return f"{verdict.check} {'ok' if verdict.ok else 'failed'}"


def result_to_json(result: CompletionResult) -> dict[str, Any]:
    """The `--json` shape: shown items best first, then the rejected parseable candidates.

    Each item has its UTF-16 range and its verdicts; each rejected candidate its verdicts.
    """
    text, offset = result.request.text, result.request.offset

    def point(index: int) -> dict[str, int]:
        line, character = position_at(text, index)
        return {"line": line, "character": character}

    return {
        "items": [
            {
                "text": c.insert,
                "range": {"start": point(offset), "end": point(c.end)},
                "verdicts": verdicts_to_json(c),
                "logprob": c.logprob,
            }
            for c in result.items
        ],
        "discarded": len(result.discarded),
        "rejected": [
            {"text": c.insert, "verdicts": verdicts_to_json(c)}
            for c in result.discarded if c.verdicts and syntax_ok(c)
        ],
        "adapter": result.request.adapter or None,
    }


def verdicts_to_json(candidate: Candidate) -> dict[str, dict[str, Any]]:
    """Verdicts keyed by check name: passed or not, whether it ran, why, and counts."""
    table: dict[str, dict[str, Any]] = {}
    for v in candidate.verdicts:
        entry: dict[str, Any] = {"ok": v.ok, "ran": v.ran, "reason": v.reason, "detail": v.detail}
        if v.total:
            entry.update(passed=v.passed, total=v.total)
        table[v.check] = entry
    return table


def print_human(result: CompletionResult, model: str) -> None:
    """Readable output: each vetted completion in place, best first."""
    request = result.request
    line_start = request.text.rfind("\n", 0, request.offset) + 1
    print(f"model: {model}")
    if not result.items:
        print(f"no completion survived vetting ({len(result.discarded)} discarded)")
    for rank, candidate in enumerate(result.items, 1):
        checks = ", ".join(map(check_summary, candidate.verdicts))
        print(f"--- completion {rank} ({checks}) ---")
        print(request.text[line_start : request.offset] + candidate.insert)
    for candidate in result.discarded:
        reasons = "; ".join(v.reason for v in candidate.verdicts if not v.ok)
        logger.info("discarded %r: %s", candidate.raw[:60], reasons)
