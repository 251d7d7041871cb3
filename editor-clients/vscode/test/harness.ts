// Running the compiled extension against the real server (`vetted serve` from the repository's
// .venv, a replay model) with `vscode` mocked: shared by the tests that do so.
import { mkdtempSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

import { MockTextDocument } from "jest-mock-vscode/dist/vscode/TextDocument";

import { Fake } from "./vscode-mock";

const REPO = resolve(__dirname, "..", "..", "..");
export const VETTED = join(REPO, ".venv", "bin", "vetted");

/** A fresh folder holding `replay.jsonl` with these raw model outputs, best first. */
export function workFolder(outputs: string[]): { work: string; replay: string } {
  const work = mkdtempSync(join(tmpdir(), "vetted-vscode-"));
  const replay = join(work, "replay.jsonl");
  writeFileSync(replay, outputs.map((text, rank) =>
    JSON.stringify({ text, logprob: -0.1 - 0.8 * rank }) + "\n").join(""));
  return { work, replay };
}

/** Configure the fake for the server, load the compiled extension and activate it. */
export async function activate(fake: Fake, work: string, replay: string): Promise<any> {
  // The server learns from what each test does (its signals, under $XDG_STATE_HOME): each
  // test's server learns alone, and never into the user's own state.
  process.env.XDG_STATE_HOME = join(work, "state");
  fake.settings.set("server.path", VETTED);
  fake.settings.set("server.args", ["-v", "--log-file", join(work, "server.log")]);
  fake.settings.set("model", `replay:${replay}`);
  fake.settings.set("validators.mypy", false);
  const extension = createRequire(__filename)(join(__dirname, "..", "out", "src", "extension.js"));
  const controller = await extension.activate({ subscriptions: [] });
  await until(() => controller.state.server === "ready" || controller.state.server === "failed",
              "the model");
  return { extension, controller };
}

/** A document of `text` written to `work/name`, opened in the fake (the client syncs it). */
export function openDocument(fake: Fake, work: string, name: string, text: string,
                             languageId = "python"): any {
  const path = join(work, name);
  writeFileSync(path, text);
  const document = MockTextDocument.create(fake.vscode.Uri.file(path), text, languageId);
  fake.vscode.workspace.textDocuments = [...fake.vscode.workspace.textDocuments ?? [], document];
  for (const listener of fake.listeners.get("workspace.onDidOpenTextDocument") ?? []) {
    listener(document);
  }
  return document;
}

export async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((done) => setTimeout(done, 50));
  }
}

/** Ask the registered inline provider, as VS Code does; the insert texts it returns. */
export async function suggest(fake: Fake, document: any, line: number,
                              character: number): Promise<string[]> {
  const vscode = fake.vscode;
  const [provider] = fake.inlineProviders;
  const token = new vscode.CancellationTokenSource().token;
  const found = await provider.provideInlineCompletionItems(
    document, new vscode.Position(line, character),
    { triggerKind: 0, selectedCompletionInfo: undefined }, token,
  );
  const items = Array.isArray(found) ? found : found?.items ?? [];
  return items.map((item: any) => String(item.insertText?.value ?? item.insertText));
}
