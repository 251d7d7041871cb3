// A setting changed in the Settings editor takes effect without a reload: another model
// answers the next suggestion.
import { join } from "node:path";

import { describe, expect, it } from "vitest";

import { useWindow, writeReplay } from "./workbench";

describe("settings", () => {
  const window = useWindow("settings-ui", {
    files: { "demo.py": "def add(a: int, b: int) -> int:\n" },
    replay: ["return a + b"],
  });

  it("a model typed into the Settings editor answers the next suggestion", async () => {
    const w = window();
    const other = writeReplay(join(w.dir, "other.jsonl"), ["return a * b"]);
    await w.openFile("demo.py");
    await w.waitUntilReady();
    expect(await w.status.getAttribute("aria-label")).toContain("replay.jsonl");
    await w.page.keyboard.press("Control+Comma");
    await w.page.locator(".settings-editor").waitFor();
    await w.page.keyboard.type("vetted.model");
    const row = w.page.locator('.settings-editor [data-key="vetted.model"]');
    // The workspace sets it: edit it there ("Modified in Workspace" opens that tab).
    await row.locator(".modified-scope", { hasText: "Workspace" }).click();
    const input = row.locator('input[aria-label="vetted.model"]');
    await expect.poll(() => input.inputValue()).toContain("replay.jsonl");
    await input.fill(`replay:${other}`);
    await input.press("Enter");
    await w.shot("changed");
    await expect.poll(() => w.status.getAttribute("aria-label"), { timeout: 30_000 })
      .toContain("other.jsonl");
    await w.waitUntilReady();
    await w.page.keyboard.press("Escape");
    await w.openFile("demo.py");
    await w.goto(1, 100);
    await w.page.keyboard.press("Enter");
    expect(await w.waitForGhost()).toBe("return a * b");
    await w.shot("new-model");
  });
});
