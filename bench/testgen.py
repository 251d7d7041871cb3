r"""Test generation on HumanEval's reference solutions: valid tests, coverage, bugs caught.

Usage: ``.venv/bin/python -m bench.testgen [--data ../shared/data] [--limit K]`` for the
recorded pool, ``--model pypi:qwen2.5-coder-1.5b-instruct --limit 8`` for a real model.

For each HumanEval task the module under test is its prompt plus the canonical solution
(`solution.py`), and `codegen.testgen.generate_tests` runs exactly as the editor's
"Generate unit tests" does, with one of two sources of candidate tests:

* **recorded pool** (default, no model): CodeT's 100 recorded CodeGen-16B test samples for
  the task (``codet/..._test_case.jsonl``; each leading ``assert`` line, repeats dropped),
  every assert one candidate test, offered as one answer in one round;
* **a real model** (``--model``): the instruct model's answers to the product's prompt.

Measured: the share of delivered tests that pass on the reference solution when the
delivered file is run on its own afterwards (must be 100 %), line + branch coverage of the
function before (docstring examples only) and after, and how many of the recorded
CodeGen-16B solution samples that fail the hidden HumanEval tests the delivered tests
reject (the hidden tests only label the samples; the generator never sees them).
"""

from __future__ import annotations

import argparse
import ast
import gzip
import json
import statistics
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.ranking import DEFAULT_DATA, Case, label, load_cases
from codegen.runtime.adapters import AdapterError
from codegen.runtime.backends import Backend, load_backend
from codegen.runtime.call import GenerateCall
from codegen.runtime.engine import Engine
from codegen.runtime.model import parse_spec
from codegen.testgen.generation import TestGenRequest, TestGenResult, generate_tests
from codegen.types import FinishReason, Generation
from prompts.templates import Tokenizer
from validators.execution import Job, execute
from validators.sandbox import Sandbox, SandboxLimits
from validators.testrun import CandidateTest, ModuleUnderTest, run_tests, sandbox_for

REPO_ROOT = Path(__file__).resolve().parents[1]


class PoolBackend:
    """Answers every request with one fixed text: the recorded tests as one answer."""

    tokenizer: Tokenizer | None = None
    engine: Engine | None = None

    def __init__(self, answer: str) -> None:
        """Hold the answer."""
        self.answer = answer
        self.description = "recorded CodeGen-16B test pool"

    def generate(self, call: GenerateCall) -> list[Generation]:
        """The pool, once."""
        return [Generation(self.answer, None, FinishReason.REPLAY)]

    def check_adapter(self, path: str) -> None:
        """A recorded pool has no model to adapt."""
        raise AdapterError("the recorded test pool serves no LoRA adapters")

    def close(self) -> None:
        """Nothing to release."""


def pool_answer(case: Case) -> str:
    """The recorded asserts of a task as test functions in one ``python`` block.

    They were written as module-level asserts after the whole prompt, so they may call its
    other functions (``decode_cyclic(encode_cyclic(s))``): the answer imports them all.
    """
    tests = [f"def test_generated_{i}():\n    {check}\n" for i, check in enumerate(case.tests)]
    return "```python\nfrom solution import *\n\n\n" + "\n\n".join(tests) + "```"


@dataclass
class TaskResult:
    """One task's figures."""

    task_id: str
    delivered: int
    valid: int
    """Delivered tests that pass when the delivered file runs on the reference."""
    before: tuple[int, int]
    after: tuple[int, int]
    total: int
    wrong: int
    rejected: int
    bugs: int
    seconds: float


def run_case(case: Case, canonical: str, backend: Backend, sandbox: Sandbox, rounds: int,
             samples: int, max_new_tokens: int) -> TaskResult:
    """Generate tests for one task and score them."""
    started = time.perf_counter()
    text = case.original_prompt + canonical
    line = text.splitlines().index(
        next(row for row in text.splitlines() if row.startswith(f"def {case.entry_point}("))
    )
    request = TestGenRequest(root="", path="solution.py", text=text, line=line, samples=samples,
                             rounds=rounds, max_new_tokens=max_new_tokens)
    result = generate_tests(request, backend, sandbox, threading.Event())
    assert result is not None
    valid = _valid(result, text, sandbox)
    wrong, rejected = _rejections(case, result, sandbox)
    return TaskResult(
        case.task_id, len(result.delivered), valid,
        (result.before.lines + result.before.branches, result.before.lines_total
         + result.before.branches_total),
        (result.after.lines + result.after.branches, result.after.lines_total
         + result.after.branches_total),
        result.after.lines_total + result.after.branches_total,
        wrong, rejected, len(result.bugs), time.perf_counter() - started,
    )


def _valid(result: TestGenResult, text: str, sandbox: Sandbox) -> int:
    """Delivered tests that pass when the written test file runs against the solution."""
    if not result.delivered:
        return 0
    written = result.written()
    module = ModuleUnderTest("solution", text)
    tests = [CandidateTest(t.name, written) for t in result.delivered]
    return sum(o.passed for o in run_tests(sandbox, module, tests, runs=1))


def _split_imports(statements: Sequence[str], module: str) -> tuple[list[str], list[str]]:
    """(imports to keep, names bound to `module` itself) of the delivered tests' imports.

    A wrong sample defines the module's names itself: importing them from the (absent)
    module under test would fail to load every sample and count it as caught. So ``from
    module import ...`` goes, and ``import module [as name]`` becomes `name` bound to the
    sample's own namespace.
    """
    kept: list[str] = []
    aliases: list[str] = []
    for statement in dict.fromkeys(statements):
        try:
            nodes = ast.parse(statement).body
        except SyntaxError:
            kept.append(statement)
            continue
        if any(isinstance(n, ast.ImportFrom) and n.level == 0 and n.module == module
               for n in nodes):
            continue
        own = [a.asname or a.name for n in nodes if isinstance(n, ast.Import)
               for a in n.names if a.name == module]
        if own:
            aliases += own
            continue
        kept.append(statement)
    return kept, aliases


def _rejections(case: Case, result: TestGenResult, sandbox: Sandbox) -> tuple[int, int]:
    """(wrong samples, wrong samples some delivered test fails) of the recorded solutions."""
    programs = list(dict.fromkeys(case.codet_prompt + s for s in case.samples))
    passes = label(sandbox, programs, case.hidden)
    wrong = [p for p in programs if not passes[p]]
    counts = {p: 0 for p in programs}
    for sample in case.samples:
        counts[case.codet_prompt + sample] += 1
    total_wrong = sum(counts[p] for p in wrong)
    if not result.delivered or not wrong:
        return total_wrong, 0
    checks = tuple(f"{t.source}\n{t.name}()" for t in result.delivered)
    kept, aliases = _split_imports([i for t in result.delivered for i in t.imports], "solution")
    imports = "\n".join(kept)
    bind = "".join(f"\n{name} = __import__('types').SimpleNamespace(**globals())"
                   for name in aliases)
    job = Job(tuple(f"{imports}\n{p}{bind}" for p in wrong), checks=checks, call_timeout=5.0,
              budget=20.0)
    outcome = execute(sandbox, job)
    caught = sum(
        counts[p] for p, r in zip(wrong, outcome.reports, strict=True)
        if not r.loaded or not all(r.checks)
    )
    return total_wrong, caught


def table(results: Sequence[TaskResult], source: str) -> str:
    """The summary as markdown."""
    delivered = sum(r.delivered for r in results)
    valid = sum(r.valid for r in results)
    before = sum(r.before[0] for r in results) / max(sum(r.before[1] for r in results), 1)
    after = sum(r.after[0] for r in results) / max(sum(r.after[1] for r in results), 1)
    wrong = sum(r.wrong for r in results)
    rejected = sum(r.rejected for r in results)
    full = sum(r.after[0] == r.after[1] for r in results)
    lines = [
        "| candidate tests | tasks | delivered tests | valid % | line+branch coverage before → "
        "after % | tasks fully covered | wrong samples rejected % | probable bugs |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        f"| {source} | {len(results)} | {delivered} | "
        f"{100 * valid / max(delivered, 1):.1f} ({valid}/{delivered}) | "
        f"{100 * before:.1f} → {100 * after:.1f} | {full} | "
        f"{100 * rejected / max(wrong, 1):.1f} ({rejected}/{wrong}) | "
        f"{sum(r.bugs for r in results)} |",
        "",
        f"time per task: median {statistics.median(r.seconds for r in results):.1f} s, "
        f"mean {statistics.fmean(r.seconds for r in results):.1f} s",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run every task and print the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=None, help="only the first K tasks")
    parser.add_argument("--model", default="", help="a model spec; default: the recorded pool")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--max-new-tokens", type=int, default=384)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "out" / "testgen.jsonl")
    args = parser.parse_args(argv)
    cases = load_cases(args.data)[: args.limit]
    with gzip.open(args.data / "humaneval" / "HumanEval.jsonl.gz", "rt", encoding="utf-8") as f:
        solutions = {row["task_id"]: row["canonical_solution"] for row in map(json.loads, f)}
    model: Backend | None = load_backend(parse_spec(args.model)) if args.model else None
    source = args.model or "recorded CodeGen-16B asserts (CodeT)"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    results: list[TaskResult] = []
    with sandbox_for(SandboxLimits(wall_seconds=900.0)) as sandbox, args.out.open("w") as out:
        for number, case in enumerate(cases, 1):
            backend = model or PoolBackend(pool_answer(case))
            rounds = args.rounds if model else 1
            result = run_case(case, solutions[case.task_id], backend, sandbox, rounds,
                              args.samples, args.max_new_tokens)
            results.append(result)
            out.write(json.dumps(result.__dict__) + "\n")
            out.flush()
            print(f"[{number}/{len(cases)}] {case.task_id}: {result.delivered} tests "
                  f"({result.valid} valid), coverage {result.after[0]}/{result.after[1]}, "
                  f"rejected {result.rejected}/{result.wrong} wrong, {result.seconds:.1f} s",
                  file=sys.stderr, flush=True)
    if model is not None:
        getattr(model, "close", lambda: None)()
    print(f"Test generation, {len(results)} HumanEval reference solutions\n")
    print(table(results, source))
    print(f"\nper-task records: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
