"""A batch output between runs: reading it, its settings, and folding new records in."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from codegen.jobs.batch import parse_items
from codegen.jobs.results import (
    ResultsError,
    check_settings,
    differences,
    done_keys,
    fold,
    good_records,
    merge,
    partial_path,
    read_results,
    settings_path,
    write_atomically,
)

DEFAULTS = {"n": 1, "max_new_tokens": 8, "temperature": 0.0}
SETTINGS = {"model": "replay:a", "n": 1, "validators": True}


def request(key: str | int) -> str:
    return json.dumps({"id": key, "prompt": "x = "})


def good(key: str | int, **extra: Any) -> str:
    return json.dumps({"id": key, "completions": [], **extra})


def failed(key: str | int | None, line: int) -> str:
    return json.dumps({"id": key, "line": line, "error": "boom"})


def write(path: Path, *lines: str, end: str = "\n") -> Path:
    path.write_text("\n".join(lines) + end, encoding="utf-8")
    return path


def test_a_last_line_without_newline_is_a_record(tmp_path: Path) -> None:
    out = write(tmp_path / "out.jsonl", good("a"), good("b", note="mine"), end="")
    assert [s.text for s in read_results(out)] == [good("a"), good("b", note="mine")]


def test_a_damaged_line_names_file_and_line(tmp_path: Path) -> None:
    out = write(tmp_path / "out.jsonl", good("a"), good("b")[:9], good("c"))
    with pytest.raises(ResultsError, match=r"out\.jsonl:2: not a JSON record"):
        read_results(out)
    write(out, good("a"), "[1, 2]")
    with pytest.raises(ResultsError, match=r"out\.jsonl:2: not a JSON object"):
        read_results(out)
    out.write_bytes(b'{"id": "\xff"}\n')
    with pytest.raises(ResultsError, match=r"out\.jsonl:1: not a JSON record"):
        read_results(out)


def test_only_our_partial_file_may_end_in_a_cut_line(tmp_path: Path) -> None:
    partial = write(tmp_path / "out.jsonl.partial", good("a"), good("b")[:9], end="")
    assert [s.key for s in read_results(partial, ours=True)] == ["a"]
    with pytest.raises(ResultsError, match=":2:"):
        read_results(partial)


def test_an_id_twice_is_refused(tmp_path: Path) -> None:
    out = write(tmp_path / "out.jsonl", good("a"), good("b"), good("a"))
    with pytest.raises(ResultsError, match=r"out\.jsonl:3: repeats id 'a' of line 1"):
        good_records(out, read_results(out))


def test_error_records_are_not_done(tmp_path: Path) -> None:
    noted = json.dumps({"id": "a", "completions": [], "key": "a user's note"})
    out = write(tmp_path / "out.jsonl", noted, failed("b", 2), good(3))
    assert done_keys(out) == {"a", "3"}


def test_merge_puts_records_in_input_order_and_keeps_strays_in_place(
    tmp_path: Path,
) -> None:
    items = parse_items([request("a"), request("b"), "{bad", request("c"), request("a")],
                        DEFAULTS)
    before = write(tmp_path / "out.jsonl", good("a"), good("user-note"), failed("b", 2),
                   good("c"))
    new = write(tmp_path / "new.jsonl", failed(None, 3), good("b"), failed("a", 5))
    lines = merge(items, good_records(before, read_results(before)), read_results(new))
    assert lines == [
        good("a"), good("user-note"),  # a record no line asks for stays after its neighbour
        good("b"),  # the error record of b is replaced by this run's
        failed(None, 3), good("c"), failed("a", 5),  # this run's errors, by line
    ]


def test_fold_replaces_the_output_and_removes_the_partial_file(tmp_path: Path) -> None:
    items = parse_items([request("a"), request("b")], DEFAULTS)
    out = write(tmp_path / "out.jsonl", good("b", note="mine"), end="")
    write(partial_path(out), good("a"), good("b"), good("c")[:5], end="")
    fold(out, items)
    assert out.read_text(encoding="utf-8") == good("a") + "\n" + good("b", note="mine") + "\n"
    assert not partial_path(out).exists()


def test_differences_name_each_setting() -> None:
    now = {**SETTINGS, "n": 2, "suite": "mbpp"}
    assert differences(SETTINGS, now) == ["n 1 (this run: 2)", 'suite unset (this run: "mbpp")']
    assert differences(SETTINGS, dict(SETTINGS)) == []


def test_results_of_other_settings_are_refused(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    check_settings(out, SETTINGS)  # nothing there yet: any settings will do
    write(out, good("a"))
    check_settings(out, SETTINGS)
    with pytest.raises(ResultsError, match=r'model "replay:a" \(this run: "replay:b"\)'):
        check_settings(out, {**SETTINGS, "model": "replay:b"})
    settings_path(out).unlink()
    with pytest.raises(ResultsError, match="no out.jsonl.meta.json says"):
        check_settings(out, SETTINGS)


def test_write_atomically_follows_a_link_and_keeps_the_mode(tmp_path: Path) -> None:
    target = write(tmp_path / "real.jsonl", good("a"))
    target.chmod(0o640)
    (tmp_path / "link.jsonl").symlink_to(target)
    write_atomically(tmp_path / "link.jsonl", b"new\n")
    assert (tmp_path / "link.jsonl").is_symlink()
    assert target.read_bytes() == b"new\n"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.jsonl", "real.jsonl"]
