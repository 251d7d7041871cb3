"""Generate unit tests for a function: generate, run, keep what passes twice and adds coverage.

`generate_tests` is the one place the order is visible:

1. the function around the position, its docstring examples and the workspace's tests of
   it (`prompts.context`); the project's test file and import style (`codegen.testgen.testfile`);
2. the existing tests (each with its own file's imports and setup, `codegen.testgen.existing`)
   and the docstring examples run first: the tests give the coverage before, the examples
   tell which documented behaviour the code already breaks;
3. rounds: the instruct model samples candidate answers (`prompts.testgen`), every new test
   function runs alone, twice, in the sandbox with branch coverage (`validators.testrun`);
   a test is kept when it repeats no test already written (under whatever name), passed
   both times and runs a line or branch of the function that nothing kept before did; the
   next round's prompt names what is still not run; it ends when everything is covered,
   after `rounds`, or when a round brings nothing new;
4. a failing test that asserts what the docstring documents, where the code does not do
   that, is reported as a probable bug in the function, never written as a test.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from codegen.runtime.backends import Backend
from codegen.runtime.call import GenerateCall
from codegen.runtime.generate import SamplingParams
from codegen.testgen.existing import baseline, existing_keys
from codegen.testgen.testfile import TestFile, choose_test_file, existing_test_names
from codegen.testgen.writing import Edit, apply_edits, edits_adding, imports_used
from prompts.context import Example, FunctionContext, function_context, normal_source
from prompts.index import module_of
from prompts.testgen import (
    ParsedTest,
    TestTask,
    asserted_calls,
    normalized,
    parse_tests,
    render_test_prompt,
)
from validators.sandbox import Sandbox
from validators.testrun import (
    Arc,
    CandidateTest,
    FunctionShape,
    ModuleUnderTest,
    SandboxUnavailable,
    TestOutcome,
    function_shape,
    run_tests,
)

Progress = Callable[[str, int], None]
"""Progress report: a message and the percentage done."""


class TestGenerationError(ValueError):
    """The request cannot be served (no function there, no model), with a reason for people."""

    __test__ = False  # not a pytest test class


@dataclass(frozen=True, kw_only=True)
class TestGenRequest:
    """Generate tests for the function at `line` of a module of a workspace."""

    __test__ = False  # not a pytest test class

    root: str
    """Workspace root directory."""
    path: str
    """The module's path relative to `root`."""
    text: str
    """The module's current text (the editor's, unsaved changes included)."""
    line: int
    """0-based line inside the function."""
    test_files: Mapping[str, str] = field(default_factory=dict)
    """The workspace's test files (relative path → text)."""
    module_files: Mapping[str, str] = field(default_factory=dict)
    """Workspace modules the module imports and its packages' ``__init__.py`` (import path
    → text), copied beside it into the sandbox."""
    directories: frozenset[str] = frozenset()
    """Top-level folders of the workspace."""
    samples: int = 4
    """Answers sampled per round."""
    rounds: int = 3
    max_new_tokens: int = 768
    temperature: float = 0.7


@dataclass(frozen=True)
class Coverage:
    """How much of the function some tests run."""

    lines: int
    lines_total: int
    branches: int
    branches_total: int

    @property
    def percent(self) -> float:
        """Lines and branches together, as coverage.py's total in branch mode."""
        total = self.lines_total + self.branches_total
        return 100.0 * (self.lines + self.branches) / total if total else 100.0


@dataclass(frozen=True)
class DeliveredTest:
    """A test that passed twice and added coverage."""

    name: str
    source: str
    """The test function, renamed if its name was taken."""
    new_lines: tuple[int, ...]
    new_branches: tuple[Arc, ...]
    imports: tuple[str, ...] = ()
    """Import statements the test needs besides the one of the code under test."""


@dataclass(frozen=True)
class SuspectedBug:
    """A failing test that agrees with the docstring: the code, not the test, looks wrong."""

    test: str
    source: str
    example: str
    """The docstring example the test asserts."""
    error: str


@dataclass(frozen=True)
class Rejected:
    """A candidate test that was not delivered, and why."""

    name: str
    reason: str
    """"fails: ...", "flaky: ...", "adds no coverage", "repeats another test" (of the
    answers) or "repeats an existing test" (of the project)."""


@dataclass(frozen=True, kw_only=True)
class TestGenResult:
    """What a run of test generation found and what it would write."""

    __test__ = False  # not a pytest test class

    function: str
    test_file: TestFile
    delivered: tuple[DeliveredTest, ...]
    bugs: tuple[SuspectedBug, ...]
    rejected: tuple[Rejected, ...]
    before: Coverage
    after: Coverage
    rounds: int
    uncovered_lines: tuple[int, ...]
    uncovered_branches: tuple[Arc, ...]
    failing_examples: tuple[str, ...] = ()
    """Docstring examples the code does not satisfy (`shown_example`)."""

    def written(self, text: str | None = None) -> str:
        """The whole test file once `edits` are made to `text` (the file as it was read)."""
        current = self.test_file.text if text is None else text
        return apply_edits(current, self.edits(current))

    def edits(self, text: str | None = None) -> list[Edit]:
        """The edits that write the delivered tests into the test file's `text`.

        Their imports go on top beside the file's own, the tests at the end; `text` is the
        file as it was read unless given (an editor's unsaved buffer).
        """
        imports = [self.test_file.import_line, *(i for t in self.delivered for i in t.imports)]
        current = self.test_file.text if text is None else text
        return edits_adding(current, imports, [test.source for test in self.delivered])


def generate_tests(
    request: TestGenRequest,
    backend: Backend,
    sandbox: Sandbox,
    cancel: threading.Event,
    progress: Progress | None = None,
) -> TestGenResult | None:
    """Generate, run and select tests; None when cancelled (nothing is written then)."""
    report = progress or (lambda message, percent: None)
    context = _function_at(request)
    test_file = choose_test_file(
        request.path, context.qualname, request.test_files, request.directories
    )
    module = ModuleUnderTest(module_of(request.path), request.text, dict(request.module_files))
    shape = function_shape(request.text, _def_line(request.text, context), context.end_line)
    report(f"running the existing tests of {context.qualname}", 5)
    files = {p: t for p, t in request.test_files.items() if p != request.path}
    try:
        outcomes, failed = baseline(sandbox, module, context, test_file, files)
    except SandboxUnavailable as exc:
        raise TestGenerationError(f"the tests cannot be run: {exc}") from exc
    if cancel.is_set():
        return None
    failing = {shown_example(context.examples[i]) for i in failed}
    # The coverage before is what the project's tests run; the docstring examples are not
    # tests the project runs, so they only tell which documented behaviour the code breaks.
    existing = [o for o in outcomes if o.passed and o.test.name.startswith("test_existing_")]
    lines = frozenset().union(*(o.lines for o in existing))
    arcs = frozenset().union(*(o.arcs for o in existing))
    before = _coverage(shape, lines, arcs)
    selection = _Selection(shape, lines, arcs, existing_test_names(test_file.text),
                           existing_keys(test_file.text, context.tests))
    rounds = 0
    for round_number in range(request.rounds):
        if cancel.is_set():
            return None
        missing_lines, missing_arcs = selection.missing()
        if not missing_lines and not missing_arcs and round_number > 0:
            break
        rounds += 1
        percent = 10 + 80 * round_number // request.rounds
        report(f"round {round_number + 1}: asking the model", percent)
        task = _task(context, request, test_file, module, missing_lines, missing_arcs, selection)
        tokenizer = backend.tokenizer
        prompt = render_test_prompt(tokenizer, task, request.path) if tokenizer else None
        params = SamplingParams(n=request.samples, max_new_tokens=request.max_new_tokens,
                                temperature=request.temperature)
        answers = backend.generate(GenerateCall(prompt, params, False, cancel))
        if cancel.is_set():
            return None
        fresh = selection.new_candidates([t for a in answers for t in parse_tests(a.text)])
        if not fresh:
            break
        report(f"round {round_number + 1}: running {len(fresh)} tests twice", percent + 40 //
               request.rounds)
        candidates = [CandidateTest(t.name, t.module(test_file.import_line)) for t in fresh]
        try:
            outcomes = run_tests(sandbox, module, candidates)
        except SandboxUnavailable as exc:
            raise TestGenerationError(f"the tests cannot be run: {exc}") from exc
        if cancel.is_set():
            return None
        selection.judge(fresh, outcomes, context, failing)
    missing_lines, missing_arcs = selection.missing()
    report("done", 100)
    return TestGenResult(
        function=context.qualname,
        test_file=test_file,
        delivered=tuple(selection.delivered),
        bugs=tuple(selection.bugs),
        rejected=tuple(selection.rejected),
        before=before,
        after=_coverage(shape, selection.lines, selection.arcs),
        rounds=rounds,
        uncovered_lines=tuple(sorted(missing_lines)),
        uncovered_branches=tuple(sorted(missing_arcs)),
        failing_examples=tuple(sorted(failing)),
    )


@dataclass
class _Selection:
    """The tests kept so far and what they cover."""

    shape: FunctionShape
    lines: frozenset[int]
    arcs: frozenset[Arc]
    taken: set[str]
    """Test names already used in the test file or by a kept test."""
    written: set[str]
    """`repeat_key` of the tests the project has (the test file's, the function's)."""
    seen: set[str] = field(default_factory=set)
    """`repeat_key` of the candidates so far."""
    delivered: list[DeliveredTest] = field(default_factory=list)
    bugs: list[SuspectedBug] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)

    def missing(self) -> tuple[frozenset[int], frozenset[Arc]]:
        """Lines and branches of the function nothing kept runs yet."""
        return self.shape.lines - self.lines, self.shape.branches - self.arcs

    def new_candidates(self, tests: Sequence[ParsedTest]) -> list[ParsedTest]:
        """Tests not seen before (by body), in order; repeats are rejected."""
        fresh = []
        for test in tests:
            key = normalized(test)
            if key in self.written:
                self.rejected.append(Rejected(test.name, "repeats an existing test"))
                continue
            if key in self.seen:
                self.rejected.append(Rejected(test.name, "repeats another test"))
                continue
            self.seen.add(key)
            fresh.append(test)
        return fresh

    def judge(
        self,
        tests: Sequence[ParsedTest],
        outcomes: Sequence[TestOutcome],
        context: FunctionContext,
        failing_examples: set[str],
    ) -> None:
        """Keep what passed twice and adds coverage; sort out the rest."""
        examples = _example_pairs(context)
        for test, outcome in zip(tests, outcomes, strict=True):
            if outcome.flaky:
                self.rejected.append(Rejected(test.name, f"flaky: {outcome.error}"))
                continue
            if not outcome.passed:
                bug = _bug(test, outcome, examples, failing_examples)
                if bug is not None:
                    self.bugs.append(bug)
                else:
                    self.rejected.append(Rejected(test.name, f"fails: {outcome.error}"))
                continue
            new_lines = (outcome.lines & self.shape.lines) - self.lines
            new_arcs = (outcome.arcs & self.shape.branches) - self.arcs
            if not new_lines and not new_arcs:
                self.rejected.append(Rejected(test.name, "adds no coverage"))
                continue
            self.lines |= new_lines
            self.arcs |= new_arcs
            name = _unique(test.name, self.taken)
            self.taken.add(name)
            self.delivered.append(DeliveredTest(
                name, _renamed(test.function, test.name, name), tuple(sorted(new_lines)),
                tuple(sorted(new_arcs)), imports_used(test)))


def _function_at(request: TestGenRequest) -> FunctionContext:
    offset = _offset_of_line(request.text, request.line)
    context = function_context(request.text, offset, request.test_files, request.path)
    if context is None:
        raise TestGenerationError(f"no function at line {request.line + 1} of {request.path}")
    return context


def _offset_of_line(text: str, line: int) -> int:
    lines = text.splitlines(keepends=True)
    if not 0 <= line < max(len(lines), 1):
        raise TestGenerationError(f"line {line + 1} is outside the document")
    return sum(len(row) for row in lines[:line]) + len(lines[line]) - len(lines[line].lstrip())


def _def_line(text: str, context: FunctionContext) -> int:
    """The line of `def` (after any decorators)."""
    lines = text.splitlines()
    for number in range(context.start_line, context.end_line + 1):
        stripped = lines[number - 1].lstrip() if number - 1 < len(lines) else ""
        if stripped.startswith(("def ", "async def ")):
            return number
    return context.start_line


def _coverage(shape: FunctionShape, lines: frozenset[int], arcs: frozenset[Arc]) -> Coverage:
    covered_lines, covered_branches = shape.covered(lines, arcs)
    return Coverage(covered_lines, len(shape.lines), covered_branches, len(shape.branches))


def _task(
    context: FunctionContext,
    request: TestGenRequest,
    test_file: TestFile,
    module: ModuleUnderTest,
    missing_lines: frozenset[int],
    missing_arcs: frozenset[Arc],
    selection: _Selection,
) -> TestTask:
    lines = request.text.splitlines()
    source = "\n".join(lines[context.start_line - 1 : context.end_line])
    existing = [t.source for t in context.tests] + [d.source for d in selection.delivered]
    return TestTask(
        module.import_name,
        context.qualname,
        test_file.import_line,
        source,
        context.start_line,
        tuple(e.to_assert() for e in context.examples),
        tuple(existing),
        tuple(sorted(missing_lines)),
        tuple(sorted(missing_arcs)),
    )


def shown_example(example: Example) -> str:
    """A docstring example as people read it: ``f(1) == 2`` (or the assert it stands for)."""
    if example.expected is not None and example.raises is None and example.output is None:
        return f"{example.call} == {example.expected}"
    return example.to_assert()


def _example_pairs(context: FunctionContext) -> dict[tuple[str, str], str]:
    """(call, expected) of each docstring example, normalized → the example as shown."""
    pairs = {}
    for example in context.examples:
        if example.expected is not None:
            key = (normal_source(example.call), normal_source(example.expected))
            pairs[key] = shown_example(example)
    return pairs


def _bug(
    test: ParsedTest,
    outcome: TestOutcome,
    examples: Mapping[tuple[str, str], str],
    failing_examples: set[str],
) -> SuspectedBug | None:
    """A failing test asserting a docstring example that the code fails too."""
    for call, expected in asserted_calls(test.function):
        example = examples.get((normal_source(call), normal_source(expected)))
        if example is not None and example in failing_examples:
            return SuspectedBug(test.name, test.function, example, outcome.error)
    return None


def _unique(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    number = 2
    while f"{name}_{number}" in taken:
        number += 1
    return f"{name}_{number}"


def _renamed(function: str, old: str, new: str) -> str:
    if old == new:
        return function
    return function.replace(f"def {old}(", f"def {new}(", 1)
