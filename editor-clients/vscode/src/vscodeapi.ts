// The few VS Code API calls the extension makes, behind one interface, so the logic in
// controller.ts runs against a fake in tests and against VS Code here.
import * as vscode from "vscode";

import { Read } from "./settings";

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
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** The active Python editor's document URI and cursor, if there is one. */
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
