// Settings: VS Code's `vetted.*` configuration to the server's settings tree. Pure: no
// `vscode` import, so the mapping is tested on its own.

/** Reads one setting (`vscode.WorkspaceConfiguration.get` of the `vetted` section). */
export type Read = (key: string) => unknown;

/**
 * The server's settings, camelCase as on the wire, mirroring lsp_server/config.py one to one
 * (tests/unit/lsp_server/test_vscode_settings.py checks package.json against it).
 */
export const SERVER_SETTINGS = [
  "model",
  "device",
  "dtype",
  "maxNewTokens",
  "maxPromptTokens",
  "testsInPrompt",
  "alternatives",
  "temperature",
  "trigger",
  "validators.syntax",
  "validators.mypy",
  "validators.tests",
  "validators.testsBudget",
  "validators.testsPython",
  "automaticModel",
  "speculative",
  "runtime.compile",
  "runtime.quantize",
  "runtime.slots",
  "runtime.prefixCacheMb",
  "runtime.speculateTokens",
  "testGeneration.samples",
  "testGeneration.rounds",
  "testGeneration.maxNewTokens",
  "testGeneration.temperature",
  "testGeneration.python",
  "adapters",
  "training.logCompletions",
  "workspaceIndex",
  "remote.apiKey",
  "remote.timeoutSeconds",
  "remote.retries",
  "observability.port",
  "observability.logPrompts",
  "recentEdits",
  "suggestions.eagerness",
  "suggestions.prefetch",
  "blockedOutput",
] as const;

export type Settings = { [key: string]: unknown };

/** The settings sent as `initializationOptions` and with `workspace/didChangeConfiguration`. */
export function serverSettings(read: Read): Settings {
  const settings: Settings = {};
  for (const key of SERVER_SETTINGS) {
    const value = read(key);
    if (value === undefined || value === null) {
      continue;
    }
    const parts = key.split(".");
    let node = settings;
    for (const part of parts.slice(0, -1)) {
      node = (node[part] ??= {}) as Settings;
    }
    node[parts[parts.length - 1]] = value;
  }
  return settings;
}

/** How to start the server: `vetted.server.path` (default `vetted`), `serve`, extra args. */
export function serverCommand(read: Read): { command: string; args: string[] } {
  const path = read("server.path");
  const extra = read("server.args");
  return {
    command: typeof path === "string" && path !== "" ? path : "vetted",
    args: ["serve", ...(Array.isArray(extra) ? extra.map(String) : [])],
  };
}

/**
 * The languages completed by default: VS Code's languageIds of every language the server
 * has a grammar for (prompts/languages.py), JSX and TSX included.
 */
export const LANGUAGES = [
  "python",
  "javascript",
  "javascriptreact",
  "typescript",
  "typescriptreact",
  "go",
  "rust",
  "java",
  "c",
  "cpp",
  "csharp",
  "ruby",
  "php",
  "lua",
  "shellscript",
  "json",
  "yaml",
  "toml",
  "html",
  "css",
] as const;

/** `vetted.languages`: the languageIds to complete; every one of `LANGUAGES` when unset. */
export function languages(read: Read): string[] {
  const listed = read("languages");
  if (!Array.isArray(listed)) {
    return [...LANGUAGES];
  }
  return [...new Set(listed.filter((id): id is string => typeof id === "string" && id !== ""))];
}

/** The client's document selector: every scheme (files, untitled), the chosen languages. */
export function documentSelector(read: Read): { language: string }[] {
  return languages(read).map((language) => ({ language }));
}
