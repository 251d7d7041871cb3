"""The sandbox's seccomp filter: its table, its program, and what it denies in real bwrap."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest

from validators._seccomp import DENIED, X86_64, build_filter, filter_for

HEADER = Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h")


def test_every_denied_call_has_an_x86_64_number() -> None:
    assert sorted(X86_64) == sorted(DENIED)


@pytest.mark.skipif(not HEADER.exists(), reason="no x86-64 kernel headers here")
def test_the_table_matches_the_kernel_headers() -> None:
    numbers = dict(re.findall(r"#define __NR_(\w+) (\d+)", HEADER.read_text()))
    assert {name: int(numbers[name]) for name in X86_64} == X86_64


def run_filter(program: bytes, nr: int, arch: int) -> int:
    """Interpret the filter on one call, as the kernel would: the seccomp return value."""
    ops = [struct.unpack("=HBBI", program[i : i + 8]) for i in range(0, len(program), 8)]
    accumulator, pc = 0, 0
    while True:
        code, jt, jf, k = (int(field) for field in ops[pc])
        if code == 0x20:
            accumulator = nr if k == 0 else arch
        elif code == 0x15:
            pc += jt if accumulator == k else jf
        elif code == 0x35:
            pc += jt if accumulator >= k else jf
        elif code == 0x06:
            return k
        pc += 1


def test_the_program_denies_allows_and_kills() -> None:
    program = filter_for("x86_64")
    assert program is not None
    arch = 0xC000003E
    assert run_filter(program, 101, arch) == 0x00050001  # ptrace: EPERM
    assert run_filter(program, 442, arch) == 0x00050001  # the last one in the table
    assert run_filter(program, 0, arch) == 0x7FFF0000  # read: allowed
    assert run_filter(program, 57, arch) == 0x7FFF0000  # fork: allowed
    assert run_filter(program, 0x40000000 + 1, arch) == 0x00050001  # any x32 call
    assert run_filter(program, 0, 0x40000003) == 0x80000000  # i386: killed


def test_no_table_no_filter() -> None:
    assert filter_for("aarch64") is None
    with pytest.raises(ValueError):
        build_filter(list(range(300)), 1, 2)


TRACE_ME = (
    "import ctypes, os\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "print(libc.syscall(101, 0, 0, 0, 0), os.strerror(ctypes.get_errno()))\n"  # PTRACE_TRACEME
    "print(libc.syscall(250, 0, 0, 0, 0, 0), os.strerror(ctypes.get_errno()))\n"  # keyctl
)


@pytest.mark.skipif(filter_for() is None, reason="no seccomp table for this machine")
@pytest.mark.usefixtures("needs_sandbox")
def test_the_sandbox_denies_ptrace_and_keyctl_only_with_the_filter() -> None:
    from validators.sandbox import Sandbox

    with Sandbox() as filtered, Sandbox(seccomp=False) as unfiltered:
        denied = filtered.run(TRACE_ME)
        allowed = unfiltered.run(TRACE_ME)
    assert denied.stdout == "-1 Operation not permitted\n" * 2, denied
    assert allowed.stdout.splitlines()[0] == "0 Success", allowed
