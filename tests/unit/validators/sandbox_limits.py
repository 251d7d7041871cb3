"""What the sandbox tests share: the slot uids and the limits they run under."""

from __future__ import annotations

from validators.sandbox import SandboxLimits

BASE_UID = 61000
LIMITS = SandboxLimits(
    cpu_seconds=1,
    wall_seconds=3.0,
    file_bytes=1024 * 1024,
    output_bytes=1024 * 1024,
    tmp_bytes=16 * 1024 * 1024,
)
"""Small limits keep the suite fast; memory stays at the 1 GiB default."""
