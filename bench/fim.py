r"""Fill-in-the-middle benchmark: HumanEval infilling, the pipeline beside its peers.

The holes are one line, several lines or a character span (``--suite``); the peers are the
raw output and a plain client's first line, with and without a syntax gate.

Each case is sent through the product's `Pipeline` as one editor request, with the editor's
defaults: ``--n`` candidates (the `alternatives` setting; the first is greedy, the others
sampled) and every check (syntax, mypy, the embedded tests in the sandbox; ``--checks
syntax`` keeps only the parse). The document is
``text = prompt + "\n" + suffix`` with the cursor at ``len(prompt)`` (``--layout
empty-line``, the default: the hole line is left empty, as after pressing Enter in an
editor), or ``text = prompt + suffix`` (``--layout joined``: the hole line is removed, so
the cursor sits at column 0 of the line after it, before its code). A recording wrapper
around the backend keeps the raw generation of the very same call, so every row of the
table scores one generation per case:

* raw:    ``text[:offset] + generations[0].text + text[offset:]`` (the model's text inserted
  unchanged; for the joined layout this is ``prompt + raw + suffix``). It is the text the
  model generated in the very call that the product made, which stops at an end token, at
  ``max_new_tokens``, or once post-processing has cut a finished line (everything after
  such a line is cut too, so a raw output without that stop would only be longer)
* first line: the raw text's first line (leading newlines skipped) inserted, as inline
  clients built on llama.cpp show it; gated: shown only when that program parses;
* vetted: ``text[:offset] + items[0].insert + text[items[0].end:]`` (no item: not shown)

Scoring rules (the same for every row; percentages are over all cases run):

* exact match: the program's non-blank lines, right-stripped, equal those of
  ``prompt + canonical_solution + suffix``;
* pass@1: ``program + "\n" + test + "\ncheck(entry_point)\n"`` exits 0 in an isolated
  subprocess (``python -I -c``, temporary cwd, 10 s timeout, output discarded);
* parses: ``ast.parse(program)`` succeeds;
* a case with no suggestion shown (raw: an empty or blank output) fails all three.

Subset: ``sorted(random.Random(0).sample(range(N), CASES))`` indices into the suite's N records;
``--limit K`` runs the first K of that subset. Latency is the wall time of
``Pipeline.complete``; the raw row reports the generation stage of the same call.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.fim_cases import (
    DEFAULT_DATA,
    MBPP_MODULE,
    REPO_ROOT,
    SUBSET_SEED,
    SUITES,
    Case,
    load_cases,
    parses,
    pick_subset,
)
from codegen.pipeline import Pipeline
from codegen.postprocess.scope import is_single_line
from codegen.runtime.backends import Backend, load_backend
from codegen.runtime.call import GenerateCall
from codegen.runtime.engine import Engine
from codegen.runtime.model import parse_spec
from codegen.types import CompletionRequest, ContextFile, Generation
from lsp_server.config import Settings
from lsp_server.eagerness import LEVELS, confidence, gate_reason
from prompts.templates import FimTemplate, Tokenizer
from validators import DEFAULT_VALIDATORS, close_validators, create_validators

NEUTRAL = ContextFile("README.md", "Small functions, one per file, each with its tests.\n")
"""The other file `--other-file` adds to every request."""
TEST_TIMEOUT_S = 10.0


class RecordingBackend:
    """Delegates to a real backend and keeps the raw generations of the last call."""

    def __init__(self, inner: Backend) -> None:
        """Wrap `inner`."""
        self.inner = inner
        self.description: str = inner.description
        self.last: list[Generation] = []

    @property
    def tokenizer(self) -> Tokenizer | None:
        """The wrapped backend's tokenizer."""
        return self.inner.tokenizer

    def generate(self, call: GenerateCall) -> list[Generation]:
        """Generate with the wrapped backend and record what it returned."""
        self.last = self.inner.generate(call)
        return self.last

    @property
    def engine(self) -> Engine | None:
        """The wrapped backend's engine."""
        return self.inner.engine

    def check_adapter(self, path: str) -> None:
        """The wrapped backend's check."""
        self.inner.check_adapter(path)

    def close(self) -> None:
        """Close the wrapped backend."""
        self.inner.close()


@dataclass
class Score:
    """How one program (raw or vetted) did on one case."""

    shown: bool
    exact: bool = False
    passed: bool = False
    parses: bool = False


@dataclass
class Record:
    """Everything measured on one case; one JSON line of `--out`."""

    index: int
    task_id: str
    canonical: str
    single_line: bool
    raw_text: str
    raw_finish: str
    raw_tokens: int
    raw: Score
    first_line: Score
    """The raw output's first line inserted (what llama.vim-style clients show)."""
    first_line_gated: Score
    """The same, shown only when the spliced file parses."""
    vetted_insert: str | None
    vetted_replaces: str | None
    """Document text the vetted item replaces after the cursor ("" when it only inserts)."""
    applied: list[str]
    discarded: list[dict[str, Any]]
    vetted: Score
    latency_ms: float
    """Wall time of `Pipeline.complete`."""
    timings_ms: dict[str, float]
    prompt_tokens: int
    raw_repeats_suffix_line: bool
    raw_multiline: bool
    reference_passed: bool
    notes: list[str] = field(default_factory=list)
    held_back: dict[str, str] = field(default_factory=dict)
    """Why each automatic eagerness level would hold the shown item back ("" = shown)."""
    confidence: float | None = None
    """The shown item's mean log-probability per token (`lsp_server.eagerness`)."""


def normalize(program: str) -> list[str]:
    """The program's non-blank lines, each without trailing whitespace."""
    return [line.rstrip() for line in program.split("\n") if line.strip()]


def run_tests(program: str, case: Case) -> bool:
    """Run the program and the case's hidden tests in an isolated subprocess."""
    source = program + "\n" + case.test + f"\ncheck({case.entry_point})\n"
    with tempfile.TemporaryDirectory(prefix="fim-") as cwd:
        try:
            completed = subprocess.run(
                [sys.executable, "-I", "-c", source],
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=TEST_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return False
    return completed.returncode == 0


def score(program: str | None, case: Case) -> Score:
    """Score one program against the reference and the tests; None means nothing shown."""
    if program is None:
        return Score(shown=False)
    reference = case.prompt + case.canonical + case.suffix
    return Score(
        shown=True,
        exact=normalize(program) == normalize(reference),
        passed=run_tests(program, case),
        parses=parses(program),
    )


def first_line(raw: str) -> str:
    """The first line of a model's text, leading newlines skipped (a plain inline client)."""
    return raw.lstrip("\r\n").split("\n", 1)[0].rstrip("\r")


def repeats_suffix_line(raw: str, suffix: str) -> bool:
    """Tell whether a raw output contains the first non-blank line after the hole."""
    following = next((line.strip() for line in suffix.split("\n") if line.strip()), "")
    return bool(following) and any(line.strip() == following for line in raw.split("\n"))


def run_case(
    pipeline: Pipeline, recorder: RecordingBackend, case: Case, tokens: int, layout: str,
    n: int = 1, workspace: Path | None = None, others: tuple[ContextFile, ...] = (),
) -> Record:
    """Complete one case through the pipeline and score raw and vetted outputs.

    A case with workspace tests is a document of `workspace`, whose test file then holds
    that case's tests (one workspace for all cases: one mypy daemon).
    """
    text = case.prompt + ("\n" if layout == "empty-line" else "") + case.suffix
    offset = len(case.prompt)
    path, root = f"{case.task_id.replace('/', '_')}.py", ""
    if case.workspace_tests and workspace is not None:
        (workspace / f"test_{MBPP_MODULE}.py").write_text(case.workspace_tests, encoding="utf-8")
        path, root = f"{MBPP_MODULE}.py", str(workspace)
    request = CompletionRequest(
        text=text,
        offset=offset,
        path=path,
        root=root,
        context_files=others,
        n=n,
        max_new_tokens=tokens,
        trigger="invoked",
    )
    recorder.last = []
    started = time.perf_counter()
    result = pipeline.complete(request)
    latency = time.perf_counter() - started
    notes: list[str] = []
    if recorder.last:
        generation = recorder.last[0]
    else:
        generation = Generation("", None)
        notes.append("backend returned no generation")
    raw_program = text[:offset] + generation.text + text[offset:]
    raw_score = score(raw_program if generation.text.strip() else None, case)
    line = first_line(generation.text)
    line_program = text[:offset] + line + text[offset:] if line.strip() else None
    line_score = score(line_program, case)
    gated = line_score if line_program is not None and parses(line_program) else Score(False)
    item = result.items[0] if result.items else None
    vetted_program = None if item is None else text[:offset] + item.insert + text[item.end :]
    discarded = [
        {
            "insert": c.insert,
            "applied": list(c.applied),
            "verdicts": [asdict(v) for v in c.verdicts if not v.ok],
        }
        for c in result.discarded
    ]
    timings = result.timings
    return Record(
        index=case.index,
        task_id=case.task_id,
        canonical=case.canonical,
        single_line=is_single_line(text, offset),
        raw_text=generation.text,
        raw_finish=generation.finish_reason.value,
        raw_tokens=generation.tokens,
        raw=raw_score,
        first_line=line_score,
        first_line_gated=gated,
        vetted_insert=None if item is None else item.insert,
        vetted_replaces=None if item is None else text[offset : item.end],
        applied=[] if item is None else list(item.applied),
        discarded=discarded,
        vetted=score(vetted_program, case),
        latency_ms=latency * 1000,
        timings_ms={
            "prompt": timings.prompt * 1000,
            "generate": timings.generate * 1000,
            "postprocess": timings.postprocess * 1000,
            "validate": timings.validate * 1000,
        },
        prompt_tokens=timings.prompt_tokens,
        raw_repeats_suffix_line=repeats_suffix_line(generation.text, case.suffix),
        raw_multiline=len([ln for ln in generation.text.split("\n") if ln.strip()]) > 1,
        reference_passed=run_tests(case.prompt + case.canonical + case.suffix, case),
        notes=notes,
        held_back={} if item is None else {
            name: gate_reason(item, level) for name, level in LEVELS.items()},
        confidence=None if item is None else confidence(item),
    )


def percentile(values: Sequence[float], q: float) -> float:
    """Percentile with linear interpolation between data points; 0 for no values."""
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[int(q) - 1]


def share(flags: Sequence[bool]) -> str:
    """Format a share of true flags as a percentage with the count."""
    if not flags:
        return "n/a"
    return f"{100 * sum(flags) / len(flags):.1f} ({sum(flags)})"


def markdown_table(records: Sequence[Record]) -> str:
    """The results table: raw vs. post-processed + validated."""
    generate_ms = [r.timings_ms["generate"] for r in records]
    pipeline_ms = [r.latency_ms for r in records]
    rows = [
        ("raw model output", [r.raw for r in records], generate_ms, " (generation only)"),
        ("its first line", [r.first_line for r in records], generate_ms, " (generation only)"),
        ("first line, hidden when the file does not parse",
         [r.first_line_gated for r in records], generate_ms, " (generation only)"),
        ("vetted (post-processed + validated)", [r.vetted for r in records], pipeline_ms, ""),
    ]
    lines = [
        "| output | pass@1 % | shown % | right among shown % | exact match % | parses % | "
        "latency p50 / p90 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, scores, latencies, note in rows:
        shown = [s for s in scores if s.shown]
        lines.append(
            f"| {name} | {share([s.passed for s in scores])} | "
            f"{share([s.shown for s in scores])} | {share([s.passed for s in shown])} | "
            f"{share([s.exact for s in scores])} | {share([s.parses for s in scores])} | "
            f"{percentile(latencies, 50):.0f} / {percentile(latencies, 90):.0f}{note} |"
        )
    return "\n".join(lines)


def summary(records: Sequence[Record]) -> str:
    """Counts behind the table: what post-processing changed and why items were dropped."""
    n = len(records)
    shown = [r for r in records if r.vetted.shown]
    applied = Counter(name for r in records for name in r.applied)
    dropped = Counter(
        (v["check"] + ": " + v["reason"])
        for r in records
        for d in r.discarded
        for v in d["verdicts"]
    )
    finish = Counter(r.raw_finish for r in records)
    lost = sum(r.raw.passed and not r.vetted.passed for r in records)
    gained = sum(r.vetted.passed and not r.raw.passed for r in records)
    stages = {
        key: statistics.median(r.timings_ms[key] for r in records)
        for key in ("prompt", "generate", "postprocess", "validate")
    }
    lines = [
        f"cases: {n}; reference solutions pass: {sum(r.reference_passed for r in records)}/{n}",
        f"raw finish reasons: {dict(finish)}",
        f"cases scoped single-line by the pipeline: {sum(r.single_line for r in records)}/{n}",
        f"raw outputs with >1 non-blank line: {sum(r.raw_multiline for r in records)}; "
        f"repeating the first line after the hole: "
        f"{sum(r.raw_repeats_suffix_line for r in records)}",
        f"filters that changed the shown item: {dict(applied)}",
        f"dropped candidates by reason: {dict(dropped)}",
        f"pass@1 among shown: {share([r.vetted.passed for r in shown])}; "
        f"raw pass@1 on the same cases: {share([r.raw.passed for r in shown])}",
        f"raw passes lost by the pipeline: {lost}; vetted passes where raw failed: {gained}",
        "median stage ms: " + ", ".join(f"{k} {v:.1f}" for k, v in stages.items()),
        f"mean prompt tokens: {statistics.mean(r.prompt_tokens for r in records):.0f}",
        "as automatic suggestions (lsp_server.eagerness): " + "; ".join(
            f"{name}: shown {sum(not r.held_back[name] for r in shown)}, passing "
            f"{sum(r.vetted.passed and not r.held_back[name] for r in shown)}, passing held "
            f"back {sum(r.vetted.passed and bool(r.held_back[name]) for r in shown)}"
            for name in LEVELS),
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data directory")
    parser.add_argument("--suite", choices=sorted(SUITES), default="single",
                        help="single-line, multi-line or random-span holes")
    parser.add_argument("--cases", type=int, default=200, help="subset size (seeded sample)")
    parser.add_argument("--limit", type=int, default=None, help="run only the first K cases")
    parser.add_argument("--model", default="pypi:qwen2.5-coder-0.5b-instruct")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument(
        "--layout",
        choices=("joined", "empty-line"),
        default="empty-line",
        help="joined: document = prompt + suffix (cursor at the start of the line after the "
        "hole); empty-line: prompt + newline + suffix (cursor on the emptied hole line)",
    )
    parser.add_argument(
        "--n", type=int, default=Settings().alternatives,
        help="candidates per request (default: the editor's `alternatives`); the peers use "
        "the first, greedy one",
    )
    parser.add_argument(
        "--checks", choices=("all", "syntax"), default="all",
        help="all: syntax, mypy and the embedded tests, as in the editor; syntax: parse only",
    )
    parser.add_argument(
        "--tests-in-prompt", choices=("on", "off"), default="on",
        help="show the model the workspace's tests of the function (the `testsInPrompt` "
        "setting; only the mbpp-tests suite has such tests, and they go in only beside other "
        "files: see --other-file)",
    )
    parser.add_argument(
        "--other-file", action="store_true",
        help=f"put a neutral other file ({NEUTRAL.path}) into every prompt, as an editor with "
        "another file open does: the prompt then has the repository format either way",
    )
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "out" / "fim.jsonl")
    return parser.parse_args(argv)


def run_all(
    pipeline: Pipeline, recorder: RecordingBackend, cases: Sequence[Case], args: argparse.Namespace
) -> list[Record]:
    """Run every case, writing its record to `args.out` as soon as it is scored."""
    records: list[Record] = []
    with (args.out.open("w", encoding="utf-8") as out,
          tempfile.TemporaryDirectory(prefix="fim-workspace-") as workspace):
        for number, case in enumerate(cases, 1):
            record = run_case(
                pipeline, recorder, case, args.max_new_tokens, args.layout, args.n,
                Path(workspace), (NEUTRAL,) if args.other_file else (),
            )
            records.append(record)
            out.write(json.dumps(asdict(record)) + "\n")
            out.flush()
            print(
                f"[{number}/{len(cases)}] {case.task_id} #{case.index}: "
                f"raw pass={record.raw.passed} vetted shown={record.vetted.shown} "
                f"pass={record.vetted.passed} {record.latency_ms:.0f} ms",
                file=sys.stderr,
                flush=True,
            )
    return records


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, write per-case records, print the table and a summary."""
    args = parse_args(argv)
    cases = pick_subset(load_cases(args.data, args.suite), args.cases)
    if args.limit is not None:
        cases = cases[: args.limit]
    spec = parse_spec(args.model)
    started = time.perf_counter()
    backend = load_backend(spec, device=args.device)
    print(f"loaded {backend.description} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    recorder = RecordingBackend(backend)
    validators = create_validators(patient=True) if args.checks == "all" else DEFAULT_VALIDATORS
    pipeline = Pipeline(recorder, FimTemplate(), validators=validators,
                        tests_in_prompt=args.tests_in_prompt == "on")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    records: list[Record] = []
    try:
        records = run_all(pipeline, recorder, cases, args)
    finally:
        close_validators(validators)
    if not records:
        print("no cases run", file=sys.stderr)
        return 1
    print(
        f"FIM, {SUITES[args.suite].parent}/{args.suite} infilling: {len(records)} cases "
        f"(subset: sorted(random.Random({SUBSET_SEED}).sample(range(N), {args.cases})) "
        f"of the {SUITES[args.suite].name} records"
        f"{f', first {args.limit}' if args.limit is not None else ''}); "
        f"model {args.model} on {args.device}; max_new_tokens {args.max_new_tokens}; "
        f"layout {args.layout}; {args.n} candidate(s) per request, checks: {args.checks}, "
        f"tests in prompt: {args.tests_in_prompt}"
        f"{f', other file {NEUTRAL.path}' if args.other_file else ''}\n"
    )
    print(markdown_table(records))
    print()
    print(summary(records))
    print(f"\nper-case records: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
