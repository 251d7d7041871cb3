"""One workspace as the type checker sees it: its root, its config, its daemon, its baselines."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from validators._typecheck_daemon import (
    OUTPUT_FLAGS,
    Daemon,
    DaemonError,
    DaemonLimits,
    MypyFailed,
)
from validators._typecheck_diff import (
    Comparison,
    MypyError,
    filled,
    first_message,
    is_blocked,
    parse_errors,
)
from validators.base import Splice

CONFIG_FILES = ("mypy.ini", ".mypy.ini", "pyproject.toml", "setup.cfg")
"""Where mypy looks for its configuration, in its order (mypy/defaults.py CONFIG_NAMES)."""

ROOT_MARKERS = (*CONFIG_FILES, ".git", ".hg")
"""Files whose folder is taken as the workspace root of a file when none is given."""

_VENV_PYTHONS = (".venv/bin/python", "venv/bin/python", ".venv/Scripts/python.exe")
"""Interpreters of a workspace's own virtualenv, whose site-packages mypy should search."""

_SILENT_UNSUPPORTED = "follow-imports=silent not supported"
"""dmypy's refusal of a config that follows imports silently."""

_BASELINES_KEPT = 32
"""Document versions whose errors are remembered, per workspace."""

_RETRY_SECONDS = 30.0
"""After a daemon failed to start, how long checks report that failure instead of retrying
(each try imports mypy again on a machine that is busy generating completions)."""


def find_root(path: str) -> Path | None:
    """The nearest folder above an existing file that holds a config file or a repository."""
    file = Path(path)
    if not file.is_absolute() or not file.parent.is_dir():
        return None
    start = file.parent.resolve()
    for folder in (start, *start.parents):
        if any((folder / marker).exists() for marker in ROOT_MARKERS):
            return folder
    return start


def workspace_python(root: Path) -> str | None:
    """The workspace's virtualenv interpreter, unless its mypy config names one itself."""
    for name in CONFIG_FILES:
        config = root / name
        if config.is_file() and "python_executable" in config.read_text(errors="replace"):
            return None
    for relative in _VENV_PYTHONS:
        if (root / relative).is_file():
            return str(root / relative)
    return None


def config_stamp(root: Path) -> tuple[tuple[str, int, int], ...]:
    """Size and mtime of the root's config files, to notice an edit."""
    stamps = []
    for name in CONFIG_FILES:
        try:
            stat = (root / name).stat()
        except OSError:
            continue
        stamps.append((name, stat.st_mtime_ns, stat.st_size))
    return tuple(stamps)


@dataclass(frozen=True)
class Checked:
    """The errors of one check of a document, and the daemon's disk generation then."""

    generation: int
    errors: list[MypyError]


class Workspace:
    """A workspace root with one mypy daemon and one worker thread that serializes its checks.

    The daemon is started by the first check and restarted when it died or the root's mypy
    config changed. The errors of each document version are kept, keyed by path and content
    hash, so the candidates of one request cost one check each.
    """

    def __init__(
        self,
        root: Path | None,
        flags: Sequence[str],
        limits: DaemonLimits,
    ) -> None:
        self._state_dir = Path(tempfile.mkdtemp(prefix="vetted-mypy-"))
        """Private folder: status file, log, shadow files, stand-ins for unsaved buffers."""
        self.root = root if root is not None else self._state_dir
        """The daemon's working directory; documents of no workspace get the state folder."""
        self._flags = (*OUTPUT_FLAGS, *flags)
        self._limits = limits
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="mypy")
        self._daemon: Daemon | None = None
        self._stamp = config_stamp(self.root)
        self._baselines: OrderedDict[tuple[Path, str], Checked] = OrderedDict()
        self._failure: tuple[float, str] | None = None
        """When the last start failed, and why; cleared by a config edit."""
        self._warm = False
        """Whether the daemon has answered a check since it started."""
        self._pending: Future[Comparison] | None = None
        self._closed = False
        self._lock = threading.Lock()  # guards _daemon and _closed against close()

    @property
    def daemon(self) -> Daemon | None:
        """The running daemon, if any."""
        return self._daemon

    def submit(self, splice: Splice, with_result: bool = True) -> Future[Comparison]:
        """Check the splice's document (cached) and then its result, on the worker thread.

        Without the result only the document is checked: the daemon starts and the baseline
        is ready before the first candidate arrives.
        """
        future = self._executor.submit(self._compare, splice, with_result)
        self._pending = future
        return future

    @property
    def warming(self) -> bool:
        """Whether a daemon is starting or building its first import graph right now."""
        pending = self._pending
        return not self._warm and pending is not None and not pending.done()

    def _compare(self, splice: Splice, with_result: bool) -> Comparison:
        """Run on the worker thread: the baseline from the cache or the daemon, then the result."""
        daemon = self._running_daemon()
        target = self._target(splice.path)
        try:
            base, before = self._baseline(daemon, target, splice)
            after = Checked(before.generation, [])
            if with_result:
                after = self._errors(daemon, target, splice.result)
            if after.generation != before.generation:
                # Another file changed on disk since the baseline (a save, a checkout): the
                # document's own errors may have changed with it.
                before = self._errors(daemon, target, base.document)
                self._remember(target, base.document, before)
        except MypyFailed:
            raise  # the daemon is fine; the next check may succeed
        except DaemonError:
            self._drop(daemon)
            raise
        self._warm = True
        return Comparison(base, before.errors, after.errors)

    def _baseline(self, daemon: Daemon, target: Path, splice: Splice) -> tuple[Splice, Checked]:
        """Return the splice to diff with and the errors of its document.

        That is the document itself, or where mypy cannot parse it, the document with the
        cursor's hole filled.
        """
        before = self._cached(daemon, target, splice.document)
        if not is_blocked(before.errors):
            return splice, before
        base = filled(splice)
        retry = self._cached(daemon, target, base.document)
        return (splice, before) if is_blocked(retry.errors) else (base, retry)

    def _cached(self, daemon: Daemon, target: Path, document: str) -> Checked:
        """The errors of a document version, checked once."""
        key = (target, hashlib.sha256(document.encode()).hexdigest())
        checked = self._baselines.get(key)
        if checked is None:
            checked = self._errors(daemon, target, document)
        self._remember(target, document, checked)
        return checked

    def _remember(self, target: Path, document: str, checked: Checked) -> None:
        """Keep a baseline as the newest, forgetting the oldest beyond the limit."""
        key = (target, hashlib.sha256(document.encode()).hexdigest())
        self._baselines[key] = checked
        self._baselines.move_to_end(key)
        while len(self._baselines) > _BASELINES_KEPT:
            self._baselines.popitem(last=False)

    def _errors(self, daemon: Daemon, target: Path, source: str) -> Checked:
        """Check `target` holding `source`; raise MypyFailed when mypy stopped elsewhere."""
        answer = daemon.check(target, source)
        errors = parse_errors(answer.out, str(target))
        if answer.blocked and not is_blocked(errors):
            raise MypyFailed(f"mypy stopped: {first_message(answer.out)[:300]}")
        return Checked(answer.generation, errors)

    def _target(self, path: str) -> Path:
        """Return the file mypy checks: the document, or a private stand-in when it has none.

        mypy needs a real file at the checked path; an unsaved or untitled buffer gets an
        empty one in the state folder (never in the workspace), so imports of the
        workspace's modules still resolve from the root but relative imports do not.
        """
        file = self.root / path  # a path relative to the root, as requests carry, or absolute
        if file.suffix in (".py", ".pyi") and file.is_file():
            return file.absolute()
        digest = hashlib.sha1(path.encode()).hexdigest()[:16]
        stand_in = self._state_dir / "unsaved" / digest / f"{file.stem or 'untitled'}.py"
        stand_in.parent.mkdir(parents=True, exist_ok=True)
        stand_in.touch()
        return stand_in

    def _running_daemon(self) -> Daemon:
        """Return the daemon, started or restarted when needed; raise DaemonError if it cannot.

        The lock is not held while a daemon starts, so that `close` can stop it meanwhile.
        """
        with self._lock:
            if self._closed:
                raise DaemonError("the type checker was closed")
            stamp = config_stamp(self.root)
            stale = self._daemon
            if stale is not None and stale.alive and stamp == self._stamp:
                return stale
            self._daemon = None
            self._warm = False
            self._baselines.clear()  # another config, another daemon: other errors
            self._raise_recent_failure(stamp)
            self._stamp = stamp
        if stale is not None:
            stale.stop()
        try:
            return self._start(self._flags)
        except DaemonError as exc:
            self._failure = (time.monotonic(), str(exc))
            raise

    def _raise_recent_failure(self, stamp: tuple[tuple[str, int, int], ...]) -> None:
        """Raise the last start failure again while it is recent and the config unchanged."""
        if self._failure is None:
            return
        when, message = self._failure
        if stamp == self._stamp and time.monotonic() - when < _RETRY_SECONDS:
            raise DaemonError(message)

    def _start(self, flags: Sequence[str]) -> Daemon:
        """Start a daemon; retry once where dmypy refuses the config's silent imports."""
        daemon = Daemon(self.root, self._state_dir, flags, self._limits)
        with self._lock:
            if self._closed:
                raise DaemonError("the type checker was closed")
            self._daemon = daemon  # from here on, close() stops it
        try:
            daemon.start()
        except DaemonError as exc:
            self._drop(daemon)
            if _SILENT_UNSUPPORTED not in str(exc) or "--follow-imports=normal" in flags:
                raise
            # Errors in followed modules are dropped anyway, so following them normally
            # gives the same verdicts as following them silently.
            return self._start((*flags, "--follow-imports=normal"))
        self._failure = None
        return daemon

    def _drop(self, daemon: Daemon) -> None:
        """Stop a daemon that failed, so that the next check starts a fresh one."""
        with self._lock:
            if self._daemon is daemon:
                self._daemon = None
        daemon.stop()

    def close(self) -> None:
        """Stop the daemon, drop queued checks, wait for the worker, delete the state folder."""
        with self._lock:
            self._closed = True
            daemon, self._daemon = self._daemon, None
        if daemon is not None:
            daemon.stop()
        self._executor.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(self._state_dir, ignore_errors=True)
