"""The sandbox's pure decisions: identities, process limits, bwrap's argv, outcomes."""

from __future__ import annotations

import pytest

from tests.unit.validators.sandbox_limits import BASE_UID, LIMITS
from validators._sandbox_command import (
    PROGRAM_NAME,
    WORK_DIR,
    Identity,
    Layout,
    bootstrap_code,
    bwrap_argv,
    check_file_names,
    nproc_counts_per_namespace,
    nproc_limit,
    plan_identity,
    system_binds,
)
from validators._sandbox_process import Capture, Stop
from validators.sandbox import Outcome, SandboxLimits, classify


def test_root_drops_each_slot_to_its_own_uid() -> None:
    assert plan_identity(euid=0, slot=1, base_uid=BASE_UID) == Identity(BASE_UID + 1, None)


def test_a_normal_user_keeps_its_uid_and_shows_the_slot_uid_inside() -> None:
    assert plan_identity(euid=1000, slot=1, base_uid=BASE_UID) == Identity(None, BASE_UID + 1)


@pytest.mark.parametrize(
    ("release", "per_namespace"),
    [
        ("6.18.44-fc-v657", True),  # this machine
        ("5.14.0-362.el9.x86_64", True),  # the first kernel with ucounts rlimits
        ("5.13.19", False),
        ("4.19.0-21-amd64", False),
        ("unknown", False),  # unreadable counts as old: the safe side
    ],
)
def test_nproc_counts_per_namespace(release: str, per_namespace: bool) -> None:
    assert nproc_counts_per_namespace(release) is per_namespace


def never_called() -> int:
    raise AssertionError("own tasks must not be counted here")


@pytest.mark.parametrize(
    ("identity", "per_namespace", "expected"),
    [
        # A new kernel counts only the sandbox's own processes.
        (Identity(None, 61000), True, 64),
        # A slot uid of its own has no other processes to count.
        (Identity(61000, None), False, 64),
    ],
)
def test_nproc_limit_is_the_budget_when_the_count_is_the_sandboxs(
    identity: Identity, per_namespace: bool, expected: int
) -> None:
    limit = nproc_limit(64, identity=identity, per_namespace=per_namespace, own_tasks=never_called)
    assert limit == expected


def test_nproc_limit_of_a_normal_user_on_an_old_kernel_sits_above_its_own_tasks() -> None:
    identity = Identity(None, 61000)
    assert nproc_limit(64, identity=identity, per_namespace=False, own_tasks=lambda: 300) == 364


@pytest.mark.parametrize("name", ["a.py", "pkg/__init__.py", "data/deep/x.json"])
def test_check_file_names_accepts_relative_paths(name: str) -> None:
    check_file_names([name])


@pytest.mark.parametrize(
    "name",
    [
        "/etc/passwd",  # absolute
        "../escape.py",  # leaves the work dir
        "a/../../b",
        "a//b",  # not normalised
        "",
        PROGRAM_NAME,  # reserved for the program
    ],
)
def test_check_file_names_rejects(name: str) -> None:
    with pytest.raises(ValueError):
        check_file_names([name])


def argv_for(identity: Identity, layout: Layout) -> list[str]:
    files = [(5, PROGRAM_NAME), (6, "pkg/sub/mod.py")]
    return bwrap_argv("bwrap", layout, identity, files=files, info_fd=7, bootstrap="B", args=["x"])


def test_bwrap_argv_shows_only_the_system_paths_and_the_binds() -> None:
    system = (("/usr", ""), ("/bin", "usr/bin"), ("/etc/ld.so.cache", ""))
    layout = Layout("/usr/bin/python3", ro_binds=("/tmp/venv", "/home/u/proj"), system=system)
    argv = argv_for(Identity(61000, None), layout)
    position = {(argv[i], argv[i + 1]): i for i in range(len(argv) - 1)}
    assert ("--ro-bind", "/") not in position and argv.count("--ro-bind") == 4
    assert position[("--tmpfs", "/")] < position[("--ro-bind", "/usr")]
    assert argv[position[("--symlink", "usr/bin")] + 2] == "/bin"
    assert position[("--tmpfs", "/tmp")] < position[("--ro-bind", "/tmp/venv")]
    assert position[("--remount-ro", "/")] > position[("--ro-bind", "/home/u/proj")]
    assert position[("--dir", f"{WORK_DIR}/pkg")] < position[("--dir", f"{WORK_DIR}/pkg/sub")]
    assert position[("--dir", f"{WORK_DIR}/pkg/sub")] < position[("--file", "6")]
    assert argv[-6:] == ["/usr/bin/python3", "-I", "-c", "B", f"{WORK_DIR}/{PROGRAM_NAME}", "x"]


def test_system_binds_keep_what_exists_and_recreate_top_level_links() -> None:
    host = {"/usr": "", "/bin": "usr/bin", "/lib64": "usr/lib64", "/etc/passwd": "",
            "/etc/localtime": "/usr/share/zoneinfo/UTC", "/etc/python3.11": ""}
    found = system_binds(host.get, extra_etc=["/etc/python3.11"])
    assert found == (("/usr", ""), ("/bin", "usr/bin"), ("/lib64", "usr/lib64"),
                     ("/etc/localtime", ""), ("/etc/passwd", ""), ("/etc/python3.11", ""))


def test_bwrap_argv_unshares_everything_and_drops_capabilities() -> None:
    argv = argv_for(Identity(61000, None), Layout("/usr/bin/python3"))
    for flag in ("--unshare-all", "--die-with-parent", "--new-session", "--disable-userns"):
        assert flag in argv
    assert argv[argv.index("--cap-drop") + 1] == "ALL"
    assert "--uid" not in argv  # root switched uid on the host already


def test_bwrap_argv_of_a_normal_user_maps_the_slot_uid() -> None:
    layout = Layout("/usr/bin/python3", disable_userns=False)
    argv = argv_for(Identity(None, BASE_UID + 1), layout)
    assert argv[argv.index("--uid") + 1] == argv[argv.index("--gid") + 1] == str(BASE_UID + 1)
    assert "--disable-userns" not in argv


def test_bootstrap_is_valid_python() -> None:
    compile(bootstrap_code([("RLIMIT_AS", 1, 1), ("RLIMIT_CORE", 0, 0)]), "<string>", "exec")


def capture(returncode: int, stderr: str = "", stop: Stop | None = None) -> Capture:
    return Capture(returncode, b"", stderr.encode(), stop, 1.0)


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (capture(0), (Outcome.PASSED, "")),
        (
            capture(1, "Traceback\nAssertionError: no\n"),
            (Outcome.FAILED, "exit status 1: AssertionError: no"),
        ),
        (capture(2), (Outcome.FAILED, "exit status 2")),
        (capture(152), (Outcome.KILLED, "CPU limit (1 s) exceeded")),  # 128 + SIGXCPU
        (capture(137), (Outcome.KILLED, "killed by SIGKILL")),
        (capture(-11), (Outcome.KILLED, "killed by SIGSEGV")),  # signal to bwrap itself
        (capture(1, "MemoryError\n"), (Outcome.KILLED, "address space limit (1 GiB) reached")),
        (
            capture(1, "OSError: [Errno 27] File too large\n"),
            (Outcome.KILLED, "file size limit (1 MiB) exceeded"),
        ),
        (
            capture(
                1, "    os.fork()\nBlockingIOError: [Errno 11] Resource temporarily unavailable"
            ),
            (Outcome.KILLED, "process limit (64) reached"),
        ),
        (capture(137, stop=Stop.WALL), (Outcome.TIMEOUT, "killed by SIGKILL after 3 s wall clock")),
        (
            capture(137, stop=Stop.STDERR),
            (Outcome.OUTPUT_LIMIT, "output limit (1 MiB) exceeded on stderr"),
        ),
        (
            capture(137, stop=Stop.CLOSED),
            (Outcome.UNAVAILABLE, "sandbox closed while the program ran"),
        ),
    ],
)
def test_classify(result: Capture, expected: tuple[Outcome, str]) -> None:
    assert classify(result, LIMITS) == expected


@pytest.mark.parametrize("field", ["memory_bytes", "cpu_seconds", "wall_seconds", "output_bytes"])
def test_limits_must_be_positive(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        SandboxLimits(**{field: 0})
