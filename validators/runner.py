"""Run candidate programs against probes and checks; executed as a script inside the sandbox.

Standard library only: the sandbox's Python is not the server's. It reads a job (JSON) from
the file named on the command line and prints one JSON line per program. Each program runs
in its own forked child, so one candidate's state, crash or endless loop cannot touch the
next one; the child reports through a pipe, with its own stdout and stderr sent to
/dev/null so a chatty candidate cannot forge or flood the report.

Job::

    {"programs": [source, ...],      # whole modules: the document with a candidate spliced in
     "checks": [statement, ...],     # asserts, run first; each passes when it runs without raising
     "probes": [expression, ...],    # evaluated after the checks; their values are its behaviour
     "program_timeout": 2.0, "call_timeout": 1.0,
     "budget": 5.0,                  # seconds for all checks and probes of one program
     "probe_share": 0.5}             # of the budget, at most this share goes to probes

Report line per program (in order)::

    {"index": i, "loaded": bool, "error": str, "probes": [str], "checks": [true|false|null]}

A check that raises or does not finish within ``call_timeout`` fails; ``null`` marks one
skipped once the program's budget was spent (no evidence either way). The checks run
first: they are the user's own tests, and probes (invented inputs, for agreement between
candidates) must never use up the time a correct candidate needs to pass them. Probes get
what is left, at most ``probe_share`` of the budget; one skipped reads ``!budget``. A
probe's value is shown canonically (sets sorted, floats rounded to 9 significant digits)
so that equal behaviour compares equal as text.
"""

from __future__ import annotations

import json
import math
import os
import select
import signal
import sys
import time
from typing import Any

_REPR_LIMIT = 300
"""Longest probe value kept; longer values are cut (and still compared by their start)."""


class _Timeout(BaseException):
    """The alarm fired; a BaseException, so a candidate's `except Exception` cannot eat it."""


def _on_alarm(signum: int, frame: object) -> None:
    raise _Timeout


def canonical(value: Any, depth: int = 0) -> str:
    """Render a value so that equal behaviour gives equal text across processes."""
    if depth > 6:
        return "..."
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return repr(float(f"{value:.9g}"))
    if isinstance(value, set | frozenset):
        items = sorted(canonical(v, depth + 1) for v in value)
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list | tuple):
        inner = ", ".join(canonical(v, depth + 1) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner})"
    if isinstance(value, dict):
        pairs = sorted(
            f"{canonical(k, depth + 1)}: {canonical(v, depth + 1)}" for k, v in value.items()
        )
        return "{" + ", ".join(pairs) + "}"
    text = repr(value)
    if " at 0x" in text:  # default object reprs carry addresses
        return f"<{type(value).__name__}>"
    return text


def _with_alarm(seconds: float, action: Any) -> Any:
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return action()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _evaluate(job: dict[str, Any], source: str) -> dict[str, Any]:
    """Run one program and its probes and checks; runs inside the forked child."""
    namespace: dict[str, Any] = {"__name__": "__candidate__",
                                 "__package__": job.get("package") or None}
    report: dict[str, Any] = {"loaded": False, "error": "", "probes": [], "checks": []}
    try:
        code = compile(source, "<candidate>", "exec")
        _with_alarm(job["program_timeout"], lambda: exec(code, namespace))
    except _Timeout:
        report["error"] = "timeout while loading the program"
        return report
    except BaseException as exc:  # noqa: BLE001 - the candidate may raise anything
        report["error"] = f"{type(exc).__name__}: {exc}"[:_REPR_LIMIT]
        return report
    report["loaded"] = True
    started = time.monotonic()
    deadline = started + job["budget"]
    for check in job["checks"]:
        if time.monotonic() > deadline:
            report["checks"].append(None)
            continue
        try:
            _with_alarm(job["call_timeout"], lambda c=check: exec(c, namespace))
            report["checks"].append(True)
        except BaseException:  # noqa: BLE001 - a timeout or anything the candidate raises
            report["checks"].append(False)
    probe_deadline = min(deadline, time.monotonic() + job["probe_share"] * job["budget"])
    for probe in job["probes"]:
        if time.monotonic() > probe_deadline:
            report["probes"].append("!budget")
            continue
        try:
            value = _with_alarm(job["call_timeout"], lambda p=probe: eval(p, namespace))
            report["probes"].append(canonical(value)[:_REPR_LIMIT])
        except _Timeout:
            report["probes"].append("!timeout")
        except BaseException as exc:  # noqa: BLE001
            report["probes"].append(f"!{type(exc).__name__}")
    return report


def _failed(reason: str) -> dict[str, Any]:
    return {"loaded": False, "error": reason, "probes": [], "checks": []}


def _run_child(job: dict[str, Any], source: str, write_fd: int) -> None:
    """Body of the forked child: silence output, evaluate, report, exit without cleanup."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    signal.signal(signal.SIGALRM, _on_alarm)
    try:
        report = _evaluate(job, source)
    except BaseException as exc:  # noqa: BLE001 - report anything, never hang
        report = _failed(f"runner: {type(exc).__name__}")
    data = json.dumps(report).encode()
    with os.fdopen(write_fd, "wb") as pipe:
        pipe.write(data)
    os._exit(0)


def program_seconds(job: dict[str, Any]) -> float:
    """The longest one program may take: loading, its budget, one call over it, and slack."""
    return float(job["program_timeout"] + job["budget"] + job["call_timeout"] + 1.0)


def run_program(job: dict[str, Any], index: int, source: str) -> dict[str, Any]:
    """Fork, run one program in the child and collect its report; kill it when over time."""
    deadline = time.monotonic() + program_seconds(job)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _run_child(job, source, write_fd)
    os.close(write_fd)
    chunks: list[bytes] = []
    timed_out = False
    while True:
        ready, _, _ = select.select([read_fd], [], [], max(deadline - time.monotonic(), 0))
        if not ready:
            timed_out = True
            break
        chunk = os.read(read_fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read_fd)
    if timed_out:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    try:
        report: dict[str, Any] = json.loads(b"".join(chunks))
    except ValueError:
        report = _failed("timeout" if timed_out else f"died (wait status {status})")
    report["index"] = index
    return report


def main(argv: list[str]) -> int:
    """Read the job file named in `argv[1]` and print one report line per program."""
    with open(argv[1], encoding="utf-8") as handle:
        job = json.load(handle)
    job.setdefault("probes", [])
    job.setdefault("checks", [])
    job.setdefault("program_timeout", 2.0)
    job.setdefault("call_timeout", 1.0)
    job.setdefault("budget", 5.0)
    job.setdefault("probe_share", 0.5)
    out = sys.stdout
    for index, source in enumerate(job["programs"]):
        out.write(json.dumps(run_program(job, index, source)) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
