"""A seccomp filter for the sandbox: deny the system calls that tests never need.

bwrap loads a classic BPF program from `--seccomp FD` (with `no_new_privs` set) just before
it runs the program, so everything the program and its children do goes through it. The
filter answers EPERM for the calls below and allows the rest. Other system call ABIs number
their calls differently: a 32-bit call on x86-64 (another audit arch) kills the process,
and every x32 call gets EPERM. Tables exist for x86-64 only: elsewhere `filter_for`
answers None and the sandbox runs without one (its namespaces, dropped capabilities and
read-only root still hold).

Numbers are the kernel's `arch/x86/entry/syscalls/syscall_64.tbl` (checked against this
machine's `asm/unistd_64.h` by the unit tests where the header is installed). Filter layout
as in seccomp(2): load the arch, compare, load the number, compare each, return.
"""

from __future__ import annotations

import errno
import platform
import struct

DENIED = (
    # Debugging and reading other processes.
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
    # Mounts and namespaces: the sandbox's own are built; nothing may change them.
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "mount_setattr",
    "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree",
    "open_by_handle_at", "name_to_handle_at",
    # The kernel itself: modules, kexec, BPF, perf, keys, the log, swap, the clock, reboot.
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "bpf",
    "perf_event_open", "keyctl", "add_key", "request_key", "syslog", "swapon", "swapoff",
    "reboot", "acct", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
    "quotactl", "lookup_dcookie", "fanotify_init", "vhangup", "iopl", "ioperm",
    # Asynchronous I/O rings and userfaultfd: large kernel surfaces no test uses.
    "io_uring_setup", "io_uring_enter", "io_uring_register", "userfaultfd",
)
"""System calls the sandbox answers with EPERM."""

X86_64 = {
    "ptrace": 101, "syslog": 103, "vhangup": 153, "pivot_root": 155, "adjtimex": 159,
    "chroot": 161, "acct": 163, "settimeofday": 164, "mount": 165, "umount2": 166,
    "swapon": 167, "swapoff": 168, "reboot": 169, "iopl": 172, "ioperm": 173,
    "init_module": 175, "delete_module": 176, "quotactl": 179, "lookup_dcookie": 212,
    "clock_settime": 227, "kexec_load": 246, "add_key": 248, "request_key": 249,
    "keyctl": 250, "unshare": 272, "perf_event_open": 298, "fanotify_init": 300,
    "name_to_handle_at": 303, "open_by_handle_at": 304, "clock_adjtime": 305, "setns": 308,
    "process_vm_readv": 310, "process_vm_writev": 311, "kcmp": 312, "finit_module": 313,
    "kexec_file_load": 320, "bpf": 321, "userfaultfd": 323, "io_uring_setup": 425,
    "io_uring_enter": 426, "io_uring_register": 427, "open_tree": 428, "move_mount": 429,
    "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442,
}
"""x86-64 system call numbers of `DENIED`."""

_AUDIT_ARCH_X86_64 = 0xC000003E
_X32_SYSCALL_BIT = 0x40000000

# Classic BPF opcodes (linux/bpf_common.h) and seccomp return values (linux/seccomp.h).
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_RET_K = 0x06
_RET_KILL_PROCESS = 0x80000000
_RET_ERRNO = 0x00050000
_RET_ALLOW = 0x7FFF0000
_NR_OFFSET = 0  # struct seccomp_data: int nr; __u32 arch; ...
_ARCH_OFFSET = 4


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def build_filter(numbers: list[int], arch: int, abi_bit: int) -> bytes:
    """The BPF program: kill another arch, EPERM for `numbers`, allow everything else.

    Every call numbered at or above `abi_bit` (the x32 ABI) gets EPERM as well.
    """
    numbers = sorted(set(numbers))
    count = len(numbers)
    if count > 250:
        raise ValueError("too many system calls for one-byte jumps")
    program = [
        _op(_LD_W_ABS, _ARCH_OFFSET),
        _op(_JEQ_K, arch, jt=1),  # the right arch: skip the kill
        _op(_RET_K, _RET_KILL_PROCESS),
        _op(_LD_W_ABS, _NR_OFFSET),
        _op(_JGE_K, abi_bit, jt=count + 1),  # an x32 call: straight to EPERM
    ]
    # After the last comparison comes ALLOW, then ERRNO: comparison i jumps count - i over
    # the remaining comparisons and the ALLOW.
    for index, number in enumerate(numbers):
        program.append(_op(_JEQ_K, number, jt=count - index))
    program.append(_op(_RET_K, _RET_ALLOW))
    program.append(_op(_RET_K, _RET_ERRNO | errno.EPERM))
    return b"".join(program)


def filter_for(machine: str | None = None) -> bytes | None:
    """The compiled filter for this machine's architecture, or None where there is no table."""
    if (machine or platform.machine()) not in ("x86_64", "amd64", "AMD64"):
        return None
    return build_filter([X86_64[name] for name in DENIED], _AUDIT_ARCH_X86_64, _X32_SYSCALL_BIT)
