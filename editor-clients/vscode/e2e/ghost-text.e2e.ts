// Ghost text appears as the user types in a Python file; Tab accepts it into the file.
import { describe, expect, it } from "vitest";

import { useWindow } from "./workbench";

const SOURCE = 'def mean(values: list[float]) -> float:\n    """The arithmetic mean of `values`."""\n';

describe("ghost text", () => {
  const window = useWindow("ghost-text", {
    files: { "stats.py": SOURCE },
    replay: ["return sum(values) / len(values)", "return sum(values) / max(len(values), 1)"],
  });

  it("appears after typing in a Python file, and Tab accepts it into the file", async () => {
    const w = window();
    await w.openFile("stats.py");
    await w.waitUntilReady();
    await w.goto(2, 100);
    await w.page.keyboard.press("Enter");
    expect(await w.waitForGhost()).toBe("return sum(values) / len(values)");
    await w.shot("shown");
    await w.page.keyboard.press("Tab");
    expect(await w.ghost()).toBe("");
    await w.page.keyboard.press("Control+S");
    await expect.poll(() => w.read("stats.py"))
      .toBe(SOURCE + "    return sum(values) / len(values)\n");
    // The item's command told the server it was accepted.
    await expect.poll(async () => (await w.serverStatus()).accepted).toBe(1);
  });
});
