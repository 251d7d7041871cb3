// The status bar item: the model's state, the last suggestion's latency, a click to turn
// suggestions off and on.
import { describe, expect, it } from "vitest";

import { useWindow } from "./workbench";

describe("status bar", () => {
  const window = useWindow("status-bar", {
    files: { "demo.py": "def add(a: int, b: int) -> int:\n" },
    replay: ["return a + b"],
  });

  it("shows the model ready, then the last suggestion's latency", async () => {
    const w = window();
    await w.openFile("demo.py");
    await w.waitUntilReady();
    expect((await w.status.innerText()).trim()).toBe("vetted");
    const ready = await w.status.getAttribute("aria-label");
    expect(ready).toContain("vetted: ready");
    expect(ready).toContain(`Model: replay:${w.dir}/replay.jsonl`);
    await w.goto(1, 100);
    await w.page.keyboard.press("Enter");
    expect(await w.waitForGhost()).toBe("return a + b");
    await expect.poll(async () => (await w.status.innerText()).trim()).toMatch(/^vetted \d+ ms$/);
    expect(await w.status.getAttribute("aria-label")).toMatch(/Last suggestion: \d+ ms/);
    await w.status.hover();
    await w.page.locator(".workbench-hover", { hasText: "Last suggestion" }).waitFor();
    await w.shot("latency");
  });

  it("a click turns suggestions off (no more ghost text) and on again", async () => {
    const w = window();
    await w.page.keyboard.press("Escape");
    await w.status.click();
    await w.status.locator(".codicon-circle-slash").waitFor();
    await w.goto(2, 100);
    await w.page.keyboard.press("Enter");
    await w.page.waitForTimeout(1500);
    expect(await w.ghost()).toBe("");
    await w.shot("off");
    await w.status.click();
    await w.status.locator(".codicon-check").waitFor();
  });
});
