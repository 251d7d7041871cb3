"""A memory cgroup per sandbox slot, so that one run's processes together stay under a cap.

RLIMIT_AS bounds each process; a run may have many. Where the machine lets the server make
cgroups, each slot gets a memory cgroup of its own under the server's own cgroup, with
`memory.max` (cgroup v2) or `memory.limit_in_bytes` (v1) set to the run's total, and swap
held at zero. A run's bwrap and its init are moved in before the program starts (bwrap waits
on `--block-fd`), so everything the program forks is counted. When the total is reached the
kernel kills a process of the run, and `oom_kills` tells the sandbox why it died.

Where this works:
- cgroup v2, when the server's own cgroup has the memory controller enabled for its children
  (a delegated cgroup, for example a systemd unit with `Delegate=memory`);
- cgroup v1, when the server may create groups in its memory hierarchy (as root, usually).

Elsewhere `open_groups` answers why not, and the sandbox bounds the total by the product of
the process limit and the address-space limit instead (see `Sandbox`).
"""

from __future__ import annotations

import itertools
import os
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

_COUNTER = itertools.count()
"""Numbers the groups of the sandboxes of one server process."""


@dataclass(frozen=True)
class Mounts:
    """Where the cgroup hierarchies are mounted and where this process sits in them."""

    v2: Path | None
    """The server's own cgroup directory in the unified (v2) hierarchy."""
    v1_memory: Path | None
    """The server's own cgroup directory in the v1 memory hierarchy."""


def _own_dir(mount: Path, mount_root: str, own: str) -> Path:
    """The directory of cgroup `own` under a hierarchy mounted at `mount` from `mount_root`."""
    relative = os.path.relpath(own, mount_root) if own.startswith(mount_root) else "."
    candidate = (mount / relative).resolve() if relative != "." else mount
    return candidate if candidate.is_dir() else mount


def find_mounts(mountinfo: str, cgroup: str) -> Mounts:
    """Read `/proc/self/mountinfo` and `/proc/self/cgroup` text into `Mounts`."""
    own_v2 = own_v1 = None
    for line in cgroup.splitlines():
        number, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if number == "0" and controllers == "":
            own_v2 = path
        elif "memory" in controllers.split(","):
            own_v1 = path
    v2 = v1 = None
    for line in mountinfo.splitlines():
        fields = line.split()
        if " - " not in line or len(fields) < 5:
            continue
        after = line.split(" - ", 1)[1].split()
        kind, options = after[0], after[-1].split(",")
        root, mount = fields[3], Path(fields[4])
        if kind == "cgroup2" and own_v2 is not None and v2 is None:
            v2 = _own_dir(mount, root, own_v2)
        elif kind == "cgroup" and "memory" in options and own_v1 is not None:
            v1 = _own_dir(mount, root, own_v1)
    return Mounts(v2, v1)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


@dataclass(frozen=True)
class MemoryGroup:
    """One slot's memory cgroup."""

    path: Path
    version: int

    def add(self, pid: int) -> None:
        """Move process `pid` into the group; raise OSError when it cannot be moved."""
        (self.path / "cgroup.procs").write_text(str(pid))

    def oom_kills(self) -> int:
        """How many processes the kernel has killed in this group for memory, ever."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        for line in _read(self.path / name).splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                return int(value)
        return 0

    def remove(self) -> None:
        """Delete the group (it must be empty; a leftover empty directory does no harm)."""
        with suppress(OSError):
            self.path.rmdir()


def _limit(group: MemoryGroup, total: int) -> None:
    """Cap the group's memory at `total` bytes with no swap; raise OSError when refused."""
    if group.version == 2:
        (group.path / "memory.max").write_text(str(total))
        swap = group.path / "memory.swap.max"
        if swap.exists():
            swap.write_text("0")
        return
    (group.path / "memory.limit_in_bytes").write_text(str(total))
    swap = group.path / "memory.memsw.limit_in_bytes"
    if swap.exists():
        # memory+swap at the same total: nothing of the run may go to swap.
        swap.write_text(str(total))


def _parents(mounts: Mounts) -> list[tuple[Path, int]]:
    """The cgroup directories that may hold slot groups, best first, with their version."""
    found = []
    if mounts.v2 is not None:
        if "memory" in _read(mounts.v2 / "cgroup.subtree_control").split():
            found.append((mounts.v2, 2))
    if mounts.v1_memory is not None:
        found.append((mounts.v1_memory, 1))
    return found


def open_groups(slots: int, total: int, mounts: Mounts | None = None) -> list[MemoryGroup] | str:
    """One memory group per slot, capped at `total` bytes; or why they cannot be made here."""
    if mounts is None:
        mounts = find_mounts(_read(Path("/proc/self/mountinfo")), _read(Path("/proc/self/cgroup")))
    parents = _parents(mounts)
    if not parents:
        return "no writable memory cgroup (cgroup v2 without a delegated memory controller)"
    failures = []
    for parent, version in parents:
        name = f"vetted-{os.getpid()}-{next(_COUNTER)}"
        groups: list[MemoryGroup] = []
        try:
            for slot in range(slots):
                path = parent / f"{name}-slot{slot}"
                path.mkdir()
                groups.append(MemoryGroup(path, version))
                _limit(groups[-1], total)
        except OSError as exc:
            for group in groups:
                group.remove()
            failures.append(f"{parent}: {exc.strerror or exc}")
            continue
        return groups
    return "cannot create a memory cgroup: " + "; ".join(failures)
