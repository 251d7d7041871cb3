r"""Fill-in-the-middle beyond Python: one-line holes in well-known packages, vetted beside peers.

The holes are whole statement lines cut from function bodies of pinned TypeScript,
JavaScript, Go, Rust, C, C++ and Java packages (`bench/fetch_sources.sh`; the cutting rule
is in `bench.fim_language_cases`). Each case is sent through the product's `Pipeline` as
one editor request: the whole file as the layout (``--layout``) leaves it (the hole line
emptied, the cursor at its indentation; removed, the cursor at the start of the next line;
or typed up to its first bracket, the editor's auto-inserted closer after the cursor),
the file's path and LSP languageId, ``--n`` candidates (the first greedy) and the
stateless validators (the syntax gate: mypy and the embedded tests are Python-only). The
prompt keeps what the template's budget (``--max-prompt-tokens``) keeps around the cursor.
A recording wrapper keeps the raw generation of the very same call (`bench.fim`), so
every row scores one generation per case:

* raw: the model's text inserted at the cursor unchanged (shown when not blank);
* first line: its first line (leading newlines skipped), as a plain inline client shows it;
* first line, gated: the same, shown only when the spliced file has no more tree-sitter
  ERROR/MISSING nodes than the document had (a syntax gate of its own);
* vetted: the pipeline's first item (``text[:offset] + insert + text[end:]``; none: not
  shown).

Scores, over all cases of a language (nothing shown fails both):

* exact: the program's non-blank lines, each with its whitespace runs collapsed, equal
  those of the original file;
* parses: the program has no more ERROR/MISSING nodes than the original file (tree-sitter,
  `prompts.grammars`). Nothing is executed;
* mis-indented (among shown): the program's hole line is not indented as the file's was,
  what a user sees as a suggestion that breaks their indentation.

Latency is the wall time of ``Pipeline.complete``; the peers' is the generation stage of
the same call.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.fim import RecordingBackend, first_line, percentile, share
from bench.fim_language_cases import (
    BODIES,
    DEFAULT_DATA,
    LAYOUTS,
    SEED,
    Case,
    error_count,
    load_cases,
)
from codegen.pipeline import Pipeline
from codegen.postprocess.lexing import indentation
from codegen.runtime.backends import load_backend
from codegen.runtime.model import parse_spec
from codegen.types import CompletionRequest, Generation
from prompts.templates import FimTemplate
from validators import DEFAULT_VALIDATORS

REPO_ROOT = Path(__file__).resolve().parents[1]
PEERS = ("raw", "first_line", "first_line_gated", "vetted")
PEER_NAMES = {
    "raw": "raw model output",
    "first_line": "its first line",
    "first_line_gated": "first line, hidden when the file gets a new error node",
    "vetted": "vetted (post-processed + validated)",
}


@dataclass
class Score:
    """How one peer's program did on one case."""

    shown: bool
    exact: bool = False
    parses: bool = False
    indented: bool = False
    """The hole line keeps the original file's indentation."""


@dataclass
class Record:
    """Everything measured on one case; one JSON line of ``--out``."""

    language: str
    case: str
    canonical: str
    raw_text: str
    raw_finish: str
    raw_tokens: int
    scores: dict[str, Score]
    vetted_insert: str | None
    vetted_replaces: str | None
    """Document text the vetted item replaces after the cursor ("" when it only inserts)."""
    applied: list[str]
    discarded: list[dict[str, Any]]
    items: list[dict[str, Any]]
    """Every shown item, best first: its insert, raw text, log-probability and votes."""
    latency_ms: float
    generate_ms: float
    prompt_tokens: int
    notes: list[str] = field(default_factory=list)


def normalize(program: str) -> list[str]:
    """The program's non-blank lines, each with its whitespace runs collapsed."""
    return [" ".join(line.split()) for line in program.split("\n") if line.strip()]


def _line(program: str, line: int) -> str:
    """1-based `line` of `program` ("" past its end)."""
    lines = program.split("\n")
    return lines[line - 1] if line <= len(lines) else ""


def score(program: str | None, case: Case) -> Score:
    """Score one program against the original file; None means nothing shown."""
    if program is None:
        return Score(shown=False)
    return Score(
        shown=True,
        exact=normalize(program) == normalize(case.reference),
        parses=error_count(case.language, program) <= case.reference_errors,
        indented=indentation(_line(program, case.line))
        == indentation(_line(case.reference, case.line)),
    )


def request_for(case: Case, args: argparse.Namespace) -> CompletionRequest:
    """The editor request of one case: its workspace is the package, its file the path."""
    package, _, path = case.path.partition("/")
    return CompletionRequest(
        text=case.text, offset=case.offset, path=path, language=case.language.id,
        repo_name=package, n=args.n, max_new_tokens=args.max_new_tokens, trigger="invoked",
    )


def run_case(pipeline: Pipeline, recorder: RecordingBackend, case: Case,
             args: argparse.Namespace) -> Record:
    """Complete one case through the pipeline and score every peer on the same generation."""
    recorder.last = []
    started = time.perf_counter()
    result = pipeline.complete(request_for(case, args))
    latency = time.perf_counter() - started
    notes: list[str] = []
    generation = recorder.last[0] if recorder.last else Generation("", None)
    if not recorder.last:
        notes.append("backend returned no generation")
    text, offset = case.text, case.offset
    raw = text[:offset] + generation.text + text[offset:] if generation.text.strip() else None
    line = first_line(generation.text)
    line_program = text[:offset] + line + text[offset:] if line.strip() else None
    gated = (line_program if line_program is not None
             and error_count(case.language, line_program) <= case.document_errors else None)
    item = result.items[0] if result.items else None
    vetted = None if item is None else text[:offset] + item.insert + text[item.end :]
    programs = {"raw": raw, "first_line": line_program, "first_line_gated": gated,
                "vetted": vetted}
    return Record(
        language=case.language.id,
        case=case.case_id,
        canonical=case.canonical,
        raw_text=generation.text,
        raw_finish=generation.finish_reason.value,
        raw_tokens=generation.tokens,
        scores={peer: score(programs[peer], case) for peer in PEERS},
        vetted_insert=None if item is None else item.insert,
        vetted_replaces=None if item is None else text[offset : item.end],
        applied=[] if item is None else list(item.applied),
        discarded=[
            {"insert": c.insert, "applied": list(c.applied),
             "verdicts": [asdict(v) for v in c.verdicts if not v.ok]}
            for c in result.discarded
        ],
        items=[{"insert": c.insert, "raw": c.raw, "logprob": c.logprob, "votes": c.votes,
                 "tokens": c.tokens, "applied": list(c.applied)} for c in result.items],
        latency_ms=latency * 1000,
        generate_ms=result.timings.generate * 1000,
        prompt_tokens=result.timings.prompt_tokens,
        notes=notes,
    )


def markdown_table(records: Sequence[Record]) -> str:
    """One block of rows per language: each peer's shown, exact and parses shares."""
    lines = [
        "| language | cases | output | shown % | exact % | exact among shown % | parses % | "
        "mis-indented among shown % | latency p50 ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    languages = list(dict.fromkeys(r.language for r in records))
    for language in [*languages, "all"]:
        group = [r for r in records if language in ("all", r.language)]
        for peer in PEERS:
            scores = [r.scores[peer] for r in group]
            shown = [s for s in scores if s.shown]
            times = [r.latency_ms if peer == "vetted" else r.generate_ms for r in group]
            lines.append(
                f"| {language} | {len(group)} | {PEER_NAMES[peer]} | "
                f"{share([s.shown for s in scores])} | {share([s.exact for s in scores])} | "
                f"{share([s.exact for s in shown])} | {share([s.parses for s in scores])} | "
                f"{share([not s.indented for s in shown])} | "
                f"{percentile(times, 50):.0f} |"
            )
    return "\n".join(lines)


def summary(records: Sequence[Record]) -> str:
    """Per language: where vetted and the first line differ, and why items were dropped."""
    lines = []
    for language in dict.fromkeys(r.language for r in records):
        group = [r for r in records if r.language == language]
        won = sum(r.scores["vetted"].exact and not r.scores["first_line"].exact for r in group)
        lost = sum(r.scores["first_line"].exact and not r.scores["vetted"].exact for r in group)
        hidden_wrong = sum(r.scores["first_line"].shown and not r.scores["first_line"].exact
                           and not r.scores["vetted"].shown for r in group)
        dropped = Counter(v["check"] + ": " + v["reason"]
                          for r in group for d in r.discarded for v in d["verdicts"])
        applied = Counter(name for r in group for name in r.applied)
        lines.append(
            f"{language}: vetted exact where first line was not {won}, the reverse {lost}; "
            f"wrong first lines vetted hid {hidden_wrong}; filters on shown items "
            f"{dict(applied)}; dropped {dict(dropped)}; finish "
            f"{dict(Counter(r.raw_finish for r in group))}"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="folder bench/fetch_sources.sh filled")
    parser.add_argument("--languages", default=",".join(BODIES),
                        help=f"comma-separated, from {', '.join(BODIES)}")
    parser.add_argument("--cases", type=int, default=20, help="holes per language (seeded)")
    parser.add_argument("--layout", choices=LAYOUTS, default="empty-line",
                        help="how the document around the hole looks (bench.fim_language_cases)")
    parser.add_argument("--model", default="pypi:qwen2.5-coder-0.5b-instruct")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--max-prompt-tokens", type=int, default=768,
                        help="the template's budget (the editor's default is 1536; a CPU "
                        "run keeps prompts short)")
    parser.add_argument("--n", type=int, default=1,
                        help="candidates per request; the peers use the first, greedy one")
    parser.add_argument("--out", type=Path,
                        default=REPO_ROOT / "bench" / "out" / "fim_languages.jsonl")
    args = parser.parse_args(argv)
    unknown = set(args.languages.split(",")) - set(BODIES)
    if unknown:
        parser.error(f"unknown language(s): {', '.join(sorted(unknown))}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, write per-case records, print the table and a summary."""
    args = parse_args(argv)
    cases = [case for language in args.languages.split(",")
             for case in load_cases(args.data, language, args.cases, args.layout)]
    started = time.perf_counter()
    backend = load_backend(parse_spec(args.model), device=args.device)
    print(f"loaded {backend.description} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    recorder = RecordingBackend(backend)
    pipeline = Pipeline(recorder, FimTemplate(max_prompt_tokens=args.max_prompt_tokens),
                        validators=DEFAULT_VALIDATORS)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    records: list[Record] = []
    with args.out.open("w", encoding="utf-8") as out:
        for number, case in enumerate(cases, 1):
            record = run_case(pipeline, recorder, case, args)
            records.append(record)
            out.write(json.dumps(asdict(record)) + "\n")
            out.flush()
            print(f"[{number}/{len(cases)}] {case.case_id}: first line exact="
                  f"{record.scores['first_line'].exact} vetted shown="
                  f"{record.scores['vetted'].shown} exact={record.scores['vetted'].exact} "
                  f"{record.latency_ms:.0f} ms", file=sys.stderr, flush=True)
    print(
        f"FIM in other languages: {len(records)} one-line holes from {args.data} "
        f"(per language sorted(random.Random({SEED}).sample(range(N), {args.cases})) of its "
        f"N hole lines), layout {args.layout}; model {args.model} on {args.device}; max_new_tokens "
        f"{args.max_new_tokens}; max_prompt_tokens {args.max_prompt_tokens}; {args.n} "
        f"candidate(s); validators: {', '.join(v.name for v in DEFAULT_VALIDATORS)}\n"
    )
    print(markdown_table(records))
    print()
    print(summary(records))
    print(f"\nper-case records: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
