"""Run generated unit tests in the sandbox, each alone and twice, with line and branch coverage.

The module under test (the editor's text, at its import path), the test files and the
in-sandbox runner (`validators/coverage_runner.py`) go into one sandbox start; coverage.py
and pytest are bound read-only into it from this environment, and the workspace modules the
module imports are copied in beside it, so its own imports resolve. What comes back per test:
whether it passed in every run (a test that passes only sometimes is flaky), its first
error, and the lines and branches of the function under test that it ran.

Which lines and branches the function has comes from coverage.py's own parser of the module
text: its statements inside the function, and the arcs out of its lines that have more than
one way to go on (the branches coverage.py reports in branch mode).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import stat
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from validators import coverage_runner
from validators.sandbox import Outcome, Program, Sandbox, SandboxLimits

logger = logging.getLogger(__name__)

LIB_DIR = "/tmp/vetted-lib"
"""Where the libraries tests may import are bound inside the sandbox."""
LIBRARIES = ("coverage", "pytest", "_pytest", "pluggy", "iniconfig", "packaging", "pygments", "py")
"""coverage.py and pytest with what pytest imports (``py`` is pytest's one-file shim)."""
TESTS_PACKAGE = "vetted_candidates"
"""Package the candidate test files are written into, in the sandbox's work directory."""

Arc = tuple[int, int]


@dataclass(frozen=True)
class ModuleUnderTest:
    """The module whose function the tests target, as the sandbox should see it."""

    import_name: str
    """Dotted name tests import it by (``pkg.util``)."""
    text: str
    """Its source (the editor's text, unsaved changes included)."""
    files: Mapping[str, str] = field(default_factory=dict)
    """Other files written beside it (import path → text): its packages' ``__init__.py``
    and the workspace modules it imports."""

    @property
    def file(self) -> str:
        """Its relative file name in the work directory."""
        return self.import_name.replace(".", "/") + ".py"


@dataclass(frozen=True)
class CandidateTest:
    """One test function in a module of its own (its imports, then the function)."""

    name: str
    source: str


@dataclass(frozen=True)
class TestOutcome:
    """How one test did over every run."""

    __test__ = False  # not a pytest test class

    test: CandidateTest
    passed: bool
    """Passed in every run."""
    flaky: bool
    """Passed in some runs and failed in others."""
    error: str
    """The first failure's message ("" when it always passed)."""
    lines: frozenset[int]
    """Lines of the module it ran (over all runs)."""
    arcs: frozenset[Arc]
    """Line-to-line arcs of the module it ran."""


@dataclass(frozen=True)
class FunctionShape:
    """What there is to cover in a function: its statements and its branch arcs."""

    lines: frozenset[int]
    branches: frozenset[Arc]

    def covered(self, lines: frozenset[int], arcs: frozenset[Arc]) -> tuple[int, int]:
        """(lines, branches) of the function among those that ran."""
        return len(self.lines & lines), len(self.branches & arcs)


def function_shape(text: str, first_line: int, last_line: int) -> FunctionShape:
    """The statements and branch arcs of the function on lines first_line..last_line.

    The ``def`` line itself runs on import, so only the body counts.
    """
    from coverage.parser import PythonParser

    parser = PythonParser(text=text)
    try:
        parser.parse_source()
    except Exception:  # noqa: BLE001 - coverage raises its own NotPython for bad source
        return FunctionShape(frozenset(), frozenset())
    inside = range(first_line + 1, last_line + 1)
    exits = parser.exit_counts()
    lines = frozenset(line for line in parser.statements if line in inside)
    branches = frozenset(
        (a, b) for a, b in parser.arcs() if a in inside and exits.get(a, 0) > 1
    )
    return FunctionShape(lines, branches)


class SandboxUnavailable(RuntimeError):
    """The tests cannot be run: no sandbox here, or it could not be set up."""


@cache
def library_mounts() -> tuple[tuple[str, str], ...]:
    """(host path, sandbox path) of each library the runner and the tests may import.

    The sandbox runs as another uid; when the libraries sit where it cannot read them (a
    virtualenv under a private home), they are copied once to a readable temporary folder.
    """
    sources = []
    for name in LIBRARIES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin)
        sources.append(origin.parent if origin.name == "__init__.py" else origin)
    if not all(_world_readable(path) for path in sources):
        sources = [_readable_copy(path) for path in sources]
    return tuple((str(path), f"{LIB_DIR}/{path.name}") for path in sources)


def _world_readable(path: Path) -> bool:
    """Whether any user can reach `path` (every folder above it searchable by others)."""
    try:
        if not path.stat().st_mode & stat.S_IROTH:
            return False
        return all(parent.stat().st_mode & stat.S_IXOTH for parent in path.parents)
    except OSError:
        return False


def _readable_copy(path: Path) -> Path:
    """A copy of `path` (a package folder or a module file) that every user can read."""
    import coverage

    target = Path(tempfile.gettempdir()) / f"vetted-lib-{coverage.__version__}-{os.getuid()}"
    copy = target / path.name
    if not copy.exists():
        target.mkdir(mode=0o755, parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=target))
        if path.is_dir():
            shutil.copytree(path, staging / path.name, ignore=shutil.ignore_patterns("*.pyc"))
        else:
            shutil.copy2(path, staging / path.name)
        for item in [staging, *staging.rglob("*")]:
            item.chmod(0o755 if item.is_dir() else 0o644)
        try:
            (staging / path.name).rename(copy)
        except OSError:  # another process made it first
            pass
        shutil.rmtree(staging, ignore_errors=True)
    return copy


def sandbox_for(limits: SandboxLimits | None = None, python: str = "") -> Sandbox:
    """A sandbox that can run generated tests (coverage.py and pytest bound into it).

    `python`, the project's own interpreter (its virtualenv's), lets the tests import the
    project's dependencies; its environment is bound read-only. Empty: the system Python,
    which has the standard library only.
    """
    limits = limits or SandboxLimits(wall_seconds=300.0)
    if not python:
        return Sandbox(limits, ro_mounts=library_mounts())
    # The sandbox binds the interpreter's own folders itself; its probe says what is wrong.
    sandbox = Sandbox(limits, python=python, ro_mounts=library_mounts())
    reason = sandbox.probe()
    if reason is not None and reason.startswith(f"sandbox python {python}"):
        raise SandboxUnavailable(f"cannot run the test interpreter {python}: {reason}")
    return sandbox


def run_tests(
    sandbox: Sandbox,
    module: ModuleUnderTest,
    tests: Sequence[CandidateTest],
    *,
    runs: int = 2,
    timeout: float = 5.0,
) -> list[TestOutcome]:
    """Run each test `runs` times in the sandbox; outcomes in the order of `tests`.

    When the sandbox cannot run anything, every test fails with the sandbox's reason.
    """
    if not tests:
        return []
    files = dict(module.files)
    files[module.file] = module.text
    files[f"{TESTS_PACKAGE}/__init__.py"] = ""
    entries = []
    for index, test in enumerate(tests):
        name = f"test_candidate_{index}"
        files[f"{TESTS_PACKAGE}/{name}.py"] = test.source
        entries.append({"index": index, "module": f"{TESTS_PACKAGE}.{name}", "name": test.name})
    job = {
        "module_file": module.file,
        "paths": [LIB_DIR],
        "tests": entries,
        "runs": runs,
        "timeout": timeout,
    }
    files["testjob.json"] = json.dumps(job)
    program = Program(
        Path(coverage_runner.__file__).read_text(encoding="utf-8"),
        files,
        ("testjob.json",),
        wall_seconds=min(30.0 + len(tests) * runs * (timeout + 1.0), 900.0),
    )
    result = sandbox.run_many([program])[0]
    if result.outcome is Outcome.UNAVAILABLE:
        raise SandboxUnavailable(result.reason or "no sandbox")
    reports: dict[int, list[dict[str, object]]] = {i: [] for i in range(len(tests))}
    for line in result.stdout.splitlines():
        try:
            report = json.loads(line)
            reports[int(report["index"])].append(report)
        except (ValueError, KeyError, TypeError):
            continue
    reason = result.reason or result.stderr.strip().splitlines()[-1:] or ["no report"]
    return [_outcome(test, reports[i], runs, str(reason)) for i, test in enumerate(tests)]


def _outcome(
    test: CandidateTest, reports: Sequence[Mapping[str, object]], runs: int, reason: str
) -> TestOutcome:
    passes = [bool(r.get("passed")) for r in reports]
    lines: set[int] = set()
    arcs: set[Arc] = set()
    for report in reports:
        lines.update(int(n) for n in _ints(report.get("lines")))
        arcs.update((int(a), int(b)) for a, b in _pairs(report.get("arcs")))
    errors = [str(r.get("error") or "") for r in reports if not r.get("passed")]
    if len(reports) < runs:
        errors.append(f"did not finish: {reason}")
    passed = len(reports) == runs and all(passes)
    flaky = any(passes) and not passed
    return TestOutcome(test, passed, flaky, errors[0] if errors else "", frozenset(lines),
                       frozenset(arcs))


def _ints(value: object) -> list[int]:
    return [v for v in value if isinstance(v, int)] if isinstance(value, list) else []


def _pairs(value: object) -> list[tuple[int, int]]:
    if not isinstance(value, list):
        return []
    return [(v[0], v[1]) for v in value if isinstance(v, list) and len(v) == 2
            and all(isinstance(x, int) for x in v)]
