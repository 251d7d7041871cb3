"""Writing delivered tests into a test file: imports on top, merged, never twice; tests last."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from codegen.testgen.writing import apply_edits, edits_adding

RAISES = "def test_b():\n    with pytest.raises(ValueError):\n        discount(1, -1)\n"
ISCLOSE = "def test_c():\n    assert isclose(discount(1, 0), 1)\n"


def written(text: str, imports: list[str], tests: list[str]) -> str:
    return apply_edits(text, edits_adding(text, imports, tests))


@pytest.mark.parametrize(
    ("before", "imports", "after"),
    [
        # the reported case: `import pytest` used to land after the existing test (E402)
        ("from shop.pricing import discount\n\n\ndef test_a():\n    pass\n",
         ["from shop.pricing import discount", "import pytest"],
         "import pytest\nfrom shop.pricing import discount\n\n\ndef test_a():\n    pass\n"
         "\n\n" + RAISES),
        # an import the file has, under the same binding, is not written again
        ("import pytest\n\nfrom shop.pricing import discount\n\n\ndef test_a():\n    pass\n",
         ["import pytest", "from shop.pricing import discount"],
         "import pytest\n\nfrom shop.pricing import discount\n\n\ndef test_a():\n    pass\n"
         "\n\n" + RAISES),
        # after the module docstring and the future import, in a file without imports
        ('"""Tests."""\nfrom __future__ import annotations\n\n\ndef test_a():\n    pass\n',
         ["import pytest"],
         '"""Tests."""\nfrom __future__ import annotations\n\nimport pytest\n\n\n'
         "def test_a():\n    pass\n\n\n" + RAISES),
        # a file of imports only; trailing blank lines do not pile up
        ("from shop.pricing import discount\n\n\n\n", ["import pytest"],
         "import pytest\nfrom shop.pricing import discount\n\n\n" + RAISES),
        # a new file
        ("", ["from shop.pricing import discount", "import pytest", "import pytest"],
         "import pytest\nfrom shop.pricing import discount\n\n\n" + RAISES),
    ],
)
def test_imports_go_on_top_once(before: str, imports: list[str], after: str) -> None:
    assert written(before, imports, [RAISES]) == after


def test_a_from_import_of_the_same_module_is_merged() -> None:
    before = "from math import sqrt\n\nfrom shop.pricing import discount\n\n\ndef test_a():\n" \
             "    assert sqrt(discount(4, 0)) == 2\n"
    after = written(before, ["from math import isclose", "from shop.pricing import discount"],
                    [ISCLOSE])
    assert after.startswith("from math import isclose, sqrt\n\nfrom shop.pricing import discount\n")
    assert after.endswith("\n\n\n" + ISCLOSE) and after.count("import") == 2


def test_the_edits_are_what_an_editor_applies() -> None:
    before = "from shop.pricing import discount\n\n\ndef test_a():\n    pass\n"
    edits = edits_adding(before, ["import pytest"], [RAISES])
    # an insertion at the top and a replacement of the trailing newline, in text order
    assert [(e.start, e.end) for e in edits] == [(0, 0), (len(before) - 1, len(before))]


def test_a_file_that_does_not_parse_gets_everything_appended() -> None:
    before = "def test_a(:\n"
    after = before + "\n\nimport pytest\n\n\n" + RAISES
    assert written(before, ["import pytest"], [RAISES]) == after


@pytest.mark.parametrize(
    "before",
    [
        "from shop.pricing import discount\n\n\ndef test_a():\n    pass\n",
        '"""Doc."""\n\n\ndef test_a():\n    pass\n',
        "import os\nimport sys\n\ntry:\n    import numpy\nexcept ImportError:\n    numpy = None\n"
        "\n\nX = 1\n",
        "X = 1\n",
    ],
)
def test_the_result_is_ruff_e402_clean(before: str, tmp_path: Path) -> None:
    path = tmp_path / "test_x.py"
    path.write_text(written(before, ["import pytest", "from shop.pricing import discount"],
                            [RAISES]), encoding="utf-8")
    lint = subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated", "--select",
                           "E402,F811", str(path)], capture_output=True, text=True,
                          check=False)
    assert lint.returncode == 0, lint.stdout
