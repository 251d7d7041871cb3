"""`vetted complete FILE --line L --character C`: one completion through the server's pipeline."""

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
from codegen.runtime.model import parse_spec, resolve_default_spec
from codegen.types import Candidate, CompletionRequest, CompletionResult
from lsp_server.cli.output import say
from prompts.templates import FimTemplate
from validators import Verdict, close_validators, create_validators

logger = logging.getLogger("vetted")


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
        backend.check_adapter(args.adapter)
    # A one-shot command has the time to let mypy's daemon start: a check it skipped while
    # starting would say nothing about the candidates.
    validators = create_validators(patient=True)
    try:
        pipeline = Pipeline(backend, FimTemplate(), validators=validators)
        result = pipeline.complete(request, threading.Event())
    finally:
        close_validators(validators)
        backend.close()
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
    return {v.check: v.as_dict() for v in candidate.verdicts}


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
