// The controller's logic with a fake VS Code host and a fake language client.
import { beforeEach, describe, expect, it } from "vitest";

import { installVSCodeMock } from "./vscode-mock";

installVSCodeMock();
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Controller } = require("../out/src/controller.js");

function host(settings: Record<string, unknown> = {}) {
  const shown: string[] = [];
  const item: any = { show() {}, dispose() {} };
  return {
    shown, item,
    read: (key: string) => settings[key],
    onSettingsChanged: () => ({ dispose() {} }),
    statusItem: () => item,
    output: () => ({}),
    registerCommand: () => ({ dispose() {} }),
    executeCommand: async (id: string) => { shown.push(`command ${id}`); },
    info: (message: string) => shown.push(`info ${message}`),
    warn: (message: string) => shown.push(`warn ${message}`),
    error: (message: string) => shown.push(`error ${message}`),
    cursor: () => ({ uri: "file:///p/shop/pricing.py", line: 11, character: 4 }),
    errorColor: () => "red",
  };
}

function client(answer: unknown) {
  const sent: unknown[][] = [];
  return {
    sent,
    sendRequest: async (...args: unknown[]) => { sent.push(args); return answer; },
    sendNotification: async (...args: unknown[]) => { sent.push(args); },
    stop: async () => {},
  };
}

const REPORT = {
  cancelled: false, function: "discount", testFile: "tests/test_pricing.py",
  delivered: [{ name: "test_a" }, { name: "test_b" }],
  coverageBefore: { percent: 40 }, coverageAfter: { percent: 100 },
  bugs: [{ example: "discount(200.0, 25) == 150.0", error: "AssertionError: 140.0" }],
};

describe("controller", () => {
  let fake: ReturnType<typeof host>;
  beforeEach(() => { fake = host({ model: "replay:/m.jsonl", "runtime.slots": 2 }); });

  it("runs the server's test generation at the cursor and reports what it wrote", async () => {
    const controller = new Controller(fake, () => undefined);
    const lsp = client(REPORT);
    controller.client = lsp;
    expect(await controller.generateTests()).toBe(REPORT);
    expect(lsp.sent[0]).toEqual(["workspace/executeCommand", {
      command: "vetted.generateTests",
      arguments: ["file:///p/shop/pricing.py", { line: 11, character: 4 }],
    }]);
    expect(fake.shown).toEqual([
      "info vetted: 2 tests for discount in tests/test_pricing.py, coverage 40% → 100%",
      "warn vetted: probable bug in discount: the docstring says discount(200.0, 25) == 150.0, "
        + "but AssertionError: 140.0",
    ]);
  });

  it("says so when the run was cancelled", async () => {
    const controller = new Controller(fake, () => undefined);
    controller.client = client({ cancelled: true });
    await controller.generateTests();
    expect(fake.shown).toEqual(["info vetted: test generation cancelled; nothing was written"]);
  });

  it("sends changed settings wrapped in the vetted section", async () => {
    const controller = new Controller(fake, () => undefined);
    const lsp = client(undefined);
    controller.client = lsp;
    await controller.settingsChanged();
    expect(lsp.sent[0]).toEqual(["workspace/didChangeConfiguration", {
      settings: { vetted: { model: "replay:/m.jsonl", runtime: { slots: 2 } } },
    }]);
    await controller.stop();
  });

  it("shows the alternatives with VS Code's own inline-suggestion commands", async () => {
    const controller = new Controller(fake, () => undefined);
    await controller.showAlternatives();
    expect(fake.shown).toEqual(["command editor.action.inlineSuggest.trigger",
                                "command editor.action.inlineSuggest.showNext"]);
  });
});
