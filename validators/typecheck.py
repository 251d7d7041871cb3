"""Reject a candidate that adds mypy errors to its document.

The document is checked where it lives in its workspace, so the workspace's mypy config
(``mypy.ini``, ``.mypy.ini``, ``pyproject.toml`` or ``setup.cfg`` in the root, found the way
``mypy`` run there finds it) applies and the workspace's modules import it and each other
as usual. mypy reads the spliced text from a private shadow copy in place of the file; the
user's files are never written. Other files, open documents included, are read from disk.

One mypy daemon per workspace root (``validators/_typecheck_server.py``: dmypy's
fine-grained server plus one command) keeps the import graph in memory, so a check
re-analyses only the document and what depends on it. It runs in its own process: a check
never holds this process's GIL, and a crash costs a restart, not the editor.

Only errors that the candidate introduces count: the result's errors are diffed against the
baseline, the errors of the document without the candidate (see
`validators._typecheck_diff.introduced`), cached per path and content hash. A document
mypy cannot parse (the cursor in an empty block body) is compared with its hole filled by
``...``. Errors the candidate causes in other files are not looked at.

When mypy cannot run (it is still starting, it crashed, it refuses the config, or it did
not answer within the budget), the verdict is ok with ``ran=False``: a failing checker
never rejects a candidate.

Plugins named in the workspace's config are loaded by the daemon, which runs in this
program's environment: a plugin that is not installed there makes mypy fail, and the check
then does not run. Third-party packages are searched in the workspace's ``.venv``/``venv``
when it has one, else in this program's environment.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from prompts.languages import PYTHON
from validators._typecheck_daemon import DaemonError, DaemonLimits
from validators._typecheck_diff import Comparison, introduced, is_blocked, on_inserted_lines
from validators._typecheck_workspace import Workspace, find_root, workspace_python
from validators.base import Splice, Verdict


@dataclass(frozen=True)
class TypecheckSettings:
    """How the mypy validator runs."""

    budget_seconds: float = 2.0
    """Longest a check waits for mypy; then the candidate passes unchecked. The first check
    of a workspace starts its daemon and usually runs out of budget while it builds: the
    build goes on in the background and the next check finds it warm."""
    flags: tuple[str, ...] = ()
    """Extra mypy command-line flags, applied over the workspace's config."""
    python_executable: str | None = None
    """Interpreter whose installed packages mypy searches; None: the workspace's virtualenv."""
    limits: DaemonLimits = field(default_factory=DaemonLimits)
    """Start, request and idle timeouts of the daemons."""
    errors_shown: int = 3
    """Most errors listed in a failing verdict's detail."""
    wait_while_starting: bool = False
    """Queue checks behind a starting daemon (within the budget) instead of passing them
    unchecked: for batch runs, where every request should get the same verdicts."""


def skipped(name: str, why: str) -> Verdict:
    """Return an ok verdict that says the check did not run, and why."""
    return Verdict(name, True, "did not run", why, ran=False)


def judge(name: str, comparison: Comparison, shown: int = 3) -> Verdict:
    """Return the verdict on a candidate from the errors without it and with it."""
    splice, before, after = comparison.splice, comparison.before, comparison.after
    if is_blocked(after):
        # A parse error stops mypy before any type check; syntax is another validator's job.
        return skipped(name, "mypy could not parse the result")
    if is_blocked(before):
        # Not even the filled hole made the document parse: blame only the inserted lines.
        new = on_inserted_lines(after, splice)
    else:
        new = introduced(before, after, splice)
    if not new:
        return Verdict(name, True)
    lines = [str(error) for error in new[:shown]]
    if len(new) > shown:
        lines.append(f"... and {len(new) - shown} more")
    plural = "s" if len(new) > 1 else ""
    return Verdict(name, False, f"adds {len(new)} type error{plural}", "\n".join(lines))


def _close_all(workspaces: dict[Path | None, Workspace], lock: threading.Lock) -> None:
    """Close every workspace (stops its daemon); safe to call twice."""
    with lock:
        closing = list(workspaces.values())
        workspaces.clear()
    for workspace in closing:
        workspace.close()


class MypyValidator:
    """Type-check the spliced document with mypy; fail on the errors the candidate adds.

    Thread-safe: checks of one workspace run one at a time on its own worker thread, checks
    of different workspaces in parallel. Call `close` (or use it as a context manager) to
    stop the daemons; they are also stopped when the validator is garbage-collected or the
    interpreter exits, and each daemon exits by itself once this process is gone.
    """

    name = "mypy"

    def __init__(self, settings: TypecheckSettings | None = None) -> None:
        self.settings = settings or TypecheckSettings()
        self._workspaces: dict[Path | None, Workspace] = {}
        """By root; None holds documents that belong to no folder (untitled buffers)."""
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(self, _close_all, self._workspaces, self._lock)

    def check(self, splice: Splice) -> Verdict:
        """Return a failing verdict when the candidate adds type errors to its document."""
        if splice.language is not PYTHON:
            return Verdict(self.name, True, "Python only",
                           f"{splice.language.name} documents are not type-checked", ran=False)
        try:
            workspace = self._workspace(splice)
            if workspace.warming and not self.settings.wait_while_starting:
                # Waiting would cost every candidate the whole budget until the graph is built.
                return skipped(self.name, "mypy is starting (building the import graph)")
            future = workspace.submit(splice)
        except (OSError, RuntimeError) as exc:  # no state folder; close() stopped the worker
            return skipped(self.name, str(exc))
        try:
            comparison = future.result(timeout=self.settings.budget_seconds)
        except TimeoutError:
            future.cancel()  # a queued check is dropped; a running one finishes, its baseline kept
            return skipped(self.name, f"mypy took longer than {self.settings.budget_seconds} s")
        except DaemonError as exc:
            return skipped(self.name, str(exc))
        except Exception as exc:
            # A fault in the checker itself must not cost the user a completion.
            return skipped(self.name, f"{type(exc).__name__}: {exc}")
        return judge(self.name, comparison, self.settings.errors_shown)

    def prime(self, splice: Splice) -> None:
        """Start the document's daemon and check the document, in the background."""
        if splice.language is not PYTHON:
            return
        try:
            self._workspace(splice).submit(splice, with_result=False)
        except (OSError, RuntimeError):
            pass  # the next check reports why mypy cannot run

    def _workspace(self, splice: Splice) -> Workspace:
        """Return the workspace a splice belongs to, created on first use."""
        root = Path(splice.root).resolve() if splice.root else find_root(splice.path)
        with self._lock:
            workspace = self._workspaces.get(root)
            if workspace is None:
                python = self.settings.python_executable
                if python is None and root is not None:
                    python = workspace_python(root)
                flags = self.settings.flags
                if python is not None:
                    flags = (f"--python-executable={python}", *flags)
                workspace = Workspace(root, flags, self.settings.limits)
                self._workspaces[root] = workspace
            return workspace

    def daemon_pids(self) -> list[int]:
        """Return the process ids of the running daemons (for status reports and tests)."""
        with self._lock:
            daemons = [workspace.daemon for workspace in self._workspaces.values()]
        return [d.pid for d in daemons if d is not None and d.alive and d.pid is not None]

    def close(self) -> None:
        """Stop every daemon and worker thread; a later check starts new ones."""
        _close_all(self._workspaces, self._lock)

    def __enter__(self) -> MypyValidator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
