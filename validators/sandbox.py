"""Run untrusted, model-generated Python in a bubblewrap sandbox and report what happened.

Each run gets fresh namespaces of every kind (no network, a private pid tree), a read-only
root that holds only the system's /usr, /lib*, /bin and a few /etc files (plus the binds a
caller asks for), a small private /tmp, no capabilities, an unprivileged uid, rlimits on
memory, CPU, processes and file size, a memory cap on the whole run, capped output, and a
wall clock after which the whole tree is killed. Where bubblewrap is missing or cannot build
namespaces, nothing runs at all: `Sandbox.probe` says why and `Sandbox.run` answers
`UNAVAILABLE`. There is no unsandboxed fallback.

Who runs it. As root, slot `i` drops to uid `base_uid + i` before bwrap starts, so the
kernel's exemption of uid 0 from RLIMIT_NPROC does not apply and no two slots share a
process count. A normal user cannot switch uid: bwrap's user namespace shows the slot uid
inside, and RLIMIT_NPROC, set inside that namespace, counts only the sandbox's processes on
Linux 5.14 and newer; on older kernels it is set above the user's current task count (see
`_sandbox_command.nproc_limit`).

Memory of the whole run. Each slot has a memory cgroup capped at `total_memory_bytes`
where the machine allows one (`_sandbox_cgroup`); the run's processes together cannot pass
it. Elsewhere the product of the process limit and the per-process address-space limit is
kept at or under the total: at most `FALLBACK_PROCESSES` processes (threads count) of
`total_memory_bytes / FALLBACK_PROCESSES` address space each. `Sandbox.memory_cap` says
which holds.

How it ends. The parent reads stdout and stderr as they come and keeps at most
`output_bytes` of each; past that, or past `wall_seconds`, it SIGKILLs bwrap's init (pid 1 of
the run's pid namespace, held by a pidfd), the kernel kills everything else in the
namespace, and the parent waits until the init has exited (`_sandbox_process`).

bwrap reference: https://github.com/containers/bubblewrap/blob/main/bwrap.xml
"""

from __future__ import annotations

import logging
import os
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import replace
from functools import partial
from pathlib import Path

from validators._sandbox_cgroup import MemoryGroup, open_groups
from validators._sandbox_command import (
    PROGRAM_NAME,
    SANDBOX_ENV,
    Identity,
    Layout,
    bootstrap_code,
    bwrap_argv,
    check_file_names,
    interpreter_prefixes,
    nproc_counts_per_namespace,
    nproc_limit,
    plan_identity,
    system_binds,
)
from validators._sandbox_outcome import Outcome as Outcome
from validators._sandbox_outcome import Program as Program
from validators._sandbox_outcome import RunResult as RunResult
from validators._sandbox_outcome import SandboxLimits as SandboxLimits
from validators._sandbox_outcome import byte_size, unavailable
from validators._sandbox_outcome import classify as classify
from validators._sandbox_process import Execution, Stop, count_tasks
from validators._seccomp import filter_for

logger = logging.getLogger(__name__)

FALLBACK_PROCESSES = 4
"""Processes (and threads) a run may have when no memory cgroup bounds its total."""

NOT_INSTALLED = "bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
"""Probe answer when no bwrap executable is found."""


def _namespace_failure(stderr: str) -> bool:
    words = ("namespace", "uid map", "gid map", "setting up", "operation not permitted")
    return any(word in stderr.lower() for word in words)


_STOP_POLL_SECONDS = 0.02
"""How often a stoppable `run_many` looks at its cancel event and its deadline."""


class _Stopper:
    """Stops the runs of one `run_many` call: those running are killed, the rest never start."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._executions: set[Execution] = set()
        self.reason = ""

    def add(self, execution: Execution) -> bool:
        """Track a run about to start; False when the call is already stopped."""
        with self._lock:
            if self.reason:
                return False
            self._executions.add(execution)
            return True

    def discard(self, execution: Execution) -> None:
        with self._lock:
            self._executions.discard(execution)

    def stop(self, reason: str) -> None:
        """Kill every tracked run now and refuse new ones, for `reason`."""
        with self._lock:
            self.reason = reason
            running = list(self._executions)
        for execution in running:
            execution.close()


class Sandbox:
    """A pool of `slots` sandboxes, each with its own uid, that run programs to a `RunResult`.

    Thread-safe: `run` blocks the calling thread until a slot is free and the run is over,
    and nothing of the run is left running when it returns (bwrap's init may linger a moment
    as a zombie until the host's init reaps it). Call `run` from a thread that outlives the
    call, as any caller does: bwrap's `--die-with-parent` watches the starting thread.
    """

    def __init__(
        self,
        limits: SandboxLimits | None = None,
        *,
        slots: int = 2,
        python: str = "/usr/bin/python3",
        ro_binds: Sequence[str | Path] = (),
        ro_mounts: Sequence[tuple[str | Path, str]] = (),
        bwrap: str = "bwrap",
        base_uid: int = 61000,
        memory_cgroups: bool = True,
        seccomp: bool = True,
    ) -> None:
        """Configure the pool; nothing is started until the first `probe` or `run`.

        `python` runs inside the sandbox and must be readable by the slot uid (a pyenv under
        /root is not); when it lives outside the system directories, its prefixes are bound
        too. `ro_binds` are host paths bound read-only at the same place, after the private
        /tmp, so they show through it; `ro_mounts` bind a host path read-only at another place
        under /tmp (libraries the programs import). Slot `i` runs as uid `base_uid + i`.
        `memory_cgroups=False` skips the cgroups and takes the fallback memory bound;
        `seccomp=False` runs without the system-call filter (`_seccomp`).
        """
        if slots < 1:
            raise ValueError(f"sandbox needs at least one slot, not {slots}")
        self.limits = limits or SandboxLimits()
        self._slots = slots
        self._bwrap = bwrap
        self._base_uid = base_uid
        self._layout = Layout(
            python=python,
            ro_binds=tuple(str(Path(path).absolute()) for path in ro_binds),
            ro_mounts=tuple((str(Path(source).absolute()), target) for source, target in ro_mounts),
            system=system_binds(),
            tmp_bytes=self.limits.tmp_bytes,
        )
        self._per_namespace = nproc_counts_per_namespace(os.uname().release)
        self._free: queue.SimpleQueue[int] = queue.SimpleQueue()
        for slot in range(slots):
            self._free.put(slot)
        self._lock = threading.Lock()
        self._probe_lock = threading.Lock()
        self._probed = False
        self._unavailable: str | None = None
        self._bwrap_path = ""
        self._running: set[Execution] = set()
        self._closed = False
        self._use_cgroups = memory_cgroups
        self._seccomp = filter_for() if seccomp else None
        self._groups: list[MemoryGroup] = []
        self.memory_cap = ""
        """What bounds a run's total memory here, for people; set by `probe`."""

    def probe(self) -> str | None:
        """Return why the sandbox cannot be used, or None when it can; checked once, cached."""
        with self._probe_lock:
            if not self._probed:
                self._unavailable = self._probe()
                self._probed = True
            return self._unavailable

    def run(
        self, source: str, *, files: Mapping[str, str] | None = None, args: Sequence[str] = ()
    ) -> RunResult:
        """Run `source` as __main__ with `files` beside it; never raises on bad code.

        ValueError is raised only for a file name outside the work directory, which is the
        caller's mistake.
        """
        return self._run_program(Program(source, dict(files or {}), tuple(args)))

    def run_many(
        self,
        programs: Sequence[str | Program],
        *,
        cancel: threading.Event | None = None,
        budget: float | None = None,
    ) -> list[RunResult]:
        """Run programs in parallel over the slots; results come back in the same order.

        When `cancel` is set, or `budget` seconds have passed, the runs still going are
        killed and the rest never start: each of them answers `UNAVAILABLE` with the reason
        ("cancelled", "time budget (2 s) spent"), never a failure of its program.
        """
        if not programs:
            return []
        jobs = [Program(p) if isinstance(p, str) else p for p in programs]
        for job in jobs:
            check_file_names(list(job.files))
        stopper = _Stopper()
        deadline = None if budget is None else time.monotonic() + budget
        with ThreadPoolExecutor(self._slots, thread_name_prefix="sandbox") as pool:
            futures = [pool.submit(self._run_program, job, stopper) for job in jobs]
            while (cancel is not None or deadline is not None) and not stopper.reason:
                if not wait(futures, timeout=_STOP_POLL_SECONDS).not_done:
                    break
                if cancel is not None and cancel.is_set():
                    stopper.stop("cancelled")
                elif deadline is not None and time.monotonic() >= deadline:
                    stopper.stop(f"time budget ({budget:g} s) spent")
            return [future.result() for future in futures]

    def close(self) -> None:
        """Kill every run in progress and refuse new ones."""
        with self._lock:
            self._closed = True
            running = list(self._running)
        for execution in running:
            execution.close()
        if not running:
            for group in self._groups:
                group.remove()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _probe(self) -> str | None:
        """Find bwrap, check its options, and run an empty program through the real path."""
        found = shutil.which(self._bwrap)
        if found is None:
            return NOT_INSTALLED
        try:
            usage = subprocess.run(
                [found, "--help"], capture_output=True, text=True, timeout=10, check=False
            ).stdout
        except (OSError, subprocess.SubprocessError) as exc:
            return f"bwrap cannot be run: {exc}"
        if "--size" not in usage:
            return "bubblewrap is too old: 0.7 or newer is needed (for --size on tmpfs)"
        self._bwrap_path = found
        if "--disable-userns" not in usage:
            self._layout = replace(self._layout, disable_userns=False)
        python = shutil.which(self._layout.python)
        if python is None:
            return f"sandbox python {self._layout.python} is not an executable file"
        self._layout = replace(self._layout, python=python)
        outside = interpreter_prefixes(python, self._layout)
        if isinstance(outside, str):
            return outside
        self._layout = replace(self._layout, ro_binds=(*self._layout.ro_binds, *outside))
        self._open_memory_groups()
        self._log_limits()
        result = self._execute(0, Program("import sys"))
        if result.passed:
            return None
        detail = (result.stderr.strip() or result.reason).splitlines()[0]
        if result.outcome is Outcome.UNAVAILABLE:
            return detail
        if "execvp" in detail or any(path in detail for path in outside):
            # /root and /home are hidden, and a pyenv there is unreadable by the slot uid.
            return f"sandbox python {self._layout.python} cannot run inside bwrap: {detail}"
        if _namespace_failure(detail):
            return f"bwrap cannot create namespaces: {detail}"
        if detail.startswith("bwrap:"):
            return f"bwrap cannot set up the sandbox: {detail}"
        return f"sandbox self-test failed: {detail}"

    def _open_memory_groups(self) -> None:
        total = byte_size(self.limits.total_memory_bytes)
        found = open_groups(self._slots, self.limits.total_memory_bytes) if self._use_cgroups \
            else "memory cgroups turned off"
        if isinstance(found, str):
            processes, each = self._fallback()
            self.memory_cap = (f"{total} per run as {processes} processes of {byte_size(each)} "
                               f"address space ({found})")
            return
        self._groups = found
        self.memory_cap = f"{total} per run (cgroup v{found[0].version}: {found[0].path.parent})"

    def _log_limits(self) -> None:
        logger.info("sandbox memory: %s; seccomp filter: %s", self.memory_cap,
                    "on" if self._seccomp is not None else "none for this architecture or off")

    def _fallback(self) -> tuple[int, int]:
        """Processes and address space per process whose product stays within the total."""
        limits = self.limits
        processes = min(limits.processes, FALLBACK_PROCESSES)
        return processes, min(limits.memory_bytes, limits.total_memory_bytes // processes)

    def _effective(self) -> SandboxLimits:
        """The limits a run gets here: the fallback bound where no cgroup caps the total."""
        if self._groups:
            return self.limits
        processes, address_space = self._fallback()
        return replace(self.limits, processes=processes, memory_bytes=address_space)

    def _run_program(self, program: Program, stopper: _Stopper | None = None) -> RunResult:
        check_file_names(list(program.files))
        reason = self.probe()
        if reason is not None:
            return unavailable(reason)
        slot = self._free.get()
        try:
            if stopper is not None and stopper.reason:
                return unavailable(stopper.reason)
            return self._execute(slot, program, stopper)
        finally:
            self._free.put(slot)

    def _execute(self, slot: int, program: Program, stopper: _Stopper | None = None) -> RunResult:
        """Run one program in `slot` (held by the caller) and classify its end."""
        identity = plan_identity(euid=os.geteuid(), slot=slot, base_uid=self._base_uid)
        limits = self._effective()
        if program.wall_seconds is not None:
            limits = replace(limits, wall_seconds=program.wall_seconds)
        execution = Execution(
            host_uid=identity.host_uid,
            wall_seconds=limits.wall_seconds,
            output_bytes=limits.output_bytes,
        )
        files = {PROGRAM_NAME: program.source, **program.files}
        # Lone surrogates from a tokenizer reach the program as a decoding error, not here.
        contents = {name: text.encode("utf-8", "surrogatepass") for name, text in files.items()}
        group = self._groups[slot] if self._groups else None
        with self._lock:
            if self._closed:
                return unavailable("sandbox closed")
            self._running.add(execution)
        if stopper is not None and not stopper.add(execution):
            with self._lock:
                self._running.discard(execution)
            return unavailable(stopper.reason)
        try:
            build = partial(self._argv, identity, args=program.args)
            kills = group.oom_kills() if group else 0
            admit = None if group is None else group.add
            execution.start(build, contents, SANDBOX_ENV, admit, self._seccomp)
            capture = execution.finish()
        except OSError as exc:
            if stopper is not None and stopper.reason:
                return unavailable(stopper.reason)
            return unavailable(f"cannot start bwrap: {exc}")
        finally:
            with self._lock:
                self._running.discard(execution)
            if stopper is not None:
                stopper.discard(execution)
        if stopper is not None and stopper.reason and capture.stop is Stop.CLOSED:
            return unavailable(stopper.reason)
        outcome, reason = classify(capture, limits)
        if group is not None and outcome is not Outcome.PASSED and group.oom_kills() > kills:
            outcome = Outcome.KILLED
            reason = f"memory limit of the run ({byte_size(limits.total_memory_bytes)}) reached"
        return RunResult(
            outcome,
            capture.returncode,
            capture.stdout.decode("utf-8", "replace"),
            capture.stderr.decode("utf-8", "replace"),
            capture.seconds,
            reason,
        )

    def _argv(
        self,
        identity: Identity,
        files: Sequence[tuple[int, str]],
        info_fd: int,
        block_fd: int,
        seccomp_fd: int | None,
        *,
        args: Sequence[str],
    ) -> list[str]:
        limits = self._effective()
        nproc = nproc_limit(
            limits.processes,
            identity=identity,
            per_namespace=self._per_namespace,
            own_tasks=partial(count_tasks, os.getuid()),
        )
        rlimits = [
            ("RLIMIT_AS", limits.memory_bytes, limits.memory_bytes),
            # The hard limit a second later turns a program that ignores SIGXCPU into SIGKILL.
            ("RLIMIT_CPU", limits.cpu_seconds, limits.cpu_seconds + 1),
            ("RLIMIT_NPROC", nproc, nproc),
            ("RLIMIT_FSIZE", limits.file_bytes, limits.file_bytes),
            ("RLIMIT_CORE", 0, 0),
        ]
        return bwrap_argv(
            self._bwrap_path,
            self._layout,
            identity,
            files=files,
            info_fd=info_fd,
            bootstrap=bootstrap_code(rlimits),
            args=args,
            block_fd=block_fd,
            seccomp_fd=seccomp_fd,
        )

