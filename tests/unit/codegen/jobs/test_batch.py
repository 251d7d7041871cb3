"""Reading `vetted batch` input: lines, records, and the ranges of their options."""

from __future__ import annotations

import errno
import io
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from codegen.jobs.batch import (
    BadRecord,
    check_options,
    parse_record,
    read_lines,
    record_line,
    request_of,
    run_batch,
)

DEFAULTS = {"n": 1, "max_new_tokens": 128, "temperature": 0.0}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"temperature": float("nan")}, "temperature must be a number from 0 to 2, not nan"),
        ({"temperature": float("inf")}, "temperature must be a number from 0 to 2, not inf"),
        ({"temperature": -0.5}, "temperature must be a number from 0 to 2, not -0.5"),
        ({"temperature": 2.5}, "temperature must be a number from 0 to 2, not 2.5"),
        ({"temperature": "hot"}, "temperature must be a number from 0 to 2, not 'hot'"),
        ({"temperature": True}, "temperature must be a number from 0 to 2, not True"),
        ({"n": 0}, "n must be an integer from 1 to 64, not 0"),
        ({"n": 10**9}, "n must be an integer from 1 to 64, not 1000000000"),
        ({"n": True}, "n must be an integer from 1 to 64, not True"),  # bool is not int
        ({"n": 2.0}, "n must be an integer from 1 to 64, not 2.0"),
        ({"max_new_tokens": 0}, "max_new_tokens must be an integer from 1 to 8192, not 0"),
        ({"max_new_tokens": "four"},
         "max_new_tokens must be an integer from 1 to 8192, not 'four'"),
    ],
)
def test_options_out_of_range_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(BadRecord) as caught:
        check_options({**DEFAULTS, **options})
    assert str(caught.value) == message


@pytest.mark.parametrize(
    "options",
    [
        {"temperature": 0},  # an integer temperature is a number
        {"temperature": 2.0, "n": 64, "max_new_tokens": 8192},  # the tops are allowed
    ],
)
def test_options_in_range_pass(options: dict[str, Any]) -> None:
    check_options({**DEFAULTS, **options})


@pytest.mark.parametrize(
    ("language", "expected", "path"),
    [
        (None, "python", "r1.py"),  # no language: Python
        ("typescript", "typescript", "r1.ts"),
        ("go", "go", "r1.go"),
        ("Rust", "rust", "r1.rs"),  # ids are matched without case
        ("javascriptreact", "javascript", "r1.js"),  # an alias editors send
        ("shellscript", "shellscript", "r1.sh"),
    ],
)
def test_every_known_language_is_accepted(language: str | None, expected: str,
                                          path: str) -> None:
    record = {"id": "r1", "prefix": "x", **({"language": language} if language else {})}
    request = request_of(record, DEFAULTS)
    assert (request.language, request.path) == (expected, path)


@pytest.mark.parametrize("language", ["cobol", "", 3])
def test_an_unknown_language_is_refused_naming_the_known_ones(language: object) -> None:
    with pytest.raises(BadRecord) as caught:
        request_of({"id": 1, "prompt": "x", "language": language}, DEFAULTS)
    assert str(caught.value).startswith(f"language {language!r} is not one of python, ")
    assert ", typescript, typescriptreact, go, rust, " in str(caught.value)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('{"id": "a", "prompt": "x", "temperature": NaN}', "temperature must be a number"),
        ('{"id": true, "prompt": "x"}', "id must be a string or an integer"),
        ('{"id": 1.5, "prompt": "x"}', "id must be a string or an integer"),
        ('{"prompt": "x"}', "missing id"),
        (b'{"id": "a", "prompt": "\xff"}', "not UTF-8"),
    ],
)
def test_a_bad_line_is_an_item_with_its_error(text: str | bytes, error: str) -> None:
    item = parse_record(text, 3, DEFAULTS)
    assert item.request is None and error in item.error, item.error


def test_a_good_line_is_a_request() -> None:
    item = parse_record('{"id": 7, "prefix": "a", "suffix": "b", "n": 2}', 1, DEFAULTS)
    assert (item.key, item.raw_id, item.error) == ("7", 7, "")
    assert item.request is not None
    assert (item.request.text, item.request.offset, item.request.n) == ("ab", 1, 2)


def test_read_lines_skips_a_bom_and_keeps_a_bad_line_as_bytes(tmp_path: Path) -> None:
    line_break = json.dumps({"id": "u", "prompt": "a\u2028b"}, ensure_ascii=False)
    data = b"\xef\xbb\xbf" + b'{"id": 1}\r\n' + b"\xff\n" + line_break.encode("utf-8") + b"\n"
    (tmp_path / "in.jsonl").write_bytes(data)
    # Split at newlines only: U+2028 inside a JSON string is no line break.
    assert read_lines(tmp_path / "in.jsonl") == ['{"id": 1}\r', b"\xff", line_break]


def test_record_line_escapes_only_what_utf8_cannot_hold() -> None:
    assert record_line({"id": "é"}) == '{"id": "é"}'
    assert record_line({"id": "\ud800"}) == '{"id": "\\ud800"}'


class FullDisk(io.StringIO):
    """Takes the first line, then answers like a full disk."""

    def flush(self) -> None:
        if self.getvalue().count("\n") > 1:
            raise OSError(errno.ENOSPC, "No space left on device")


def test_a_failed_write_stops_the_run_and_is_raised() -> None:
    lines = ["{bad", "{worse", "{worst"]  # error records only: no pipeline is called
    stop = threading.Event()
    output = FullDisk()
    with pytest.raises(OSError, match="No space left"):
        run_batch(None, lines, output, skip=set(), defaults=DEFAULTS,  # type: ignore[arg-type]
                  workers=1, stop=stop)
    assert stop.is_set()
