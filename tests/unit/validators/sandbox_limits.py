"""What the sandbox tests share: the slot uids and the limits they run under."""

from __future__ import annotations

import os

from validators.sandbox import SandboxLimits

BASE_UID = 63000 + 4 * (os.getpid() % 500)
"""Four slot uids of this test run's own (not the product's 61000, nor another run's), so
the leftover check counts this run's sandboxes only, whatever else runs on the machine."""
UIDS = range(BASE_UID, BASE_UID + 4)
LIMITS = SandboxLimits(
    cpu_seconds=1,
    wall_seconds=3.0,
    file_bytes=1024 * 1024,
    output_bytes=1024 * 1024,
    tmp_bytes=16 * 1024 * 1024,
)
"""Small limits keep the suite fast; memory stays at the 1 GiB default."""
