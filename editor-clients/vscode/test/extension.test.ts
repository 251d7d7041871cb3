// The compiled extension and the real vscode-languageclient against the real server
// (`vetted serve` from the repository's .venv, a replay model), with `vscode` mocked.
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { LANGUAGES } from "../src/settings";
import { activate, openDocument, suggest as ask, workFolder } from "./harness";
import { installVSCodeMock } from "./vscode-mock";

const fake = installVSCodeMock();
const vscode = fake.vscode;
const { work, replay } = workFolder(["return a + b", "return b + a"]);

let extension: any;
let controller: any;
let document: any;

function suggest(at: any = document, line = 1, character = 4): Promise<string[]> {
  return ask(fake, at, line, character);
}

describe("the extension against the real server", () => {
  beforeAll(async () => {
    document = openDocument(fake, work, "add.py", "def add(a, b):\n    \n");
    ({ extension, controller } = await activate(fake, work, replay));
    expect(controller.state, JSON.stringify(fake.messages)).toMatchObject({ server: "ready" });
  });

  afterAll(async () => {
    await extension?.deactivate();
  });

  it("activates: status bar, commands, the inline provider", () => {
    expect(fake.statusItems[0].text).toBe("$(check) vetted");
    for (const id of ["vetted.toggle", "vetted.showAlternatives", "vetted.generateTestsAtCursor",
                      "vetted.showLog"]) {
      expect(fake.commands.has(id), id).toBe(true);
    }
    expect(fake.inlineProviders).toHaveLength(1);
  });

  it("returns the server's vetted items, best first, and shows the latency", async () => {
    expect(await suggest()).toEqual(["return a + b", "return b + a"]);
    expect(fake.statusItems[0].text).toMatch(/^\$\(check\) vetted \d+ ms$/);
  });

  it("completes every language of vetted.languages: TypeScript, Go and Rust documents", async () => {
    // The provider and the document sync cover every language by default.
    expect(fake.inlineSelectors[0]).toEqual(LANGUAGES.map((language) => ({ language })));
    const files: [string, string, string, number][] = [
      ["add.ts", "export function add(a: number, b: number): number {\n  \n}\n", "typescript", 2],
      ["add.go", "package main\n\nfunc add(a, b int) int {\n\t\n}\n", "go", 1],
      ["add.rs", "fn add(a: i32, b: i32) -> i32 {\n    \n}\n", "rust", 4],
    ];
    const opened = [];
    for (const [name, text, languageId, column] of files) {
      const other = openDocument(fake, work, name, text, languageId);
      opened.push(other);
      const line = text.split("\n").findIndex((row) => row.trim() === "" && row !== "");
      expect(await suggest(other, line, column), languageId).toContain("return a + b");
    }
    // Taken off the list, a language gets no suggestion at once; Python still does.
    fake.settings.set("languages", ["python", "go", "rust"]);
    expect(await suggest(opened[0], 1, 2)).toEqual([]);
    expect(await suggest(opened[1], 3, 1)).toContain("return a + b");
    expect(await suggest()).toEqual(["return a + b", "return b + a"]);
    fake.settings.delete("languages");
  });

  it("runs a server command through the client (the accepted item's command)", async () => {
    // The languageclient registers the server's commands; running one is a round trip.
    expect(fake.commands.has("vetted.accepted")).toBe(true);
    await vscode.commands.executeCommand("vetted.accepted", { verdicts: {} });
    const status: any = await controller.client.sendRequest("vetted/status", {});
    expect(status.accepted).toBe(1);
  });

  it("toggles suggestions off and on from the command", async () => {
    expect(await vscode.commands.executeCommand("vetted.toggle")).toBe(false);
    expect(await suggest()).toEqual([]);
    expect(fake.statusItems[0].text).toBe("$(circle-slash) vetted");
    expect(await vscode.commands.executeCommand("vetted.toggle")).toBe(true);
    expect(await suggest()).toEqual(["return a + b", "return b + a"]);
  });

  it("deactivates cleanly: the server is shut down", async () => {
    const client = controller.client;
    await extension.deactivate();
    extension = undefined;
    expect(client.isRunning()).toBe(false);
    expect(controller.state.server).toBe("stopped");
  });
});
