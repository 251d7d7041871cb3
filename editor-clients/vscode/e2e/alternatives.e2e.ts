// Alt+] and Alt+[ cycle through the server's ranked alternatives; Tab takes the one shown;
// Escape dismisses one, and the server does not offer it at that place again.
import { describe, expect, it } from "vitest";

import { useWindow } from "./workbench";

const SUB = 'def sub(a: int, b: int) -> int:\n    """a minus b."""\n';
const SOURCE = `def add(a: int, b: int) -> int:\n\n\n${SUB}`;

describe("alternatives", () => {
  const window = useWindow("alternatives", {
    files: { "demo.py": SOURCE },
    replay: ["return a + b", "return b + a", "return sum((a, b))"],
  });

  it("Alt+] shows the next alternative, Alt+[ the previous, Tab accepts the one shown", async () => {
    const w = window();
    await w.openFile("demo.py");
    await w.waitUntilReady();
    await w.goto(1, 100);
    await w.page.keyboard.press("Enter");
    expect(await w.waitForGhost()).toBe("return a + b");
    await w.page.keyboard.press("Alt+BracketRight");
    await expect.poll(() => w.ghost()).toBe("return b + a");
    await w.shot("next");
    await w.page.keyboard.press("Alt+BracketRight");
    await expect.poll(() => w.ghost()).toBe("return sum((a, b))");
    await w.page.keyboard.press("Alt+BracketLeft");
    await expect.poll(() => w.ghost()).toBe("return b + a");
    await w.page.keyboard.press("Tab");
    await w.page.keyboard.press("Control+S");
    await expect.poll(() => w.read("demo.py"))
      .toBe(`def add(a: int, b: int) -> int:\n    return b + a\n\n\n${SUB}`);
  });

  it("Escape dismisses the suggestion; asked again there, the server offers the others", async () => {
    const w = window();
    await w.goto(6, 100);
    await w.page.keyboard.press("Enter");
    expect(await w.waitForGhost()).toBe("return a + b");
    await w.page.keyboard.press("Escape");
    await expect.poll(() => w.ghost()).toBe("");
    await w.command("Trigger Inline Suggestion");
    expect(await w.waitForGhost()).toBe("return b + a");
    await w.shot("after-dismiss");
  });
});
