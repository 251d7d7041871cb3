// A `vscode` module for tests: jest-mock-vscode's mock with the gaps the real
// vscode-languageclient runs into filled (../shared/CLIENTS-AND-SANDBOX.md, section 4), put
// in place through a Module._load hook, since vi.mock does not reach a CommonJS
// `require("vscode")` inside node_modules.
import Module from "node:module";

import { createVSCodeMock } from "jest-mock-vscode";
import { vi } from "vitest";

type Listener = (...args: any[]) => unknown;
type AnyRecord = Record<string, any>;

export interface Fake {
  vscode: AnyRecord;
  /** Settings `workspace.getConfiguration("vetted").get(key)` answers. */
  settings: Map<string, unknown>;
  /** Handlers given to `commands.registerCommand`, by command id. */
  commands: Map<string, Listener>;
  /** Providers given to `languages.registerInlineCompletionItemProvider`. */
  inlineProviders: AnyRecord[];
  /** The document selectors they were registered for, in the same order. */
  inlineSelectors: unknown[];
  /** Listeners of every `on*` event, by event name (`workspace.onDidOpenTextDocument`). */
  listeners: Map<string, Listener[]>;
  /** Messages shown with window.show*Message. */
  messages: string[];
  statusItems: AnyRecord[];
}

const disposable = () => ({ dispose() {} });

class Inert {
  constructor(..._args: unknown[]) {}
}

export function installVSCodeMock(): Fake {
  const vscode = createVSCodeMock(vi) as unknown as AnyRecord;
  const fake: Fake = {
    vscode,
    settings: new Map(),
    commands: new Map(),
    inlineProviders: [],
    inlineSelectors: [],
    listeners: new Map(),
    messages: [],
    statusItems: [],
  };
  // Classes the languageclient constructs that the mock leaves out.
  for (const name of ["InlayHint", "InlayHintLabelPart", "Hover", "SignatureHelp",
    "SignatureInformation", "ParameterInformation", "TabInputText", "TabInputTextDiff",
    "TabInputCustom", "TabInputNotebook", "TabInputNotebookDiff", "TabInputWebview",
    "TabInputTerminal", "NotebookCellData", "NotebookData", "LinkedEditingRanges",
    "SemanticTokensBuilder", "InlineValueText", "InlineValueVariableLookup",
    "InlineValueEvaluatableExpression", "RelativePattern", "SnippetTextEdit"]) {
    vscode[name] ??= Inert;
  }
  vscode.InlineCompletionItem = class {
    constructor(public insertText: unknown, public range?: unknown, public command?: unknown) {}
  };
  vscode.InlineCompletionList = class {
    constructor(public items: unknown[]) {}
  };
  vscode.InlineCompletionTriggerKind ??= { Invoke: 0, Automatic: 1 };
  vscode.CancellationTokenSource = class {
    token = { isCancellationRequested: false, onCancellationRequested: () => disposable() };
    cancel() { this.token.isCancellationRequested = true; }
    dispose() {}
  };
  vscode.ThemeColor ??= class { constructor(public id: string) {} };
  vscode.CancellationError ??= class extends Error {};
  vscode.env ??= { appName: "Visual Studio Code (mock)", appRoot: "", language: "en",
                   machineId: "test", sessionId: "test", uriScheme: "vscode",
                   clipboard: { readText: async () => "", writeText: async () => {} },
                   openExternal: async () => true };
  // Every event registration keeps its listener until its disposable is disposed.
  for (const [space, api] of Object.entries(vscode)) {
    if (!api || typeof api !== "object") {
      continue;
    }
    for (const key of Object.keys(api)) {
      if (/^on(Did|Will)[A-Z]/.test(key)) {
        api[key] = (listener: Listener, thisArg?: unknown) => {
          const name = `${space}.${key}`;
          const bound = listener.bind(thisArg);
          fake.listeners.set(name, [...(fake.listeners.get(name) ?? []), bound]);
          return { dispose: () => fake.listeners.set(
            name, (fake.listeners.get(name) ?? []).filter((other) => other !== bound)) };
        };
      }
    }
  }
  vscode.workspace.getConfiguration = (section?: string) => ({
    get: (key: string, fallback?: unknown) =>
      section === "vetted" && fake.settings.has(key) ? fake.settings.get(key) : fallback,
    has: (key: string) => section === "vetted" && fake.settings.has(key),
    inspect: () => undefined,
    update: async () => {},
  });
  vscode.window.createOutputChannel = (name: string) => {
    const lines: string[] = [];
    const log = (message: string) => { lines.push(message); };
    return {
      name, lines, logLevel: 2, onDidChangeLogLevel: () => disposable(),
      append: log, appendLine: log, replace: log, clear() {}, show() {}, hide() {}, dispose() {},
      trace: log, debug: log, info: log, warn: log, error: log,
    };
  };
  vscode.window.createStatusBarItem = () => {
    const item = { text: "", tooltip: "", command: undefined, backgroundColor: undefined,
                   show() {}, hide() {}, dispose() {} };
    fake.statusItems.push(item);
    return item;
  };
  for (const kind of ["showInformationMessage", "showWarningMessage", "showErrorMessage"]) {
    vscode.window[kind] = async (message: string) => { fake.messages.push(message); };
  }
  vscode.commands.registerCommand = (id: string, run: Listener) => {
    fake.commands.set(id, run);
    return { dispose: () => fake.commands.delete(id) };
  };
  vscode.commands.executeCommand = async (id: string, ...args: unknown[]) =>
    fake.commands.get(id)?.(...args);
  // Every provider registration returns a disposable (the client disposes them on stop).
  for (const key of Object.keys(vscode.languages)) {
    if (key.startsWith("register")) {
      vscode.languages[key] = () => disposable();
    }
  }
  vscode.languages.registerInlineCompletionItemProvider = (selector: unknown, provider: AnyRecord) => {
    fake.inlineProviders.push(provider);
    fake.inlineSelectors.push(selector);
    return disposable();
  };
  vscode.languages.match = (selector: unknown, document: AnyRecord) => {
    const filters = Array.isArray(selector) ? selector : [selector];
    return filters.some((f: AnyRecord) => !f.language || f.language === document.languageId)
      ? 10 : 0;
  };
  const load = (Module as any)._load;
  (Module as any)._load = function (request: string, ...rest: unknown[]) {
    return request === "vscode" ? vscode : load.call(this, request, ...rest);
  };
  return fake;
}
