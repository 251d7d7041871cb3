// Suggestion signals through the compiled extension and the real client to the real server:
// our key commands run VS Code's own inline commands (faked here, as VS Code would edit the
// document), then tell the server what the user saw, accepted in part or dismissed.

import { MockTextDocument } from "jest-mock-vscode/dist/vscode/TextDocument";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

import { DISMISSED, PARTIALLY_ACCEPTED, SHOWN } from "../src/signals";
import { activate, openDocument, suggest, workFolder } from "./harness";
import { installVSCodeMock } from "./vscode-mock";

const fake = installVSCodeMock();
const vscode = fake.vscode;
const SUGGESTION = "total = a + b\n    return total";
const { work, replay } = workFolder([SUGGESTION, "return a + b"]);

let extension: any;
let controller: any;
let document: any;
let sent: { mock: { calls: any[][] } };
/** VS Code's own inline commands, in the order they ran. */
const builtIns: string[] = [];

/** Put the cursor at `line`, `character` of the document. */
function cursor(line: number, character: number): void {
  vscode.window.activeTextEditor = {
    document, selection: { active: new vscode.Position(line, character) },
  };
}

/** What VS Code does: insert `text` at the cursor, move past it, announce the change. */
function type(text: string): void {
  const editor = vscode.window.activeTextEditor;
  const at = editor.selection.active;
  const offset = document.offsetAt(at);
  const before = document.getText();
  MockTextDocument.setContents(document, before.slice(0, offset) + text + before.slice(offset));
  document.version += 1;
  editor.selection = { active: document.positionAt(offset + text.length) };
  const event = {
    document, reason: undefined,
    contentChanges: [{ range: new vscode.Range(at, at), rangeOffset: offset, rangeLength: 0, text }],
  };
  for (const listener of fake.listeners.get("workspace.onDidChangeTextDocument") ?? []) {
    listener(event);
  }
}

/** Fake VS Code's `editor.action.inlineSuggest.<name>`; an accept inserts `inserts`. */
function builtIn(name: string, inserts = ""): void {
  fake.commands.set(`editor.action.inlineSuggest.${name}`, () => {
    builtIns.push(name);
    if (inserts) {
      type(inserts);
    }
  });
}

/** The notifications of `method` the client sent, oldest first. */
function notifications(method: string): any[] {
  return sent.mock.calls.filter(([name]) => name === method).map(([, params]) => params);
}

describe("suggestion signals against the real server", () => {
  beforeAll(async () => {
    document = openDocument(fake, work, "add.py", "def add(a, b):\n    \n");
    ({ extension, controller } = await activate(fake, work, replay));
    expect(controller.state.server).toBe("ready");
    sent = vi.spyOn(controller.client, "sendNotification");
    builtIn("acceptNextWord", "total");
    builtIn("acceptNextLine", " = a + b\n");
    builtIn("showNext");
    builtIn("showPrevious");
    builtIn("hide");
    cursor(1, 4);
  });

  afterAll(async () => {
    await extension?.deactivate();
  });

  it("tells the server the first item of every answer is shown, as the server sent it", async () => {
    expect(await suggest(fake, document, 1, 4)).toEqual([SUGGESTION, "return a + b"]);
    const [shown] = notifications(SHOWN);
    expect(shown.item).toEqual({
      insertText: SUGGESTION,
      range: { start: { line: 1, character: 4 }, end: { line: 1, character: 4 } },
      command: { title: expect.any(String), command: "vetted.accepted",
                 arguments: [expect.objectContaining({ id: expect.any(String) })] },
    });
  });

  it("Alt+] and Alt+[ run VS Code's cycling and tell which alternative is shown", async () => {
    await vscode.commands.executeCommand("vetted.showNext");
    await vscode.commands.executeCommand("vetted.showPrevious");
    expect(builtIns).toEqual(["showNext", "showPrevious"]);
    expect(notifications(SHOWN).map(({ item }) => item.insertText))
      .toEqual([SUGGESTION, "return a + b", SUGGESTION]);
  });

  it("accept next word, then next line: VS Code's commands, then the cumulative length", async () => {
    expect(await vscode.commands.executeCommand("vetted.acceptNextWord")).toBe("total".length);
    expect(await vscode.commands.executeCommand("vetted.acceptNextLine"))
      .toBe("total = a + b\n".length);
    expect(builtIns.slice(-2)).toEqual(["acceptNextWord", "acceptNextLine"]);
    expect(document.getText()).toBe("def add(a, b):\n    total = a + b\n\n");
    const [shown] = notifications(SHOWN);
    expect(notifications(PARTIALLY_ACCEPTED)).toEqual([
      { item: shown.item, acceptedLength: 5 },
      { item: shown.item, acceptedLength: 14 },
    ]);
  });

  it("Escape hides the suggestion and tells the server which one was dismissed", async () => {
    await suggest(fake, document, 2, 0);
    await vscode.commands.executeCommand("vetted.dismiss");
    expect(builtIns.at(-1)).toBe("hide");
    const shown = notifications(SHOWN).at(-1);
    expect(notifications(DISMISSED)).toEqual([{ item: shown.item }]);
    // The server heard it: that suggestion is not offered at that place again.
    expect(await suggest(fake, document, 2, 0)).not.toContain(shown.item.insertText);
  });
  it("the server counted the partly accepted suggestion", async () => {
    const status: any = await controller.client.sendRequest("vetted/status", {});
    // The answer at the new cursor continues the partly accepted one, so the dismissal ends
    // that suggestion as partly accepted rather than rejected (lsp_server/signals.py); the
    // answer after the dismissal is a second one, still open.
    expect(status.signals).toMatchObject(
      { shown: 2, accepted: 0, partiallyAccepted: 1, rejected: 0, ignored: 0 });
  });
});
