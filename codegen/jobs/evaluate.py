"""`vetted eval`: benchmark suites through `vetted batch`, scored with their hidden tests.

The suites are public files (HumanEval, its infilling variants, MBPP in HumanEval's format)
in a data folder. Requests are built from the prompt (and the text after the hole) only;
the hidden tests are read here, after the batch ran, and executed in the sandbox:
``prompt + completion (+ suffix) + test + check(entry_point)``. Scores: pass@1 of the raw
model output (the first generation, inserted unchanged) and of the vetted top suggestion
(nothing shown counts as a failure), and pass@k for k up to n (the unbiased estimator of
Chen et al. 2021 over the raw samples; for vetted, whether any of the top k passes).

Results are resumed like `vetted batch`'s, and kept apart by the settings that made them:
the default folder's name ends in a digest of them (`default_folder`), and the report
names them.
"""

from __future__ import annotations

import gzip
import json
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from codegen.jobs.results import fingerprint
from validators.execution import Job, execute
from validators.sandbox import Sandbox

Layout = Literal["continue", "infill"]

SUITES: Mapping[str, tuple[str, Layout]] = {
    "humaneval": ("humaneval/HumanEval.jsonl.gz", "continue"),
    "mbpp": ("mbpp/mbpp_sanitized_for_code_generation.jsonl", "continue"),
    "infill-single": ("humaneval/HumanEval-SingleLineInfilling.jsonl.gz", "infill"),
    "infill-multi": ("humaneval/HumanEval-MultiLineInfilling.jsonl.gz", "infill"),
    "infill-span": ("humaneval/HumanEval-RandomSpanInfilling.jsonl.gz", "infill"),
}
"""Suite name → (file under the data folder, how a request is made from a record)."""


class SuiteError(ValueError):
    """A suite that cannot be read, with the reason."""


@dataclass(frozen=True)
class Task:
    """One benchmark task: what the model sees, and the hidden test it is scored with."""

    task_id: str
    prompt: str
    suffix: str
    test: str
    entry_point: str


def load_suite(data: Path, suite: str) -> tuple[list[Task], Layout]:
    """Every task of a suite, in file order."""
    if suite not in SUITES:
        raise SuiteError(f"unknown suite {suite!r}; known: {', '.join(SUITES)}")
    name, layout = SUITES[suite]
    path = data / name
    if not path.is_file():
        raise SuiteError(f"{path} not found (give the data folder with --data)")
    opener = gzip.open if path.suffix == ".gz" else open
    tasks = []
    with opener(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            try:
                row = json.loads(line)
                tasks.append(Task(row["task_id"], row["prompt"], row.get("suffix", ""),
                                  row["test"], row["entry_point"]))
            except (ValueError, KeyError, TypeError) as exc:
                raise SuiteError(f"{path}:{number}: not a task ({exc})") from exc
    return tasks, layout


def default_folder(settings: Mapping[str, Any]) -> Path:
    """``eval-out/SUITE-DIGEST``: runs with other settings never share results."""
    return Path("eval-out") / f"{settings['suite']}-{fingerprint(settings)}"


def pick(tasks: Sequence[Task], subset: int | None, limit: int | None) -> list[Task]:
    """A seeded subset (``random.Random(0).sample``, in file order), then the first `limit`."""
    chosen = list(tasks)
    if subset is not None and subset < len(chosen):
        indices = sorted(random.Random(0).sample(range(len(chosen)), subset))
        chosen = [chosen[i] for i in indices]
    return chosen[:limit] if limit is not None else chosen


def document(task: Task, layout: Layout) -> tuple[str, int]:
    """The document and cursor of a task's request.

    Infilling tasks leave the hole's line empty, as after pressing Enter in an editor.
    """
    if layout == "continue":
        return task.prompt, len(task.prompt)
    return task.prompt + "\n" + task.suffix, len(task.prompt)


def batch_record(task: Task, layout: Layout, n: int, max_new_tokens: int) -> dict[str, Any]:
    """The `vetted batch` input line of a task: no hidden test in it."""
    text, offset = document(task, layout)
    record: dict[str, Any] = {"id": task.task_id, "n": n, "max_new_tokens": max_new_tokens}
    if layout == "continue":
        record["prompt"] = text
    else:
        record.update(prefix=text[:offset], suffix=text[offset:])
    return record


@dataclass(frozen=True)
class TaskScore:
    """How one task's outputs did on its hidden test."""

    task_id: str
    raw: tuple[bool, ...]
    """Per raw generation, in order."""
    vetted: tuple[bool, ...]
    """Per shown suggestion, best first (empty when nothing was shown)."""
    error: str = ""


def score(
    sandbox: Sandbox, tasks: Sequence[Task], layout: Layout, records: Mapping[str, Any]
) -> list[TaskScore]:
    """Run every task's raw and vetted programs with its hidden test, in the sandbox."""
    scores = []
    for task in tasks:
        record = records.get(task.task_id)
        if record is None or "error" in record:
            why = record.get("error", "") if record else "no result"
            scores.append(TaskScore(task.task_id, (), (), str(why)))
            continue
        text, offset = document(task, layout)
        raw = [text[:offset] + r + text[offset:] for r in record.get("raw", [])]
        vetted = [text[:offset] + c["text"] + text[int(c["replaces"]):]
                  for c in record.get("completions", [])]
        passed = _run(sandbox, [*raw, *vetted], task)
        scores.append(TaskScore(task.task_id, tuple(passed[: len(raw)]),
                                tuple(passed[len(raw):])))
    return scores


def _run(sandbox: Sandbox, programs: Sequence[str], task: Task) -> list[bool]:
    if not programs:
        return []
    distinct = list(dict.fromkeys(programs))
    check = f"{task.test}\ncheck({task.entry_point})\n"
    outcome = execute(sandbox, Job(tuple(distinct), checks=(check,), call_timeout=10.0,
                                   budget=10.0))
    if outcome.unavailable:
        raise SuiteError(f"hidden tests cannot run without the sandbox: {outcome.unavailable}")
    passes = {p: bool(r.loaded and r.checks and r.checks[0])
              for p, r in zip(distinct, outcome.reports, strict=True)}
    return [passes[p] for p in programs]


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased pass@k estimate from n samples with c correct (Chen et al. 2021)."""
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def report(suite: str, scores: Sequence[TaskScore], n: int, *,
           settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The JSON report: pass@1 raw and vetted, pass@k, shown share, per-task results.

    `settings`, what produced the results (model, n, subset, ...), are reported as given.
    """
    total = len(scores)

    def mean(values: Sequence[float]) -> float:
        return round(100.0 * sum(values) / total, 2) if total else 0.0

    result: dict[str, Any] = {
        "suite": suite,
        **({"settings": dict(settings)} if settings is not None else {}),
        "tasks": total,
        "n": n,
        "pass@1": {
            "raw": mean([float(s.raw[0]) if s.raw else 0.0 for s in scores]),
            "vetted": mean([float(s.vetted[0]) if s.vetted else 0.0 for s in scores]),
        },
        "shown": mean([float(bool(s.vetted)) for s in scores]),
        "errors": sum(bool(s.error) for s in scores),
    }
    for k in range(2, n + 1):
        result[f"pass@{k}"] = {
            "raw": mean([pass_at_k(len(s.raw), sum(s.raw), k) if len(s.raw) >= k else 0.0
                         for s in scores]),
            "vetted": mean([float(any(s.vetted[:k])) for s in scores]),
        }
    result["per_task"] = [
        {"task_id": s.task_id, "raw": list(s.raw), "vetted": list(s.vetted)}
        | ({"error": s.error} if s.error else {})
        for s in scores
    ]
    return result
