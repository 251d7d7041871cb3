"""The planning half of the sandbox: who a slot runs as, what it sees, its command line.

Nothing here starts a sandbox, so every decision can be unit-tested on any machine; only
`interpreter_prefixes` runs the interpreter once to ask where it lives.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

WORK_DIR = "/tmp/work"
"""Writable private directory inside the sandbox: the program, its files, its cwd."""

PROGRAM_NAME = "main.py"
"""File name the program is written under in `WORK_DIR` (shown in its tracebacks)."""

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
"""Host directories the interpreter and its shared libraries live in: bound read-only, or
made the same symlink (`/bin -> usr/bin` on merged-/usr systems). Nothing else of the host's
root is there: no homes, no /srv or /opt checkout, no /run sockets, no /var."""

SYSTEM_ETC = (
    "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
    "/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/etc/hosts", "/etc/alternatives",
    "/etc/mime.types",
)
"""Files of /etc that the dynamic loader and the standard library read; the rest of /etc
(credentials, a `.env` copied there, ssh host keys) stays outside. Debian's
`/etc/python3.X` (sitecustomize) is added by `system_binds`."""

_ROOT_BYTES = 1024 * 1024
"""Size of the root tmpfs; it only holds mount points and symlinks, and is read-only."""

SANDBOX_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": WORK_DIR, "TMPDIR": "/tmp"}
"""The whole environment of the sandbox: the server's (tokens, keys) never reaches it."""


@dataclass(frozen=True)
class Identity:
    """Who one slot's sandbox runs as."""

    host_uid: int | None
    """uid and gid the bwrap process switches to when it starts (only root may);
    None keeps the caller's."""
    inner_uid: int | None
    """uid and gid the program sees inside bwrap's user namespace (`--uid/--gid`);
    None keeps the host uid."""


def plan_identity(*, euid: int, slot: int, base_uid: int) -> Identity:
    """Choose the uids of one slot for a server running with effective uid `euid`.

    As root, every slot drops to its own unprivileged uid `base_uid + slot` before bwrap
    starts: the kernel exempts uid 0 from RLIMIT_NPROC even inside a user namespace, and
    one uid per slot keeps a fork bomb in one slot from eating the process budget of another
    on kernels that count processes per uid system-wide. A normal user cannot switch uid, so
    the sandbox keeps the user's uid on the host and shows `base_uid + slot` inside.
    """
    uid = base_uid + slot
    if euid == 0:
        return Identity(host_uid=uid, inner_uid=None)
    return Identity(host_uid=None, inner_uid=uid)


_PER_NAMESPACE_NPROC = (5, 14)
"""First kernel that counts RLIMIT_NPROC per user namespace ("ucounts" rlimits)."""


def nproc_counts_per_namespace(kernel_release: str) -> bool:
    """Tell whether this kernel counts RLIMIT_NPROC per (user namespace, uid).

    Since Linux 5.14 a task's process count is charged to its own user namespace and every
    ancestor, and checked against its own limit at the innermost level, so a limit set inside
    bwrap's fresh user namespace counts the sandbox's processes only. Older kernels count
    every process of the host uid. An unreadable release counts as old.
    """
    match = re.match(r"(\d+)\.(\d+)", kernel_release)
    if match is None:
        return False
    return (int(match[1]), int(match[2])) >= _PER_NAMESPACE_NPROC


def nproc_limit(
    processes: int, *, identity: Identity, per_namespace: bool, own_tasks: Callable[[], int]
) -> int:
    """The RLIMIT_NPROC value that allows the sandbox `processes` processes of its own.

    Per-namespace counting, or a slot uid of its own, makes the count the sandbox's alone.
    Otherwise (a normal user on a kernel older than 5.14) the count includes every task the
    user already runs, so the limit is set above that count, read at each start; the
    user's other programs can then eat into the sandbox's budget, never the other way round.
    """
    if per_namespace or identity.host_uid is not None:
        return processes
    return own_tasks() + processes


@dataclass(frozen=True)
class Layout:
    """The filesystem and namespace options every sandbox of one `Sandbox` shares."""

    python: str
    """Interpreter run inside the sandbox; it must be readable by the slot uid."""
    ro_binds: tuple[str, ...] = ()
    """Host paths bound read-only at the same place (a workspace, a virtualenv)."""
    ro_mounts: tuple[tuple[str, str], ...] = ()
    """(host path, sandbox path under /tmp) pairs bound read-only elsewhere (libraries)."""
    system: tuple[tuple[str, str], ...] = ()
    """The host's system paths: (path, "") bound read-only, or (path, target) a symlink."""
    tmp_bytes: int = 64 * 1024 * 1024
    """Size of the writable tmpfs on /tmp and on /dev/shm."""
    disable_userns: bool = True
    """Pass `--disable-userns` (bubblewrap 0.8 and newer): no nested user namespaces."""


def system_binds(
    exists: Callable[[str], str | None] | None = None, extra_etc: Sequence[str] | None = None
) -> tuple[tuple[str, str], ...]:
    """The `Layout.system` of this host: each of `SYSTEM_DIRS` and `SYSTEM_ETC` that exists.

    `exists(path)` answers None for a missing path, "" for a real one, or a symlink's target;
    `extra_etc` are more /etc paths (Debian's `/etc/python3.X`). Both read the host by default.
    """
    probe = exists or _host_path
    if extra_etc is None:
        extra_etc = sorted(str(path) for path in Path("/etc").glob("python3*"))
    found = []
    for path in (*SYSTEM_DIRS, *SYSTEM_ETC, *extra_etc):
        kind = probe(path)
        if kind is None:
            continue
        # Only the top-level directories are recreated as links; an /etc link is bound through.
        found.append((path, kind if path in SYSTEM_DIRS else ""))
    return tuple(found)


def _host_path(path: str) -> str | None:
    if os.path.islink(path):
        return os.readlink(path) if os.path.exists(path) else None
    return "" if os.path.exists(path) else None


def check_file_names(names: Sequence[str]) -> None:
    """Raise ValueError unless every name is a relative path inside the work directory."""
    for name in names:
        path = PurePosixPath(name)
        if not name or path.is_absolute() or ".." in path.parts or name != str(path):
            raise ValueError(f"sandbox file name must be a plain relative path: {name!r}")
        if name == PROGRAM_NAME:
            raise ValueError(f"sandbox file name {PROGRAM_NAME!r} is reserved for the program")


def _parents(name: str) -> list[str]:
    """Directories (relative, outermost first) that must exist before `name` is written."""
    return [str(parent) for parent in reversed(PurePosixPath(name).parents) if str(parent) != "."]


def bwrap_argv(
    bwrap: str,
    layout: Layout,
    identity: Identity,
    *,
    files: Sequence[tuple[int, str]],
    info_fd: int,
    bootstrap: str,
    args: Sequence[str] = (),
    block_fd: int | None = None,
    seccomp_fd: int | None = None,
) -> list[str]:
    """The bwrap command line that runs `bootstrap` on the program in `WORK_DIR`.

    `files` pairs an inherited file descriptor with the relative name its content is copied
    to; the first must be `PROGRAM_NAME`. The root is an empty tmpfs holding only the
    system paths, /proc, /dev, a private /tmp and the binds; it is made read-only last, so
    nothing but /tmp and /dev/shm can be written. Mount order matters, as bwrap applies
    options in sequence: the private /tmp comes before the binds, so that a virtualenv under
    /tmp shows through it.
    """
    argv = [bwrap, "--unshare-all", "--unshare-user"]
    if layout.disable_userns:
        argv.append("--disable-userns")
    if identity.inner_uid is not None:
        argv += ["--uid", str(identity.inner_uid), "--gid", str(identity.inner_uid)]
    argv += ["--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    argv += ["--info-fd", str(info_fd)]
    if block_fd is not None:
        argv += ["--block-fd", str(block_fd)]
    if seccomp_fd is not None:
        argv += ["--seccomp", str(seccomp_fd)]
    argv += ["--size", str(_ROOT_BYTES), "--tmpfs", "/"]
    for path, target in layout.system:
        argv += ["--symlink", target, path] if target else ["--ro-bind", path, path]
    argv += ["--proc", "/proc", "--dev", "/dev"]
    argv += ["--size", str(layout.tmp_bytes), "--tmpfs", "/dev/shm"]
    argv += ["--size", str(layout.tmp_bytes), "--tmpfs", "/tmp"]
    # Parents before children, so a venv inside a bound workspace is not covered again.
    for path in sorted(layout.ro_binds, key=lambda p: len(PurePosixPath(p).parts)):
        argv += ["--ro-bind", path, path]
    for source, target in layout.ro_mounts:
        argv += ["--ro-bind", source, target]
    argv += ["--dir", WORK_DIR]
    created: set[str] = set()
    for fd, name in files:
        for parent in _parents(name):
            if parent not in created:
                created.add(parent)
                argv += ["--dir", f"{WORK_DIR}/{parent}"]
        argv += ["--file", str(fd), f"{WORK_DIR}/{name}"]
    # A writable /dev tmpfs would be unbounded memory; device nodes stay usable read-only.
    argv += ["--remount-ro", "/dev", "--remount-ro", "/"]
    argv += ["--chdir", WORK_DIR, "--", layout.python, "-I", "-c", bootstrap]
    return argv + [f"{WORK_DIR}/{PROGRAM_NAME}", *args]


_BOOTSTRAP = """\
import resource as _r, sys as _s
for _k, _soft, _hard in {limits!r}:
    _r.setrlimit(getattr(_r, _k), (_soft, _hard))
_s.argv = _s.argv[1:]
_s.path.insert(0, {work_dir!r})
def _hook(kind, error, tb, _show=_s.excepthook):
    if tb is not None and tb.tb_frame.f_code.co_filename == "<string>":
        tb = tb.tb_next
    _show(kind, error.with_traceback(tb), tb)
_s.excepthook = _hook
__file__ = _s.argv[0]
del _r, _s, _k, _soft, _hard, _hook
exec(compile(open(__file__, "rb").read(), __file__, "exec"))
"""


def bootstrap_code(rlimits: Sequence[tuple[str, int, int]]) -> str:
    """Python for `-c` inside the sandbox: set the rlimits, then run the program as __main__.

    The limits are set here, after bwrap has built the namespaces and before any candidate
    code runs, rather than in a `preexec_fn`: Python code between fork and exec can deadlock
    in a threaded server, and NPROC set inside the user namespace counts only the sandbox's
    processes (see `nproc_counts_per_namespace`). Lowered hard limits cannot be raised again,
    since bwrap dropped every capability. The program runs in the real `__main__` namespace
    (so `doctest.testmod()` finds it), with the work directory importable (`-I` leaves it
    off `sys.path`), and its tracebacks start at its own first frame (the default hook prints
    the exception's own `__traceback__`, so the frame is cut there too).
    """
    return _BOOTSTRAP.format(limits=tuple(rlimits), work_dir=WORK_DIR)


def interpreter_prefixes(python: str, layout: Layout) -> tuple[str, ...] | str:
    """The prefixes of `python` (its environment, its base) that the system binds miss.

    Answers why not when the interpreter cannot tell them.
    """
    system = [path for path, target in layout.system if not target]
    in_venv = (Path(python).parent.parent / "pyvenv.cfg").exists()
    if not in_venv and any(Path(os.path.realpath(python)).is_relative_to(p) for p in system):
        return ()  # a system interpreter: everything it needs is bound already
    try:
        found = subprocess.run(
            [python, "-I", "-c", "import sys; print(sys.prefix); print(sys.base_prefix)"],
            capture_output=True, text=True, timeout=30, check=True,
        ).stdout.split("\n")
    except (OSError, subprocess.SubprocessError) as exc:
        return f"sandbox python {python} cannot tell its prefix: {exc}"
    dirs = [*(line for line in found if line), str(Path(python).absolute().parent)]
    return tuple(path for path in dict.fromkeys(dirs)
                 if not any(Path(path).is_relative_to(s) for s in system))
