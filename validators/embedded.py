"""Run the tests already in the user's code against every candidate, in the sandbox.

For the function around the cursor: its docstring examples and the workspace's asserts and
`test_*` functions that call it (`prompts.context`). Each candidate runs in a sandbox run of
its own, with the workspace modules the document imports beside it, under the project's
interpreter (its virtualenv, found or set); each gets a verdict with how many checks held
and its values on the probe inputs (the calls in those tests and small changes of them),
which the ranking uses for execution agreement. Where nothing can be run (no tests, no
sandbox, a module that does not even load there, a request cancelled or out of time) the
verdict says so (`ran` False) and does not count against the candidate.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from prompts.context import Check, FunctionContext, function_context, render_checks
from prompts.index import module_of
from prompts.languages import PYTHON
from validators._sandbox_command import PROGRAM_NAME
from validators.base import RunControl, Splice, Verdict
from validators.execution import Job, Report, execute
from validators.probes import agreement_probes, probe_of_assert
from validators.sandbox import Sandbox, SandboxLimits
from validators.syntax import ast_error
from validators.workspace_modules import workspace_imports

logger = logging.getLogger(__name__)

_SKIP_DIRS = frozenset(
    {".git", ".hg", ".venv", "venv", "env", "node_modules", "__pycache__", "site-packages",
     "build", "dist", ".tox", ".nox", ".mypy_cache", ".pytest_cache"}
)
REQUEST_TESTS = "test_request.py"
"""Name under which a request's own asserts join the workspace's test files."""
MAX_TEST_FILES = 200
"""Most workspace test files read for one request."""
MAX_TEST_FILE_BYTES = 256 * 1024
"""Larger test files are skipped."""


def is_test_file(name: str) -> bool:
    """Tell whether a file name follows pytest's default test-file pattern."""
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))


@dataclass
class WorkspaceTestFiles:
    """The workspace's test files, re-read only when their modification time changes."""

    _cache: dict[Path, tuple[int, str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def read(self, root: str) -> dict[str, str]:
        """Relative path → text of the test files under `root` (bounded in count and size)."""
        if not root or not os.path.isdir(root):
            return {}
        found: dict[str, str] = {}
        with self._lock:
            for path in self._walk(Path(root)):
                try:
                    stat = path.stat()
                    if stat.st_size > MAX_TEST_FILE_BYTES:
                        continue
                    cached = self._cache.get(path)
                    if cached is None or cached[0] != stat.st_mtime_ns:
                        cached = (stat.st_mtime_ns, path.read_text(encoding="utf-8"))
                        self._cache[path] = cached
                except (OSError, UnicodeDecodeError):
                    continue
                found[str(path.relative_to(root))] = cached[1]
        return found

    @staticmethod
    def _walk(root: Path) -> list[Path]:
        files: list[Path] = []
        for directory, subdirs, names in os.walk(root):
            subdirs[:] = sorted(d for d in subdirs if d not in _SKIP_DIRS and not d.startswith("."))
            files += [Path(directory) / n for n in sorted(names) if is_test_file(n)]
            if len(files) >= MAX_TEST_FILES:
                return files[:MAX_TEST_FILES]
        return files


def hole_filled(document: str, start: int, end: int) -> str | None:
    """The document with `document[start:end]` filled by nothing, ``...`` or ``pass``.

    The first filling that parses is the module as it is without any candidate: on an empty
    line ``pass`` at the level of the block opened above, of the line above or of the line
    below. None when no filling parses.
    """
    before, after = document[:start], document[end:]
    typed = before[before.rfind("\n") + 1 :]
    fillings = ["", "..."]
    if not typed.strip():
        above = next((ln for ln in reversed(before.split("\n")[:-1]) if ln.strip()), "")
        below = next((ln for ln in after.split("\n")[1:] if ln.strip()), "")
        depth = len(above) - len(above.lstrip())
        levels = [depth + 4 if above.rstrip().endswith(":") else depth,
                  len(below) - len(below.lstrip()), depth]
        fillings += [" " * max(0, level - len(typed)) + "pass" for level in levels]
    for filling in fillings:
        program = before + filling + after
        if ast_error(program) is None:
            return program
    return None


def probes_for(context: FunctionContext, checks: Sequence[Check], limit: int) -> list[str]:
    """The calls the examples and tests make, then nearby inputs, for execution agreement."""
    known = [e.call for e in context.examples if not e.setup]
    known += [p for c in checks if (p := probe_of_assert(c.source)) is not None]
    return agreement_probes(known, context.name, limit=limit)


VENV_INTERPRETERS = (".venv/bin/python3", "venv/bin/python3", ".venv/bin/python", "venv/bin/python")
"""Where a workspace's own virtualenv interpreter is looked for, under its root."""
SYSTEM_PYTHON = "/usr/bin/python3"


def project_python(root: str, setting: str = "") -> str:
    """The interpreter that runs a workspace's tests: the setting, its virtualenv, the system's.

    A relative setting is taken from the workspace root.
    """
    if setting:
        return str(Path(root, setting)) if root and not os.path.isabs(setting) else setting
    for relative in VENV_INTERPRETERS if root else ():
        if os.access(Path(root, relative), os.X_OK):
            return str(Path(root, relative))
    return SYSTEM_PYTHON


DEFAULT_BUDGET = 2.0
"""Seconds the embedded tests of one request may take, all candidates together."""


@dataclass
class EmbeddedTestsValidator:
    """Fail a candidate whose program breaks a test the user's code already has."""

    sandbox: Sandbox = field(default_factory=lambda: Sandbox(SandboxLimits(wall_seconds=30.0)))
    """The sandbox for the system interpreter; others get one each (`sandbox_for`)."""
    name: str = "tests"
    noun: str = "embedded tests"
    """What the checks are called in a verdict's reason."""
    probe_limit: int = 40
    """Nearby inputs added to the known calls for execution agreement."""
    test_files: WorkspaceTestFiles = field(default_factory=WorkspaceTestFiles)
    budget: float = DEFAULT_BUDGET
    """Seconds for one request's runs unless its `RunControl` says otherwise."""
    _sandboxes: dict[str, Sandbox] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, splice: Splice) -> Verdict:
        """Check one candidate (see `check_all`)."""
        return self.check_all([splice])[0]

    def sandbox_for(self, python: str) -> Sandbox:
        """The sandbox running `python`, made once; the system's when that one cannot run."""
        if python == SYSTEM_PYTHON:
            return self.sandbox
        with self._lock:
            sandbox = self._sandboxes.get(python)
            if sandbox is None:
                sandbox = Sandbox(self.sandbox.limits, python=python)
                reason = sandbox.probe()
                if reason is not None:
                    logger.warning("tests run under %s instead: %s", SYSTEM_PYTHON, reason)
                    sandbox = self.sandbox
                self._sandboxes[python] = sandbox
            return sandbox

    def job_for(self, programs: Sequence[str], checks: Sequence[Check], probes: Sequence[str],
                budget: float, files: dict[str, str], package: str) -> Job:
        """The sandbox job for `budget` seconds of one request.

        A quarter of the budget to load a program, a quarter for its checks and probes
        (probes at most a quarter of that), an eighth per call.
        """
        return Job(
            tuple(programs),
            probes=tuple(probes),
            checks=tuple(c.source for c in checks),
            program_timeout=min(2.0, budget / 4),
            call_timeout=min(1.0, budget / 8),
            budget=budget / 4,
            probe_share=0.25,
            files={name: text for name, text in files.items() if name != PROGRAM_NAME},
            package=package,
        )

    def check_all(
        self, splices: Sequence[Splice], control: RunControl | None = None
    ) -> list[Verdict]:
        """Run every candidate's program, then the checks, each in a sandbox run of its own."""
        control = control or RunControl()
        first = splices[0]
        if first.language is not PYTHON:
            why = Verdict(self.name, True, "Python only",
                          f"{first.language.name} documents have no {self.noun} run",
                          ran=False)
            return [why] * len(splices)
        files = self.test_files.read(first.root)
        if first.tests:
            files = {**files, REQUEST_TESTS: "\n".join(first.tests) + "\n"}
        context = function_context(first.document, first.start, files, path=first.path)
        if context is None:
            return self._not_run(splices, "no function around the cursor")
        checks = render_checks(context)
        if not checks:
            return self._not_run(splices, f"{context.name} has no examples or tests to run")
        baseline = hole_filled(first.document, first.start, first.end)
        budget = control.budget or self.budget
        job = self.job_for(
            [s.result for s in splices] + ([baseline] if baseline is not None else []),
            checks, probes_for(context, checks, self.probe_limit), budget,
            workspace_imports(first.root, first.path, first.document), package_of(first.path),
        )
        sandbox = self.sandbox_for(project_python(first.root, control.python))
        outcome = execute(sandbox, job, cancel=control.cancel, budget=budget)
        if outcome.unavailable:
            return self._not_run(splices, f"sandbox unavailable: {outcome.unavailable}")
        reports = list(outcome.reports)
        base = reports.pop() if baseline is not None else None
        return self.verdicts(reports, checks, base)

    def verdicts(
        self, reports: Sequence[Report], checks: Sequence[Check], baseline: Report | None = None
    ) -> list[Verdict]:
        """Turn the runner's reports into verdicts.

        The module does not run in the sandbox (an import it lacks, a file it reads) when
        the document without any candidate (`hole_filled`) fails to load and so does every
        candidate: then nothing is judged. Otherwise a candidate that does not load fails on
        its own, whatever its neighbours did.
        """
        if baseline is not None and not baseline.ran:
            baseline = None  # out of time: no evidence about the module itself
        if baseline is not None and not baseline.loaded and not any(r.loaded for r in reports):
            why = f"the module does not run in the sandbox: {baseline.error}"
            return [self._skipped(why)] * len(reports)
        return [self.verdict_for(report, len(checks), checks) for report in reports]

    def verdict_for(self, report: Report, total: int, checks: Sequence[Check] = ()) -> Verdict:
        """The verdict of one program on `total` checks (their sources name a failure)."""
        if not report.ran:
            return self._skipped(report.error)
        if not report.loaded:
            why = "the program fails before the tests run"
            return Verdict(self.name, False, why, report.error, total=total)
        # A check skipped once the time budget was spent (None) is no evidence against it.
        failed = [i for i, ok in enumerate(report.checks[:total]) if ok is False]
        if failed:
            first = checks[failed[0]].source.splitlines()[-1] if failed[0] < len(checks) else ""
            return Verdict(
                self.name,
                False,
                f"fails {len(failed)} of {total} {self.noun}",
                first,
                passed=report.passed,
                total=total,
                behaviour=report.probes,
            )
        skipped = sum(ok is None for ok in report.checks[:total])
        detail = f"{skipped} of {total} not run: the time budget was spent" if skipped else ""
        return Verdict(self.name, True, "", detail, passed=report.passed, total=total,
                       behaviour=report.probes)

    def _skipped(self, why: str) -> Verdict:
        return Verdict(self.name, True, "", why, ran=False)

    def _not_run(self, splices: Sequence[Splice], why: str) -> list[Verdict]:
        return [self._skipped(why)] * len(splices)

    def close(self) -> None:
        """Stop any sandbox run still going."""
        self.sandbox.close()
        with self._lock:
            for sandbox in self._sandboxes.values():
                sandbox.close()


def package_of(path: str) -> str:
    """The package a module at relative `path` belongs to (for its relative imports)."""
    module = module_of(path)
    return module if path.endswith("__init__.py") else module.rpartition(".")[0]

