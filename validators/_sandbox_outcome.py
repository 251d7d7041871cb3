"""What a sandboxed run is given and what it comes back as: limits, programs, outcomes.

`classify` turns the end of a run (`_sandbox_process.Capture`) into an outcome and a reason
a person can read. Everything here is re-exported by `validators.sandbox`.
"""

from __future__ import annotations

import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

from validators._sandbox_process import Capture, Stop

_GIB = 1024**3
_MIB = 1024**2

@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits of one sandboxed run."""

    memory_bytes: int = _GIB
    """Address space (RLIMIT_AS) of each process; an allocation beyond it fails."""
    total_memory_bytes: int = _GIB
    """Memory of all of a run's processes together (a cgroup, or the fallback bound)."""
    cpu_seconds: int = 5
    """CPU time (RLIMIT_CPU) of each process: SIGXCPU at this, SIGKILL one second later."""
    processes: int = 64
    """Processes and threads the run may have at once (RLIMIT_NPROC)."""
    file_bytes: int = 10 * _MIB
    """Largest file the run may write (RLIMIT_FSIZE)."""
    wall_seconds: float = 10.0
    """Wall-clock time after which the whole process tree is killed."""
    output_bytes: int = _MIB
    """Most bytes kept of stdout, and of stderr; more kills the run."""
    tmp_bytes: int = 64 * _MIB
    """Size of the private /tmp (which holds the program and its files) and of /dev/shm."""

    def __post_init__(self) -> None:
        """Reject limits that would make every run fail or none be limited."""
        for name, value in vars(self).items():
            if value <= 0:
                raise ValueError(f"sandbox limit {name} must be positive, not {value}")


class Outcome(Enum):
    """How a sandboxed run ended."""

    PASSED = "passed"
    """Exit status 0."""
    FAILED = "failed"
    """Nonzero exit status (an exception, an assertion, `sys.exit(1)`)."""
    TIMEOUT = "timeout"
    """Still running at the wall-clock limit; killed."""
    KILLED = "killed"
    """Killed by a signal or stopped by a resource limit."""
    OUTPUT_LIMIT = "output_limit"
    """Wrote more than the output cap; killed."""
    UNAVAILABLE = "unavailable"
    """Not run: no usable sandbox, or the sandbox was closed."""


@dataclass(frozen=True)
class RunResult:
    """What one sandboxed run did."""

    outcome: Outcome
    returncode: int | None
    """bwrap's exit status (128 + N for signal N); None when nothing ran."""
    stdout: str
    """Standard output, cut at the output cap."""
    stderr: str
    """Standard error, cut at the output cap."""
    seconds: float
    """Wall-clock seconds from start to the last process reaped."""
    reason: str = ""
    """Why it did not pass, for people: "CPU limit (5 s) exceeded"; empty when it passed."""

    @property
    def passed(self) -> bool:
        """Tell whether the program ran to exit status 0."""
        return self.outcome is Outcome.PASSED


@dataclass(frozen=True)
class Program:
    """A program to run: its source, files beside it, its command-line arguments."""

    source: str
    files: Mapping[str, str] = field(default_factory=dict)
    """Relative name → text, written into the work directory, which is importable."""
    args: tuple[str, ...] = ()
    """`sys.argv[1:]` of the program."""
    wall_seconds: float | None = None
    """Wall-clock limit for this program instead of the sandbox's (a batch of candidates)."""


def unavailable(reason: str) -> RunResult:
    return RunResult(Outcome.UNAVAILABLE, None, "", "", 0.0, reason)


def byte_size(count: int) -> str:
    """A byte count as people write it: "1 GiB", "10 MiB", "1000 bytes"."""
    for unit, name in ((_GIB, "GiB"), (_MIB, "MiB"), (1024, "KiB")):
        if count % unit == 0:
            return f"{count // unit} {name}"
    return f"{count} bytes"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def classify(capture: Capture, limits: SandboxLimits) -> tuple[Outcome, str]:
    """Turn the exit of a run into an outcome and a reason a person can read.

    bwrap reports a signal death as exit status 128 + N, so a program calling `sys.exit(137)`
    reads as killed by SIGKILL; it does not pass either way. A limit that Python turns into an
    exception (MemoryError, EFBIG, EAGAIN from fork) is recognised by the last line of stderr.
    """
    stop = capture.stop
    if stop is Stop.WALL:
        return Outcome.TIMEOUT, f"killed by SIGKILL after {limits.wall_seconds:g} s wall clock"
    if stop is Stop.STDOUT or stop is Stop.STDERR:
        cap = byte_size(limits.output_bytes)
        return Outcome.OUTPUT_LIMIT, f"output limit ({cap}) exceeded on {stop.value}"
    if stop is Stop.CLOSED:
        return Outcome.UNAVAILABLE, "sandbox closed while the program ran"
    code = capture.returncode
    if code == 0:
        return Outcome.PASSED, ""
    number = -code if code < 0 else code - 128
    if 0 < number < 65:
        if number == signal.SIGXCPU:
            return Outcome.KILLED, f"CPU limit ({limits.cpu_seconds} s) exceeded"
        if number == signal.SIGXFSZ:
            return Outcome.KILLED, f"file size limit ({byte_size(limits.file_bytes)}) exceeded"
        return Outcome.KILLED, f"killed by {_signal_name(number)}"
    stderr = capture.stderr.decode("utf-8", "replace")
    last = _last_line(stderr)
    if last.split(":")[0] == "MemoryError":
        return Outcome.KILLED, f"address space limit ({byte_size(limits.memory_bytes)}) reached"
    if "[Errno 27]" in last:  # EFBIG: Python ignores SIGXFSZ and raises instead
        return Outcome.KILLED, f"file size limit ({byte_size(limits.file_bytes)}) exceeded"
    if "[Errno 11]" in last and "fork" in stderr:
        return Outcome.KILLED, f"process limit ({limits.processes}) reached"
    return Outcome.FAILED, f"exit status {code}: {last}" if last else f"exit status {code}"
