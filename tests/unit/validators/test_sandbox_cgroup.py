"""Finding and making the memory cgroups of the sandbox slots, on fake cgroup trees."""

from __future__ import annotations

from pathlib import Path

from validators._sandbox_cgroup import MemoryGroup, Mounts, find_mounts, open_groups

MOUNTINFO = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
CGROUP = "8:pids:/\n4:memory:/no/such/group\n0::/\n"


def test_find_mounts_reads_both_hierarchies() -> None:
    mounts = find_mounts(MOUNTINFO, CGROUP)
    # A cgroup path not under the mount (another namespace's view) falls back to the mount.
    assert mounts == Mounts(Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup/memory"))


def test_find_mounts_without_cgroups() -> None:
    assert find_mounts("", "") == Mounts(None, None)


def test_v2_groups_get_memory_max_and_no_swap(tmp_path: Path) -> None:
    (tmp_path / "cgroup.subtree_control").write_text("cpu memory pids\n")
    groups = open_groups(2, 1024**3, Mounts(tmp_path, None))
    assert isinstance(groups, list) and [g.version for g in groups] == [2, 2]
    # A real cgroupfs makes these files; here the limit is written into a plain directory.
    assert (groups[1].path / "memory.max").read_text() == str(1024**3)
    assert groups[0].path.name.endswith("-slot0") and groups[1].path.parent == tmp_path


def test_v2_without_a_delegated_memory_controller_says_so(tmp_path: Path) -> None:
    (tmp_path / "cgroup.subtree_control").write_text("cpu pids\n")
    reason = open_groups(1, 1024**3, Mounts(tmp_path, None))
    assert reason == "no writable memory cgroup (cgroup v2 without a delegated memory controller)"


def test_an_unwritable_parent_is_a_reason_and_leaves_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "gone"
    reason = open_groups(2, 1024**3, Mounts(None, missing))
    assert isinstance(reason, str)
    assert reason.startswith(f"cannot create a memory cgroup: {missing}")
    assert not missing.exists()


def test_oom_kills_are_read_from_the_events_file(tmp_path: Path) -> None:
    (tmp_path / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\n")
    (tmp_path / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 5\n")
    assert MemoryGroup(tmp_path, 2).oom_kills() == 2
    assert MemoryGroup(tmp_path, 1).oom_kills() == 5
