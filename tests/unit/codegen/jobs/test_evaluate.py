"""`vetted eval`'s bookkeeping: where results go, and what the report says produced them."""

from __future__ import annotations

from pathlib import Path

from codegen.jobs.evaluate import TaskScore, default_folder, report

SETTINGS = {"model": "replay:a", "n": 1, "temperature": 0.0, "suite": "humaneval"}


def test_the_default_folder_differs_with_any_setting() -> None:
    folder = default_folder(SETTINGS)
    assert folder.parent == Path("eval-out") and folder.name.startswith("humaneval-")
    assert default_folder(dict(SETTINGS)) == folder
    assert default_folder({**SETTINGS, "model": "replay:b"}) != folder
    assert default_folder({**SETTINGS, "n": 2}) != folder


def test_the_report_names_its_settings() -> None:
    scores = [TaskScore("t/0", (True,), (True,)), TaskScore("t/1", (False,), ())]
    settings = {**SETTINGS, "subset": None, "limit": 2}
    result = report("humaneval", scores, 1, settings=settings)
    assert result["settings"] == settings
    assert result["pass@1"] == {"raw": 50.0, "vetted": 50.0}
