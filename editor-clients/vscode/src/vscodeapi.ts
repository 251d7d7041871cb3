// The few VS Code API calls the extension makes, behind one interface, so the logic in
// controller.ts runs against a fake in tests and against VS Code here.
import * as vscode from "vscode";

import { Read } from "./settings";
import { Edited } from "./signals";

export interface StatusItem {
  text: string;
  tooltip: string | vscode.MarkdownString | undefined;
  command: string | vscode.Command | undefined;
  backgroundColor: vscode.ThemeColor | undefined;
  show(): void;
  dispose(): void;
}

export interface Host {
  /** Reads a `vetted.*` setting. */
  read: Read;
  onSettingsChanged(listener: () => void): vscode.Disposable;
  statusItem(): StatusItem;
  output(): vscode.LogOutputChannel;
  registerCommand(id: string, run: (...args: unknown[]) => unknown): vscode.Disposable;
  executeCommand(id: string, ...args: unknown[]): Thenable<unknown>;
  /** Runs a command that edits the active document; the document after its edit, if any. */
  runEdit(id: string): Promise<Edited | undefined>;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** The active editor's document URI and cursor, if there is one. */
  cursor(): { uri: string; line: number; character: number } | undefined;
  errorColor(): vscode.ThemeColor;
}

export function vscodeHost(): Host {
  return {
    read: (key) => vscode.workspace.getConfiguration("vetted").get(key),
    onSettingsChanged: (listener) =>
      vscode.workspace.onDidChangeConfiguration((event) => {
        if (event.affectsConfiguration("vetted")) {
          listener();
        }
      }),
    statusItem: () => vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Right, 100),
    output: () => vscode.window.createOutputChannel("vetted", { log: true }),
    registerCommand: (id, run) => vscode.commands.registerCommand(id, run),
    executeCommand: (id, ...args) => vscode.commands.executeCommand(id, ...args),
    runEdit,
    info: (message) => void vscode.window.showInformationMessage(message),
    warn: (message) => void vscode.window.showWarningMessage(message),
    error: (message) => void vscode.window.showErrorMessage(message),
    cursor: () => {
      const editor = vscode.window.activeTextEditor;
      if (!editor) {
        return undefined;
      }
      const { line, character } = editor.selection.active;
      return { uri: editor.document.uri.toString(), line, character };
    },
    errorColor: () => new vscode.ThemeColor("statusBarItem.errorBackground"),
  };
}

/** How long to wait for the change event of an edit whose command has already returned. */
const EDIT_EVENT_MS = 200;

async function runEdit(id: string): Promise<Edited | undefined> {
  const document = vscode.window.activeTextEditor?.document;
  let end: number | undefined;
  const listening = vscode.workspace.onDidChangeTextDocument((event) => {
    const [change] = event.contentChanges;
    if (event.document === document && change) {
      end = change.rangeOffset + change.text.length;
    }
  });
  try {
    await vscode.commands.executeCommand(id);
    // The renderer sends the change before the command's result, but do not rely on it.
    for (let waited = 0; end === undefined && waited < EDIT_EVENT_MS; waited += 20) {
      await new Promise((done) => setTimeout(done, 20));
    }
  } finally {
    listening.dispose();
  }
  if (!document || end === undefined) {
    return undefined;
  }
  return { uri: document.uri.toString(), text: document.getText(), end };
}
