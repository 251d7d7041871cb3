// "Generate Unit Tests for This Function" from the Source Action menu: the server runs the
// model's tests in its sandbox and writes the ones that pass and add coverage into the
// project's test file, which then passes.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { describe, expect, it } from "vitest";

import { REPO } from "./codeServer";
import { useWindow } from "./workbench";

const PROJECT = join(REPO, "tests", "workspaces", "testgen");
const PRICING = readFileSync(join(PROJECT, "shop", "pricing.py"), "utf-8");
const EXISTING = readFileSync(join(PROJECT, "tests", "test_pricing.py"), "utf-8");

/** The model's answer: two tests that pass and add coverage, one with a wrong expectation. */
const ANSWER = `\`\`\`python
import pytest

from shop.pricing import discount


def test_negative_percent_is_refused():
    with pytest.raises(ValueError):
        discount(50.0, -1)


def test_no_discount_keeps_the_price():
    assert discount(19.99, 0) == 19.99


def test_a_third_off():
    assert discount(30.0, 33) == 21.0
\`\`\``;

describe("test generation", () => {
  const window = useWindow("test-generation", {
    files: {
      "pyproject.toml": readFileSync(join(PROJECT, "pyproject.toml"), "utf-8"),
      "shop/__init__.py": "",
      "shop/pricing.py": PRICING,
      "tests/test_pricing.py": EXISTING,
    },
    replay: [ANSWER],
    settings: { "testGeneration.rounds": 1, "testGeneration.samples": 1 },
  });

  it("the Source Action menu writes the passing tests into the test file", async () => {
    const w = window();
    await w.openFile("shop/pricing.py");
    await w.waitUntilReady();
    const line = PRICING.split("\n").indexOf("    if percent == 0:") + 1;
    await w.goto(line, 5);
    await w.command("Source Action...");
    const action = w.page.locator(".action-widget .monaco-list-row",
                                  { hasText: "Generate unit tests for discount" });
    await action.waitFor();
    await w.shot("menu");
    await action.click();
    // The server's edit lands in the test file, which VS Code saves (files.autoSave).
    const written = () => w.read("tests/test_pricing.py");
    await expect.poll(written, { timeout: 120_000 }).toBe(`import pytest\n${EXISTING}
\ndef test_negative_percent_is_refused():
    with pytest.raises(ValueError):
        discount(50.0, -1)


def test_no_discount_keeps_the_price():
    assert discount(19.99, 0) == 19.99
`);
    await w.openFile("tests/test_pricing.py");
    await w.shot("written");
    // What the user gets is a test file that passes.
    const run = execFileSync(join(REPO, ".venv", "bin", "python"),
                             ["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_pricing.py"],
                             { cwd: w.workspace, encoding: "utf-8" });
    expect(run).toContain("3 passed");
  });
});
