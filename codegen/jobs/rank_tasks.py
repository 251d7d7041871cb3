"""`vetted rank`: rank recorded candidates with the validators and ranking of completions.

One task per JSON line, with exactly these fields (no other field is ever read, so a hidden
test stored beside them cannot leak into the ranking):

* ``task_id``; ``prompt``: the code before the hole (signature and docstring);
  ``entry_point``: the function's name;
* ``candidates``: strings; ``candidates_are``: ``"continuations"`` (the default: each
  continues ``prompt``) or ``"programs"`` (each a whole module defining ``entry_point``;
  ``prompt`` still supplies the docstring, types and examples);
* ``tests`` (optional): model-generated ``assert`` statements.

Each output line: ``task_id``, ``ranking`` (candidate indices, best first), ``top`` (the
indices tied for first place: same evidence, support and log-probability), ``verdicts``
(per candidate, by check name).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from codegen.ranking import GENERATED, SYNTAX, TESTS, agreement, evidence_level, rank
from codegen.types import Candidate
from prompts.context import Check, function_context, render_checks
from validators.base import Splice, Validator, Verdict
from validators.embedded import EmbeddedTestsValidator, probes_for
from validators.execution import Job, Report, execute
from validators.probes import agreement_probes, probe_of_assert
from validators.sandbox import Sandbox
from validators.syntax import ast_error

FIELDS = frozenset({"task_id", "prompt", "entry_point", "candidates", "candidates_are", "tests"})
"""The only fields of an input line that are read."""

CandidatesAre = Literal["continuations", "programs"]


@dataclass(frozen=True)
class RankTask:
    """One input line."""

    task_id: str
    prompt: str
    entry_point: str
    candidates: tuple[str, ...]
    candidates_are: CandidatesAre = "continuations"
    tests: tuple[str, ...] = ()

    def programs(self) -> list[str]:
        """Each candidate as the whole module it stands for."""
        if self.candidates_are == "programs":
            return list(self.candidates)
        return [self.prompt + candidate for candidate in self.candidates]


def parse_task(record: Mapping[str, Any]) -> RankTask:
    """Read the allowed fields of one input record; raise `ValueError` saying what is wrong."""
    data = {key: record[key] for key in FIELDS if key in record}
    for key in ("task_id", "prompt", "entry_point", "candidates"):
        if key not in data:
            raise ValueError(f"missing field {key!r}")
    for key in ("task_id", "prompt", "entry_point"):
        if not isinstance(data[key], str):
            raise ValueError(f"{key} must be a string")
    kind = data.get("candidates_are", "continuations")
    if kind not in ("continuations", "programs"):
        raise ValueError("candidates_are must be 'continuations' or 'programs'")
    candidates, tests = data["candidates"], data.get("tests", [])
    for key, value in (("candidates", candidates), ("tests", tests)):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{key} must be a list of strings")
    return RankTask(
        data["task_id"], data["prompt"], data["entry_point"], tuple(candidates), kind, tuple(tests)
    )


@dataclass(frozen=True)
class RankOptions:
    """Which evidence the ranking may use (all of it by default; the benchmark turns parts off)."""

    examples: bool = True
    """Run the prompt's docstring examples."""
    agreement: bool = True
    """Cluster candidates by behaviour on probe inputs."""
    generated: bool = True
    """Use the task's generated tests (dual agreement)."""
    probe_limit: int = 80
    """Nearby inputs added to the known calls."""


@dataclass(frozen=True)
class RankedTask:
    """One output line."""

    task_id: str
    ranking: list[int]
    top: list[int]
    verdicts: list[dict[str, dict[str, Any]]]
    seconds: float

    def as_json(self) -> dict[str, Any]:
        """The output record."""
        return {
            "task_id": self.task_id,
            "ranking": self.ranking,
            "top": self.top,
            "verdicts": self.verdicts,
            "seconds": round(self.seconds, 3),
        }


def _parses(program: str) -> bool:
    return ast_error(program) is None


def generated_checks(tests: Sequence[str], entry_point: str) -> list[str]:
    """Generated asserts that parse and call the function, without repeats."""
    kept: dict[str, None] = {}
    for test in tests:
        text = test.strip()
        if entry_point in text and text.startswith("assert") and _parses(text):
            kept[text] = None
    return list(kept)


def rank_task(
    task: RankTask,
    sandbox: Sandbox,
    options: RankOptions = RankOptions(),
    typecheck: Validator | None = None,
) -> RankedTask:
    """Vet every distinct candidate program, rank them, and map back to candidate indices."""
    started = time.perf_counter()
    pool = vet_task(task, sandbox, options, typecheck)
    return rank_pool(task, pool, time.perf_counter() - started)


def vet_task(
    task: RankTask,
    sandbox: Sandbox,
    options: RankOptions = RankOptions(),
    typecheck: Validator | None = None,
) -> list[Candidate]:
    """One candidate per distinct program, with its votes and every verdict."""
    programs = task.programs()
    distinct = list(dict.fromkeys(programs))
    votes = {p: programs.count(p) for p in distinct}
    verdicts: dict[str, list[Verdict]] = {p: [] for p in distinct}
    for program in distinct:
        ok = _parses(program)
        verdicts[program].append(Verdict(SYNTAX, ok, "" if ok else "does not parse"))
    runnable = [p for p in distinct if verdicts[p][0].ok]
    if typecheck is not None:
        for program in runnable:
            verdicts[program].append(typecheck.check(_splice(task, program)))
    executed = _execution_verdicts(task, runnable, sandbox, options)
    for program, found in zip(runnable, executed, strict=True):
        verdicts[program] += found
    return [Candidate(p, p, 0, votes=votes[p], verdicts=tuple(verdicts[p])) for p in distinct]


def rank_pool(task: RankTask, pool: Sequence[Candidate], seconds: float = 0.0) -> RankedTask:
    """Rank vetted programs and report it per candidate index, with the ties for first."""
    programs = task.programs()
    ranked = rank(pool)
    support = {c.insert: s for c, s in zip(pool, agreement(pool), strict=True)}
    logprob = {c.insert: c.logprob for c in pool}
    indices: dict[str, list[int]] = {}
    for index, program in enumerate(programs):
        indices.setdefault(program, []).append(index)
    order = [i for c in ranked for i in indices.get(c.insert, [])]

    def tie_key(c: Candidate) -> tuple[int, float, float | None]:
        return evidence_level(c), support[c.insert], logprob[c.insert]

    first = tie_key(ranked[0]) if ranked else None
    top = sorted(i for c in ranked if tie_key(c) == first for i in indices.get(c.insert, []))
    by_program = {c.insert: c.verdicts for c in pool}
    table = [{v.check: v.as_dict(full=False) for v in by_program.get(p, ())} for p in programs]
    return RankedTask(task.task_id, order, top, table, seconds)


def _splice(task: RankTask, program: str) -> Splice:
    """The candidate as an edit, so a type check counts only the errors it adds."""
    path = f"{task.entry_point}.py"
    if task.candidates_are == "continuations":
        end = len(task.prompt)
        return Splice(task.prompt, end, end, program[end:], path)
    return Splice("", 0, 0, program, path)


def _execution_verdicts(
    task: RankTask, programs: Sequence[str], sandbox: Sandbox, options: RankOptions
) -> list[list[Verdict]]:
    """Run the examples and generated tests; a tests and a generated verdict per program."""
    context = function_context(task.prompt, len(task.prompt)) if options.examples else None
    checks: list[Check] = list(render_checks(context)) if context is not None else []
    generated = generated_checks(task.tests, task.entry_point) if options.generated else []
    if options.agreement:
        known = probes_for(context, checks, 0) if context is not None else []
        known += [p for t in generated if (p := probe_of_assert(t)) is not None]
        probes = agreement_probes(known, task.entry_point, limit=options.probe_limit)
    else:
        probes = []
    if not programs or not (checks or generated or probes):
        return [[] for _ in programs]
    job = Job(
        tuple(programs),
        probes=tuple(probes),
        checks=tuple([c.source for c in checks] + generated),
        call_timeout=0.5,
        budget=4.0,
    )
    outcome = execute(sandbox, job)
    examples = EmbeddedTestsValidator(sandbox, TESTS)
    produced = EmbeddedTestsValidator(sandbox, GENERATED, "generated tests")
    if outcome.unavailable:
        why = f"sandbox unavailable: {outcome.unavailable}"
        return [[Verdict(TESTS, True, "", why, ran=False)] for _ in programs]
    found: list[list[Verdict]] = []
    split = len(checks)
    for report in outcome.reports:
        own = Report(report.loaded, report.error, report.probes, report.checks[:split])
        rest = Report(report.loaded, report.error, report.probes, report.checks[split:])
        row = []
        if checks:
            row.append(examples.verdict_for(own, len(checks), checks))
        else:
            row.append(Verdict(TESTS, True, "", "no examples", ran=False, behaviour=report.probes))
        if generated:
            tally = produced.verdict_for(rest, len(generated))
            # Generated tests are often wrong: they count as support, never as a failure.
            outcomes = tuple("-" if c is None else "1" if c else "0" for c in rest.checks)
            row.append(Verdict(GENERATED, True, tally.reason, tally.detail, True, rest.passed,
                               len(generated), behaviour=outcomes))
        found.append(row)
    return found


