"""`vetted rank INPUT -o OUTPUT`: the command-line face of `codegen.jobs.rank_tasks`."""

from __future__ import annotations

import argparse
import json
import sys

from codegen.jobs.rank_tasks import RankOptions, parse_task, rank_task
from validators.base import Validator
from validators.sandbox import Sandbox, SandboxLimits


def rank_file(args: argparse.Namespace) -> int:
    """Rank every task of the input file; a malformed line becomes an error record."""
    options = RankOptions(
        examples=not args.no_examples,
        agreement=not args.no_agreement,
        generated=not args.no_generated,
    )
    try:
        lines = args.input.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        print(f"vetted: cannot read {args.input}: {exc}", file=sys.stderr)
        return 2
    typecheck: Validator | None = None
    if args.mypy:
        from validators.typecheck import MypyValidator, TypecheckSettings

        # A batch can wait for mypy to build its graph; an editor request cannot.
        typecheck = MypyValidator(TypecheckSettings(budget_seconds=60.0))
    with Sandbox(SandboxLimits(wall_seconds=900.0)) as sandbox, args.output.open(
        "w", encoding="utf-8"
    ) as out:
        reason = sandbox.probe()
        if reason is not None:
            print(f"vetted: candidates will not be run: {reason}", file=sys.stderr)
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                task = parse_task(json.loads(line))
            except (ValueError, TypeError) as exc:
                record = {"line": number, "error": str(exc)}
            else:
                record = rank_task(task, sandbox, options, typecheck).as_json()
            out.write(json.dumps(record) + "\n")
            out.flush()
            if not args.quiet:
                print(f"\rvetted rank: {number}/{len(lines)}", end="", file=sys.stderr, flush=True)
    if typecheck is not None:
        getattr(typecheck, "close", lambda: None)()
    if not args.quiet:
        print(file=sys.stderr)
    return 0
