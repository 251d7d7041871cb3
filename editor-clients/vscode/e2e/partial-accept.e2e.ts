// Accept the next word (Ctrl+Right) and the next line (Ctrl+Alt+Right) of a suggestion, then
// dismiss the rest (Escape): the document takes the parts, the server hears of them.
import { describe, expect, it } from "vitest";

import { useWindow } from "./workbench";

describe("partial accept", () => {
  const window = useWindow("partial-accept", {
    files: { "demo.py": "def add(a: int, b: int) -> int:\n" },
    replay: ["total = a + b\n    return total"],
  });

  it("takes the next word, then the next line, and Escape dismisses the rest", async () => {
    const w = window();
    await w.openFile("demo.py");
    await w.waitUntilReady();
    await w.goto(1, 100);
    await w.page.keyboard.press("Enter");
    expect(await w.waitForGhost()).toBe("total = a + b\n    return total");
    await w.page.keyboard.press("Control+ArrowRight");
    await expect.poll(async () => (await w.lines())[1]).toBe("    total");
    expect(await w.ghost()).toBe(" = a + b\n    return total");
    await w.shot("word");
    await w.page.keyboard.press("Control+Alt+ArrowRight");
    await expect.poll(async () => (await w.lines()).slice(1, 3))
      .toEqual(["    total = a + b", ""]);
    await expect.poll(() => w.ghost()).toBe("    return total");
    await w.shot("line");
    await w.page.keyboard.press("Escape");
    await expect.poll(() => w.ghost()).toBe("");
    // The server heard the word taken: the suggestion ended as partly accepted, not ignored.
    // (A replay model answers its whole text at every request, so the answers after each
    // accept are new suggestions to the server, not the rest of the first one.)
    await expect.poll(async () => (await w.serverStatus()).signals)
      .toMatchObject({ partiallyAccepted: 1 });
  });
});
