r"""Ranking benchmark: recorded CodeGen-16B HumanEval samples, ranked by `vetted rank`'s code.

For each of the 164 HumanEval tasks, the 100 recorded CodeGen-Mono-16B samples of CodeT
(``codet/..._code_solution.jsonl``, cut at ``\nclass``, ``\ndef``, ``\n#``, ``\nif``,
``\nprint`` as CodeT does) are the candidates, and the 100 recorded generated test samples
(``codet/..._test_case.jsonl``; every leading ``assert`` line of each) are the generated
tests. Two settings:

* examples: the prompt is HumanEval's original one, docstring examples included, which
  the ranker extracts and runs (the candidates continue CodeT's prompt, the same function
  without the examples);
* no examples: CodeT's example-free prompt, so only generated tests and agreement help.

Each task goes through `codegen.jobs.rank_tasks.vet_task` once (the product's validators,
sandbox and probes) and `rank_pool` (the product's ranking). Each validator's marginal
gain is measured by ranking the same vetted pool with evidence removed (ablation). The
hidden HumanEval tests label each distinct program (run in the same sandbox, apart from
the ranking, which never sees them). pass@1 is the expected share of correct candidates
among those tied for first place; random is the mean over all 100; the oracle is "any of
100". 95 % intervals: paired bootstrap over tasks (2,000 resamples, seed 0).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from codegen.jobs.rank_tasks import RankOptions, RankTask, generated_checks, rank_pool, vet_task
from codegen.ranking import GENERATED, TESTS, TYPES
from codegen.types import Candidate
from validators.base import Validator, Verdict
from validators.execution import Job, execute
from validators.sandbox import Sandbox, SandboxLimits

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data"
CODET = Path("codet")
SOLUTIONS = CODET / "HumanEval_codegen16B_temp0.8_topp0.95_num100_max300_code_solution.jsonl"
TEST_SAMPLES = CODET / "HumanEval_codegen16B_temp0.8_topp0.95_num100_max300_test_case.jsonl"
STOPS = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")
BOOTSTRAP = 2000


@dataclass(frozen=True)
class Case:
    """One HumanEval task with its recorded samples and tests."""

    task_id: str
    original_prompt: str
    codet_prompt: str
    entry_point: str
    samples: tuple[str, ...]
    tests: tuple[str, ...]
    hidden: str
    """HumanEval's test code: only for labelling, never given to the ranker."""


def cut(sample: str) -> str:
    """Cut a sample at CodeT's stop strings."""
    ends = [sample.find(stop) for stop in STOPS if stop in sample]
    return sample[: min(ends)] if ends else sample


def leading_asserts(sample: str) -> list[str]:
    """The ``assert`` lines a generated test sample starts with (it continues "assert ")."""
    lines = ("assert " + sample).split("\n")
    kept: list[str] = []
    for line in lines:
        if not line.strip().startswith("assert "):
            break
        kept.append(line.strip())
    return kept


def load_cases(data: Path) -> list[Case]:
    """Join HumanEval, CodeT's prompts, samples and generated tests by task id."""
    with gzip.open(data / "humaneval" / "HumanEval.jsonl.gz", "rt", encoding="utf-8") as f:
        humaneval = {r["task_id"]: r for r in map(json.loads, f)}
    by_prompt = {}
    for name in ("HumanEval_for_code_generation.jsonl", "HumanEval_for_test_case_generation.jsonl"):
        for row in map(json.loads, (data / CODET / name).read_text().splitlines()):
            by_prompt[row["prompt"]] = row["task_id"]
    tests: dict[str, list[str]] = {}
    for row in map(json.loads, (data / TEST_SAMPLES).read_text().splitlines()):
        tests[by_prompt[row["prompt"]]] = [a for s in row["samples"] for a in leading_asserts(s)]
    cases = []
    for row in map(json.loads, (data / SOLUTIONS).read_text().splitlines()):
        task_id = by_prompt[row["prompt"]]
        task = humaneval[task_id]
        cases.append(
            Case(
                task_id,
                task["prompt"],
                row["prompt"],
                task["entry_point"],
                tuple(cut(s) for s in row["samples"]),
                tuple(generated_checks(tests[task_id], task["entry_point"])),
                task["test"] + f"\ncheck({task['entry_point']})\n",
            )
        )
    return sorted(cases, key=lambda c: int(c.task_id.split("/")[1]))


def task_of(case: Case, with_examples: bool) -> RankTask:
    """The `vetted rank` input for a case: what the ranker may see, nothing more."""
    if with_examples:
        # The candidates continue CodeT's prompt; the ranker reads HumanEval's examples.
        programs = tuple(case.codet_prompt + s for s in case.samples)
        return RankTask(case.task_id, case.original_prompt, case.entry_point, programs,
                        "programs", case.tests)
    return RankTask(case.task_id, case.codet_prompt, case.entry_point, case.samples,
                    "continuations", case.tests)


def label(sandbox: Sandbox, programs: Sequence[str], hidden: str) -> dict[str, bool]:
    """Whether each distinct program passes HumanEval's hidden tests."""
    distinct = list(dict.fromkeys(programs))
    job = Job(tuple(distinct), checks=(hidden,), call_timeout=10.0, budget=10.0)
    outcome = execute(sandbox, job)
    if outcome.unavailable:
        raise SystemExit(f"ranking: the sandbox is needed: {outcome.unavailable}")
    return {p: bool(r.loaded and r.checks and r.checks[0]) for p, r in zip(
        distinct, outcome.reports, strict=True)}


def strip(pool: Sequence[Candidate], *, drop: set[str], behaviour: bool) -> list[Candidate]:
    """The pool with some evidence removed: dropped checks count as not run."""

    def keep(verdict: Verdict) -> Verdict | None:
        if verdict.check in drop:
            return None
        return verdict if behaviour else replace(verdict, behaviour=())

    return [
        replace(c, verdicts=tuple(v for v in map(keep, c.verdicts) if v is not None))
        for c in pool
    ]


Ablation = Callable[[Sequence[Candidate]], list[Candidate]]

ABLATIONS: dict[str, dict[str, Ablation]] = {
    "examples": {
        "syntax only": lambda p: strip(p, drop={TESTS, TYPES, GENERATED}, behaviour=False),
        "+ examples": lambda p: strip(p, drop={TYPES, GENERATED}, behaviour=False),
        "+ examples + agreement": lambda p: strip(p, drop={TYPES, GENERATED}, behaviour=True),
        "+ generated tests (all)": lambda p: strip(p, drop={TYPES}, behaviour=True),
    },
    "no examples": {
        "syntax only": lambda p: strip(p, drop={TESTS, TYPES, GENERATED}, behaviour=False),
        "+ agreement": lambda p: strip(p, drop={TYPES, GENERATED}, behaviour=True),
        "+ generated tests (all: dual agreement)": lambda p: strip(
            p, drop={TYPES}, behaviour=True
        ),
    },
}
"""Per setting: strategy name → the pool it ranks (evidence removed from the full pool)."""


def expected_top(task: RankTask, pool: Sequence[Candidate], correct: dict[str, bool]) -> float:
    """Expected correctness of the first-ranked candidate, ties averaged."""
    ranked = rank_pool(task, pool)
    programs = task.programs()
    return statistics.mean(correct[programs[i]] for i in ranked.top) if ranked.top else 0.0


def bootstrap(values: Sequence[float], seed: int = 0) -> tuple[float, float]:
    """95 % interval of the mean by resampling tasks."""
    rng = random.Random(seed)
    n = len(values)
    means = sorted(statistics.fmean(rng.choices(values, k=n)) for _ in range(BOOTSTRAP))
    return means[int(0.025 * BOOTSTRAP)], means[int(0.975 * BOOTSTRAP) - 1]


def paired(a: Sequence[float], b: Sequence[float], seed: int = 0) -> tuple[float, float]:
    """95 % interval of mean(a - b) by resampling tasks (paired)."""
    return bootstrap([x - y for x, y in zip(a, b, strict=True)], seed)


def run_setting(
    cases: Sequence[Case],
    with_examples: bool,
    sandbox: Sandbox,
    typecheck: Validator | None,
    typecheck_tasks: int,
) -> Iterator[dict[str, Any]]:
    """Vet and rank every case in one setting; yield one record per case."""
    name = "examples" if with_examples else "no examples"
    for number, case in enumerate(cases, 1):
        task = task_of(case, with_examples)
        started = time.perf_counter()
        check_types = typecheck if number <= typecheck_tasks else None
        pool = vet_task(task, sandbox, RankOptions(), check_types)
        seconds = time.perf_counter() - started
        correct = label(sandbox, task.programs(), case.hidden)
        record: dict[str, Any] = {
            "task_id": case.task_id,
            "setting": name,
            "seconds": seconds,
            "random": statistics.mean(correct[p] for p in task.programs()),
            "oracle": float(any(correct.values())),
        }
        for strategy, ablate in ABLATIONS[name].items():
            record[strategy] = expected_top(task, ablate(pool), correct)
        if check_types is not None:
            with_types = strip(pool, drop=set(), behaviour=True)
            record["typed: + mypy"] = expected_top(task, with_types, correct)
            record["typed: without mypy"] = record[list(ABLATIONS[name])[-1]]
        print(
            f"[{name} {number}/{len(cases)}] {case.task_id}: {seconds:.1f} s, "
            f"full {record[list(ABLATIONS[name])[-1]]:.2f}, random {record['random']:.2f}",
            file=sys.stderr,
            flush=True,
        )
        yield record


def task_number(task_id: str) -> int:
    """HumanEval/17 → 17: even-numbered tasks tune the ranking, odd ones are held out."""
    return int(task_id.rsplit("/", 1)[1])


def table(records: Sequence[dict[str, Any]], setting: str) -> str:
    """Markdown table of one setting: pass@1 with intervals, gain over random."""
    rows = [r for r in records if r["setting"] == setting]
    strategies = ["random", *ABLATIONS[setting], "oracle"]
    base = [r["random"] for r in rows]
    lines = [
        f"| {setting}: strategy | pass@1 % | 95 % CI | gain over random (95 % CI) | "
        "even tasks (tuning) % | odd tasks (held out) % |",
        "|---|---|---|---|---|---|",
    ]
    for strategy in strategies:
        values = [r[strategy] for r in rows]
        low, high = bootstrap(values)
        gain_low, gain_high = paired(values, base)
        gain = statistics.fmean(values) - statistics.fmean(base)
        halves = [[r[strategy] for r in rows if task_number(r["task_id"]) % 2 == parity]
                  for parity in (0, 1)]
        even, odd = (f"{100 * statistics.fmean(h):.1f}" if h else "n/a" for h in halves)
        lines.append(
            f"| {strategy} | {100 * statistics.fmean(values):.1f} | "
            f"{100 * low:.1f}–{100 * high:.1f} | "
            f"{100 * gain:+.1f} ({100 * gain_low:+.1f}…{100 * gain_high:+.1f}) | {even} | {odd} |"
        )
    typed = [r for r in rows if "typed: + mypy" in r]
    if typed:
        with_mypy = [r["typed: + mypy"] for r in typed]
        without = [r["typed: without mypy"] for r in typed]
        low, high = paired(with_mypy, without)
        lines.append(
            f"| mypy's marginal gain on the first {len(typed)} tasks | "
            f"{100 * statistics.fmean(with_mypy):.1f} vs {100 * statistics.fmean(without):.1f} "
            f"| | {100 * (statistics.fmean(with_mypy) - statistics.fmean(without)):+.1f} "
            f"({100 * low:+.1f}…{100 * high:+.1f}) |"
        )
    seconds = [r["seconds"] for r in rows]
    lines.append(
        f"\ntime to vet one task (100 samples): median {statistics.median(seconds):.1f} s, "
        f"mean {statistics.fmean(seconds):.1f} s"
    )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data directory")
    parser.add_argument("--limit", type=int, default=None, help="only the first K tasks")
    parser.add_argument(
        "--settings", choices=("examples", "no-examples", "both"), default="both"
    )
    parser.add_argument("--mypy-tasks", type=int, default=0,
                        help="also type-check candidates of the first K tasks (slow)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "out" / "ranking.jsonl")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the tables."""
    args = parse_args(argv)
    cases = load_cases(args.data)[: args.limit]
    settings = {"examples": [True], "no-examples": [False], "both": [True, False]}[args.settings]
    typecheck: Validator | None = None
    if args.mypy_tasks:
        from validators.typecheck import MypyValidator, TypecheckSettings

        typecheck = MypyValidator(TypecheckSettings(budget_seconds=60.0))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    records: list[dict[str, Any]] = []
    with Sandbox(SandboxLimits(wall_seconds=900.0)) as sandbox, args.out.open("w") as out:
        for with_examples in settings:
            for record in run_setting(cases, with_examples, sandbox, typecheck, args.mypy_tasks):
                records.append(record)
                out.write(json.dumps(record) + "\n")
                out.flush()
    if typecheck is not None:
        getattr(typecheck, "close", lambda: None)()
    print(f"Ranking, {len(cases)} HumanEval tasks × 100 CodeGen-16B samples (CodeT)\n")
    for setting in ("examples", "no examples"):
        if any(r["setting"] == setting for r in records):
            print(table(records, setting) + "\n")
    print(f"per-task records: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
