"""The client side of one workspace's mypy daemon: start it, send it checks, stop it."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mypy.dmypy_util import receive, send
from mypy.ipc import IPCClient, IPCException

SERVER_SCRIPT = Path(__file__).with_name("_typecheck_server.py")
"""The daemon itself, run as a script so it imports only mypy."""

OUTPUT_FLAGS = (
    "--output=json",
    "--show-absolute-path",
    "--no-error-summary",
    "--hide-error-context",
    "--no-pretty",
    "--no-color-output",
    "--show-error-codes",
    # dmypy refuses to start without it (fine-grained mode cannot infer partial types
    # across scopes); a workspace config that turns it off would stop the daemon.
    "--local-partial-types",
)
"""Flags the parser of the daemon's answers relies on; they override the workspace's."""


class DaemonError(Exception):
    """The daemon could not start, crashed, or could not answer in time."""


class MypyFailed(DaemonError):
    """The daemon answered, but mypy could not check the document.

    A bad config, a plugin that will not load, a parse error in another file.
    """


@dataclass(frozen=True)
class DaemonLimits:
    """How long the daemon may take, and how long it may sit idle."""

    start_seconds: float = 30.0
    """Time for the process to come up (importing mypy), not for the first check."""
    request_seconds: float = 120.0
    """Time for one check: the first builds the whole import graph of the document."""
    idle_seconds: int = 3600
    """The daemon exits after this long without a request; the next check restarts it."""


@dataclass(frozen=True)
class Answer:
    """The daemon's answer to one check."""

    out: str
    """mypy's JSON lines, one per error or note, for every file of the build, and any
    message it printed instead (a bad config, an unreadable file)."""
    blocked: bool
    """mypy stopped early: a parse error in some file, or a failure of mypy itself."""
    generation: int
    """Counts the checks that found a file other than the checked document edited on disk:
    two checks with the same generation saw the same workspace."""


class Daemon:
    """One mypy daemon process, run in a workspace root; not thread-safe (serialize calls)."""

    def __init__(
        self,
        root: Path,
        state_dir: Path,
        flags: Sequence[str],
        limits: DaemonLimits = DaemonLimits(),
        python: str = sys.executable,
    ) -> None:
        self.root = root
        self.flags = tuple(flags)
        self._state_dir = state_dir
        self._limits = limits
        self._python = python
        self._status_file = state_dir / "dmypy.json"
        self._log_file = state_dir / "daemon.log"
        self._connection = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._stopped = False
        self._busy = False
        """Whether a request is waiting for the daemon's answer."""
        self._lock = threading.Lock()  # stop() may come from another thread than start()

    @property
    def pid(self) -> int | None:
        """Process id of the daemon, None before it started."""
        return self._process.pid if self._process is not None else None

    @property
    def alive(self) -> bool:
        """Tell whether the daemon process is running."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the daemon and wait until it listens; raise DaemonError when it cannot."""
        argv = [
            self._python,
            "-P",
            str(SERVER_SCRIPT),
            f"--status-file={self._status_file}",
            f"--parent-pid={os.getpid()}",
            f"--timeout={self._limits.idle_seconds}",
            "--",
            *self.flags,
        ]
        self._status_file.unlink(missing_ok=True)
        with self._lock:
            if self._stopped:
                raise DaemonError("the type checker was closed")
            try:
                with self._log_file.open("wb") as log:
                    self._process = subprocess.Popen(
                        argv, cwd=self.root, stdin=subprocess.DEVNULL, stdout=log, stderr=log
                    )
            except OSError as exc:  # no interpreter, no working directory
                raise DaemonError(f"cannot start the mypy daemon: {exc}") from exc
        self._connection = self._wait_for_status()

    def _wait_for_status(self) -> str:
        """Return the socket name from the status file once the daemon has written it."""
        assert self._process is not None
        deadline = time.monotonic() + self._limits.start_seconds
        while not self._status_file.exists():
            if self._process.poll() is not None:
                raise DaemonError(f"mypy daemon exited: {self._log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise DaemonError(f"mypy daemon did not start in {self._limits.start_seconds} s")
            time.sleep(0.02)
        return str(json.loads(self._status_file.read_text())["connection_name"])

    def _log_tail(self, lines: int = 5) -> str:
        """The last lines the daemon wrote, for an error message."""
        try:
            text = self._log_file.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return " | ".join(text.strip().splitlines()[-lines:]) or "(no output)"

    def request(self, command: str, timeout: float, **args: object) -> dict[str, Any]:
        """Send one dmypy command and return the final answer; raise DaemonError on failure."""
        if not self.alive:
            raise DaemonError("mypy daemon is not running")
        response: dict[str, Any] = {}
        self._busy = True
        try:
            with IPCClient(self._connection, timeout) as client:
                send(client, {"command": command, **args})
                while not response.get("final"):
                    response = receive(client)
        except (OSError, IPCException) as exc:  # socket.timeout is an OSError
            raise DaemonError(f"mypy daemon did not answer {command!r}: {exc}") from exc
        finally:
            self._busy = False
        if "error" in response:
            raise DaemonError(str(response["error"]).strip().splitlines()[-1])
        return response

    def check(self, path: Path, source: str) -> Answer:
        """Type-check `path` as if it held `source`; every other file is read from disk."""
        shadow = self._shadow_path(path)
        shadow.write_text(source, encoding="utf-8")
        response = self.request(
            "check_overlay", self._limits.request_seconds, path=str(path), shadow=str(shadow)
        )
        out = str(response.get("out", "")) + str(response.get("err", ""))
        return Answer(out, bool(response.get("blocked")), int(response.get("generation", 0)))

    def _shadow_path(self, path: Path) -> Path:
        """The private file that stands in for `path`; its name keeps mypy's .py/.pyi rule."""
        digest = hashlib.sha1(str(path).encode()).hexdigest()[:16]
        folder = self._state_dir / "shadow" / digest
        folder.mkdir(parents=True, exist_ok=True)
        return folder / path.name

    def stop(self) -> None:
        """Ask the daemon to stop, kill it if it does not, and wait for it to exit.

        A daemon in the middle of a check (another thread waits for it) cannot answer
        before the check ends, which may take long: it is killed at once.
        """
        with self._lock:
            self._stopped = True
            process = self._process
        if process is None:
            return
        if process.poll() is None and self._connection and not self._busy:
            try:
                self.request("stop", timeout=2.0)
            except DaemonError:
                pass  # hung: killed below
        else:
            process.kill()
        try:
            process.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
