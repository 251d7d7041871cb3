// A model that fails to load: the status bar turns to the error state and says why.
import { describe, expect, it } from "vitest";

import { useWindow } from "./workbench";

describe("model error", () => {
  const window = useWindow("model-error", {
    files: { "demo.py": "def add(a: int, b: int) -> int:\n" },
    settings: { model: "/nonexistent/qwen2.5-coder" },
  });

  it("the status bar shows the error state and the server's reason", async () => {
    const w = window();
    await w.openFile("demo.py");
    await w.status.locator(".codicon-error").waitFor({ timeout: 120_000 });
    expect(await w.status.getAttribute("aria-label")).toContain(
      "model '/nonexistent/qwen2.5-coder' is neither a directory, a .gguf file nor a hub id");
    // VS Code marks an item whose background is statusBarItem.errorBackground (red).
    expect(await w.status.getAttribute("class")).toContain("error-kind");
    await w.shot("error");
    await w.status.hover();
    await w.page.locator(".workbench-hover", { hasText: "neither a directory" }).waitFor();
    await w.shot("reason");
  });
});
