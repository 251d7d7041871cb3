import { readFileSync } from "node:fs";
import { join } from "node:path";

import { describe, expect, it } from "vitest";

import { documentSelector, LANGUAGES, languages, serverCommand, serverSettings }
  from "../src/settings";
import { statusView } from "../src/status";

describe("settings", () => {
  it("nests dotted keys and leaves out what is not set", () => {
    const values: Record<string, unknown> = {
      model: "replay:/tmp/r.jsonl", "validators.mypy": false, "runtime.slots": 4,
      "server.path": "/opt/vetted/bin/vetted",  // client only: never sent
    };
    expect(serverSettings((key) => values[key])).toEqual({
      model: "replay:/tmp/r.jsonl", validators: { mypy: false }, runtime: { slots: 4 },
    });
  });

  it("starts `vetted serve`, with the configured path and arguments", () => {
    expect(serverCommand(() => undefined)).toEqual({ command: "vetted", args: ["serve"] });
    const values: Record<string, unknown> = { "server.path": "/x/vetted", "server.args": ["-v"] };
    expect(serverCommand((key) => values[key])).toEqual({ command: "/x/vetted",
                                                        args: ["serve", "-v"] });
  });
});

describe("languages", () => {
  const manifest = JSON.parse(readFileSync(join(__dirname, "..", "package.json"), "utf-8"));

  it("completes every language with a syntax check unless vetted.languages says otherwise", () => {
    expect(languages(() => undefined)).toEqual([...LANGUAGES]);
    expect(documentSelector(() => undefined)).toContainEqual({ language: "typescriptreact" });
    const values: Record<string, unknown> = { languages: ["typescript", "go", 7, "", "go"] };
    expect(documentSelector((key) => values[key])).toEqual([
      { language: "typescript" }, { language: "go" },
    ]);
    expect(languages((key) => ({ languages: [] } as Record<string, unknown>)[key])).toEqual([]);
  });

  it("declares the same default in package.json and activates on each language", () => {
    const setting = manifest.contributes.configuration.properties["vetted.languages"];
    expect(setting.default).toEqual([...LANGUAGES]);
    expect(manifest.activationEvents).toEqual(LANGUAGES.map((id) => `onLanguage:${id}`));
  });
});

describe("status bar", () => {
  it.each([
    [{ server: "starting", enabled: true, busy: 0 }, "$(sync~spin) vetted", false],
    [{ server: "loading", enabled: true, busy: 0 }, "$(sync~spin) vetted", false],
    [{ server: "ready", enabled: true, busy: 0, lastLatencyMs: 212.4 }, "$(check) vetted 212 ms",
     false],
    [{ server: "ready", enabled: true, busy: 1 }, "$(loading~spin) vetted", false],
    [{ server: "ready", enabled: false, busy: 0 }, "$(circle-slash) vetted", false],
    [{ server: "failed", enabled: true, busy: 0, error: "no model" }, "$(error) vetted", true],
  ] as const)("%o shows %s", (state, text, error) => {
    const view = statusView({ ...state });
    expect(view.text).toBe(text);
    expect(view.error).toBe(error);
  });

  it("says why it failed", () => {
    const view = statusView({ server: "failed", enabled: true, busy: 0, error: "no such model" });
    expect(view.tooltip).toContain("no such model");
  });
});
