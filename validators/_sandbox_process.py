"""The process half of the sandbox: start bwrap, read its output under caps, kill it all.

The tree looks like this: the server's thread → bwrap (outer, its own process group) →
bwrap's init, pid 1 of a fresh pid namespace, in a new session → the program and anything it
forks. When pid 1 of a namespace exits, the kernel kills every other process in it first;
so killing the init with SIGKILL ends the whole run, and once `Execution.finish` has seen
both the outer bwrap and the init exit, nothing of the run is left running.
"""

from __future__ import annotations

import json
import os
import select
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from enum import Enum

_CHUNK = 64 * 1024
"""Bytes read per wakeup from a pipe."""

_REAP_SECONDS = 2.0
"""How long a killed tree may take to die before the outer bwrap is killed too."""


class Stop(Enum):
    """Why the parent ended a run early."""

    WALL = "wall"
    STDOUT = "stdout"
    STDERR = "stderr"
    CLOSED = "closed"


@dataclass(frozen=True)
class Capture:
    """What one run left: exit status, capped output, and why it was stopped, if it was."""

    returncode: int
    """bwrap's exit status: the program's, or 128 + N when signal N killed it."""
    stdout: bytes
    stderr: bytes
    stop: Stop | None
    seconds: float


def _write_memfd(content: bytes) -> int:
    """An anonymous file holding `content`, rewound, for bwrap's `--file FD DEST`."""
    fd = os.memfd_create("vetted-sandbox")
    try:
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view) :]
        os.lseek(fd, 0, os.SEEK_SET)
    except OSError:
        os.close(fd)
        raise
    return fd


def _parent_pid(pid: int) -> int | None:
    """The parent of `pid` from /proc, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            # The command name may hold spaces and parentheses; fields resume after the last ")".
            return int(stat.read().rsplit(b")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def count_tasks(uid: int) -> int:
    """Count the threads of every process whose real uid is `uid` (what RLIMIT_NPROC counts)."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status") as status:
                fields = dict(line.split(":", 1) for line in status if ":" in line)
            if int(fields["Uid"].split()[0]) == uid:
                total += int(fields["Threads"])
        except (OSError, KeyError, ValueError):
            continue  # the process ended while being read
    return total


class Execution:
    """One bwrap process tree, from start to reaped; `kill` may be called from any thread."""

    def __init__(self, *, host_uid: int | None, wall_seconds: float, output_bytes: int) -> None:
        self._host_uid = host_uid
        self._wall_seconds = wall_seconds
        self._output_bytes = output_bytes
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._init_pidfd: int | None = None
        self._closed = False
        self._started = 0.0
        self._info_read = -1
        self._init_pid = 0

    def start(
        self,
        build_argv: Callable[[Sequence[tuple[int, str]], int, int, int | None], list[str]],
        files: Mapping[str, bytes],
        env: Mapping[str, str],
        admit: Callable[[int], None] | None = None,
        seccomp: bytes | None = None,
    ) -> None:
        """Start bwrap on `build_argv(fds and names, info fd, block fd, seccomp fd or None)`.

        Raises OSError if it cannot. `seccomp` is a compiled BPF filter for `--seccomp`.

        bwrap builds the sandbox, reports its init's pid and then waits on the block fd;
        `admit` is called with the outer bwrap's pid and then the init's (to move them into a
        cgroup) before the program is let go. If `admit` raises, the run is killed and the
        OSError raised.
        """
        fds: list[tuple[int, str]] = []
        info_read = info_write = block_read = block_write = seccomp_fd = -1
        try:
            for name, content in files.items():
                fds.append((_write_memfd(content), name))
            if seccomp is not None:
                seccomp_fd = _write_memfd(seccomp)
            info_read, info_write = os.pipe()
            block_read, block_write = os.pipe()
            argv = build_argv(fds, info_write, block_read, None if seccomp_fd < 0 else seccomp_fd)
            self._started = time.monotonic()
            with self._lock:
                if self._closed:
                    raise OSError("sandbox closed")
                # user/group/extra_groups are applied in C between fork and exec (no Python
                # there, which would not be safe in a threaded server).
                self._proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    pass_fds=[fd for fd, _ in fds] + [info_write, block_read]
                    + ([seccomp_fd] if seccomp_fd >= 0 else []),
                    start_new_session=True,
                    env=dict(env),
                    cwd="/",
                    user=self._host_uid,
                    group=self._host_uid,
                    extra_groups=None if self._host_uid is None else [],
                )
        except BaseException:
            for fd in (info_read, block_write):
                if fd >= 0:
                    os.close(fd)
            raise
        finally:
            for fd in (info_write, block_read, seccomp_fd, *(fd for fd, _ in fds)):
                if fd >= 0:
                    os.close(fd)
        self._info_read = info_read
        try:
            self._release(block_write, admit)
        finally:
            os.close(block_write)

    def _release(self, block_write: int, admit: Callable[[int], None] | None) -> None:
        """Wait for bwrap to name its init, admit both processes, then let the program go."""
        proc = self._proc
        assert proc is not None
        info = bytearray()
        deadline = self._started + self._wall_seconds
        while self._init_pidfd is None:
            ready, _, _ = select.select([self._info_read], [], [], deadline - time.monotonic())
            data = os.read(self._info_read, _CHUNK) if ready else b""
            if not data:
                return  # bwrap failed before its init started, or hung: finish() tells
            info += data
            self._open_init(bytes(info), proc.pid)
        if admit is not None:
            try:
                admit(proc.pid)
                admit(self._init_pid)
            except ProcessLookupError:
                return  # bwrap gave up setting up the sandbox; finish() reads why
            except OSError:
                self.kill()
                self._reap(proc)
                raise
        os.write(block_write, b"1")

    def finish(self) -> Capture:
        """Read the output until exit, the wall clock, or an output cap; reap everything."""
        proc = self._proc
        assert proc is not None and proc.stdout is not None and proc.stderr is not None
        deadline = self._started + self._wall_seconds
        outputs = {proc.stdout.fileno(): bytearray(), proc.stderr.fileno(): bytearray()}
        caps = {proc.stdout.fileno(): Stop.STDOUT, proc.stderr.fileno(): Stop.STDERR}
        info = bytearray()
        stop: Stop | None = None
        with selectors.DefaultSelector() as selector:
            for fd in (*outputs, self._info_read):
                selector.register(fd, selectors.EVENT_READ)
            while stop is None and selector.get_map():
                timeout = deadline - time.monotonic()
                if timeout <= 0:
                    stop = Stop.WALL
                    break
                for key, _ in selector.select(timeout):
                    data = os.read(key.fd, _CHUNK)
                    if not data:
                        selector.unregister(key.fd)
                    elif key.fd == self._info_read:
                        info += data
                        self._open_init(bytes(info), proc.pid)
                    else:
                        buffer = outputs[key.fd]
                        buffer += data
                        if len(buffer) > self._output_bytes:
                            del buffer[self._output_bytes :]
                            stop = caps[key.fd]
                            break
        if stop is None:
            # Both pipes closed, yet a program may close them and live on.
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.0))
            except subprocess.TimeoutExpired:
                stop = Stop.WALL
        if stop is not None:
            self._read_info(info, proc.pid)
            self.kill()
        self._reap(proc)
        if self._closed:
            stop = Stop.CLOSED
        stdout, stderr = outputs.values()
        seconds = time.monotonic() - self._started
        return Capture(proc.returncode, bytes(stdout), bytes(stderr), stop, seconds)

    def _read_info(self, info: bytearray, outer_pid: int) -> None:
        """Take what bwrap has written to `--info-fd` but the loop has not read yet."""
        if self._init_pidfd is not None:
            return
        poller = select.poll()
        poller.register(self._info_read, select.POLLIN)
        while poller.poll(0):
            data = os.read(self._info_read, _CHUNK)
            if not data:
                break
            info += data
        self._open_init(bytes(info), outer_pid)

    def _open_init(self, info: bytes, outer_pid: int) -> None:
        """Hold a pidfd on the namespace's init once `--info-fd` has named it."""
        if self._init_pidfd is not None:
            return
        try:
            pid = int(json.loads(info)["child-pid"])
        except (ValueError, KeyError, TypeError):
            return  # not all of the JSON has arrived yet
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            return  # already gone: nothing to kill through it
        # A pidfd names one process for good; checking the parent after opening it proves the
        # pid was not reused by an unrelated process between the report and the open.
        if _parent_pid(pid) != outer_pid:
            os.close(pidfd)
            return
        with self._lock:
            self._init_pidfd = pidfd
            self._init_pid = pid

    def kill(self) -> None:
        """Kill the whole tree now: the namespace's init if known, else the outer bwrap."""
        with self._lock:
            if self._init_pidfd is not None:
                with suppress(ProcessLookupError):
                    signal.pidfd_send_signal(self._init_pidfd, signal.SIGKILL)
            elif self._proc is not None:
                # Before bwrap reported its init: --die-with-parent takes the init down too.
                with suppress(ProcessLookupError):
                    os.killpg(self._proc.pid, signal.SIGKILL)

    def close(self) -> None:
        """Kill the tree from another thread and mark the run as stopped by closing."""
        with self._lock:
            self._closed = True
        self.kill()

    def _reap(self, proc: subprocess.Popen[bytes]) -> None:
        """Wait for the outer bwrap and for the namespace's init, then close every fd.

        The outer bwrap exits as soon as its init reports the program's exit status, which
        can be just before the init itself exits and takes the namespace down with it; so the
        init is awaited through its pidfd, which turns readable once it has exited. (Its
        zombie, reparented to the host's init, is reaped there.)
        """
        try:
            proc.wait(timeout=_REAP_SECONDS)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        with self._lock:
            pidfd, self._init_pidfd = self._init_pidfd, None
        if pidfd is not None:
            if not _exited(pidfd, _REAP_SECONDS):
                with suppress(ProcessLookupError):
                    signal.pidfd_send_signal(pidfd, signal.SIGKILL)
                _exited(pidfd, _REAP_SECONDS)
            os.close(pidfd)
        os.close(self._info_read)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def _exited(pidfd: int, timeout: float) -> bool:
    """Wait up to `timeout` seconds for the process behind `pidfd` to exit."""
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    return bool(poller.poll(timeout * 1000))
