// A suggestion the server discards never reaches the screen: the model's best output does
// not parse, so the user sees the next one, and cycling does not bring it back.
import { describe, expect, it } from "vitest";

import { useWindow } from "./workbench";

describe("discarded suggestion", () => {
  const window = useWindow("discarded", {
    files: { "demo.py": "def add(a: int, b: int) -> int:\n" },
    replay: ["return a +", "return a + b"],
  });

  it("only the suggestion that passed the checks is shown, even when cycling", async () => {
    const w = window();
    await w.openFile("demo.py");
    await w.waitUntilReady();
    await w.goto(1, 100);
    await w.page.keyboard.press("Enter");
    expect(await w.waitForGhost()).toBe("return a + b");
    await w.page.keyboard.press("Alt+BracketRight");
    await w.page.keyboard.press("Alt+BracketRight");
    await w.page.waitForTimeout(500);
    expect(await w.ghost()).toBe("return a + b");
    await w.shot("shown");
    const last = (await w.serverStatus()).lastRequest;
    expect(last).toMatchObject({ shown: 1, discarded: 1 });
  });
});
