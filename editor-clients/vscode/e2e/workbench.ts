// One scenario's VS Code window, driven as a user drives it: its own workspace folder (files,
// `.vscode/settings.json` pointing the extension at the repository's server and a replay
// model), opened in headless Chromium, with the keys and menus a user would use.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

import { Browser, chromium, Locator, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, inject } from "vitest";

import { E2E, freePort, REPO } from "./codeServer";

/** Where screenshots go (git-ignored), one per scenario and step. */
export const SHOTS = join(E2E, "out");
const CHROMIUM = process.env.VETTED_CHROMIUM ?? "/usr/bin/chromium";
/** The first start of a window and its server can be slow on a loaded 2-core machine. */
const START_MS = 120_000;
/** VS Code's ghost text: spans after the cursor, and the spans of the lines it adds below. */
const GHOST = ".ghost-text-decoration, .ghost-text";

export interface Options {
  /** Files of the workspace, by relative path. */
  files: Record<string, string>;
  /** The replay model's raw outputs, best first (`vetted.model` = `replay:` them). */
  replay?: string[];
  /** Further `vetted.*` settings, keys without the prefix; `model` overrides the replay. */
  settings?: Record<string, unknown>;
}

/** A pattern matching `text` and nothing more. */
function exactly(text: string): RegExp {
  return new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`);
}

let browser: Browser | undefined;

async function launched(): Promise<Browser> {
  browser ??= await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
  });
  return browser;
}

/** Close the browser of this test file (afterAll). */
async function closeBrowser(): Promise<void> {
  await browser?.close();
  browser = undefined;
}

/** Write `outputs` as a replay model file. */
export function writeReplay(path: string, outputs: string[]): string {
  writeFileSync(path, outputs.map((text, rank) =>
    JSON.stringify({ text, logprob: -0.1 - 0.8 * rank }) + "\n").join(""));
  return path;
}

export class Window {
  private constructor(readonly name: string, readonly dir: string, readonly page: Page,
                      private readonly statusPort: number) {}

  /** The workspace folder on disk. */
  get workspace(): string {
    return join(this.dir, "ws");
  }

  /** A fresh workspace for scenario `name`, opened in a new browser window. */
  static async open(name: string, options: Options): Promise<Window> {
    const dir = join(inject("runRoot"), name);
    const workspace = join(dir, "ws");
    for (const [path, text] of Object.entries(options.files)) {
      mkdirSync(dirname(join(workspace, path)), { recursive: true });
      writeFileSync(join(workspace, path), text);
    }
    const statusPort = await freePort();
    const settings: Record<string, unknown> = {
      "vetted.server.path": join(REPO, ".venv", "bin", "vetted"),
      "vetted.observability.port": statusPort,
      "vetted.server.args": ["-vv", "--log-file", join(dir, "server.log")],
      "vetted.model": `replay:${writeReplay(join(dir, "replay.jsonl"), options.replay ?? [])}`,
      "vetted.validators.mypy": false,
    };
    for (const [key, value] of Object.entries(options.settings ?? {})) {
      settings[`vetted.${key}`] = value;
    }
    mkdirSync(join(workspace, ".vscode"), { recursive: true });
    writeFileSync(join(workspace, ".vscode", "settings.json"), JSON.stringify(settings, null, 2));
    const context = await (await launched()).newContext({ viewport: { width: 1280, height: 720 } });
    const page = await context.newPage();
    const window = new Window(name, dir, page, statusPort);
    await page.goto(`${inject("codeServer")}/?folder=${encodeURIComponent(workspace)}`);
    await page.locator(".monaco-workbench .part.statusbar").waitFor({ timeout: START_MS });
    return window;
  }

  async close(): Promise<void> {
    await this.page.context().close();
  }

  /** A screenshot kept as the scenario's artifact: e2e/out/<scenario>-<step>.png. */
  async shot(step: string): Promise<string> {
    mkdirSync(SHOTS, { recursive: true });
    const path = join(SHOTS, `${this.name}-${step}.png`);
    await this.page.screenshot({ path });
    console.log(`screenshot: ${path}`);
    return path;
  }

  /** Quick Open (Ctrl+P) the file, choose its row (not a recent one) and wait for its editor. */
  async openFile(path: string): Promise<void> {
    const parts = path.split("/");
    const name = parts.pop() ?? path;
    await this.page.keyboard.press("Control+P");
    const input = this.page.locator(".quick-input-widget input");
    await input.waitFor();
    await input.fill(path);
    const row = this.page.locator(".quick-input-list .monaco-list-row")
      .filter({ has: this.page.locator(".label-name", { hasText: exactly(name) }) })
      .filter({ hasText: parts.join("/") })
      .first();
    await row.click();
    await this.page.locator(`.tab.active[data-resource-name="${name}"]`).waitFor();
    await this.editor.locator(".view-lines").waitFor();
    await this.editor.locator(".view-lines").click();
  }

  /** Put the cursor at 1-based `line`, `column` (Go to Line, Ctrl+G). */
  async goto(line: number, column: number): Promise<void> {
    await this.page.keyboard.press("Control+G");
    await this.page.locator(".quick-input-widget input").fill(`:${line}:${column}`);
    await this.page.keyboard.press("Enter");
    await this.page.locator(".quick-input-widget").waitFor({ state: "hidden" });
  }

  /** Run a command from the Command Palette by its title. */
  async command(title: string): Promise<void> {
    await this.page.keyboard.press("F1");
    const input = this.page.locator(".quick-input-widget input");
    await input.fill(`>${title}`);
    await this.page.locator(".quick-input-list .monaco-list-row")
      .filter({ has: this.page.locator(".label-name", { hasText: exactly(title) }) }).first()
      .click();
  }

  get editor(): Locator {
    return this.page.locator(".editor-group-container.active .monaco-editor").first();
  }

  /**
   * The ghost text on screen, "" when there is none: the grey spans after the cursor on its
   * line, then the lines VS Code adds below for a multi-line suggestion.
   */
  async ghost(): Promise<string> {
    return this.editor.evaluate((editor, selector) => {
      const rows = [...editor.querySelectorAll(".view-line")]
        .filter((row) => row.querySelector(selector) !== null)
        .sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top);
      return rows.map((row) => [...row.querySelectorAll(selector)]
        .map((span) => span.textContent ?? "").join("")).join("\n").replace(/\u00a0/g, " ");
    }, GHOST);
  }

  /** Wait until ghost text shows; returns it. */
  async waitForGhost(timeout = 15_000): Promise<string> {
    await this.editor.locator(GHOST).first().waitFor({ timeout });
    return this.ghost();
  }

  /** The editor's lines as shown, in order, without the ghost text. */
  async lines(): Promise<string[]> {
    return this.editor.evaluate((editor, selector) => {
      const rows = [...editor.querySelectorAll(".view-lines > .view-line")]
        .sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top);
      return rows.map((row) => [...row.querySelectorAll("span > span")]
        .filter((span) => !span.matches(selector))
        .map((span) => span.textContent ?? "").join("").replace(/\u00a0/g, " "));
    }, GHOST);
  }

  /** The extension's status bar item. */
  get status(): Locator {
    return this.page.locator(".statusbar-item", { hasText: "vetted" }).first();
  }

  /** Wait until the status bar says the model is ready (the check mark). */
  async waitUntilReady(): Promise<void> {
    await this.status.locator(".codicon-check").waitFor({ timeout: START_MS });
  }

  /** The file as it is on disk. */
  read(path: string): string {
    return readFileSync(join(this.workspace, path), "utf-8");
  }

  /** What the server's `vetted/status` says (from its observability port). */
  async serverStatus(): Promise<Record<string, any>> {
    const answer = await fetch(`http://127.0.0.1:${this.statusPort}/status`);
    return answer.json() as Promise<Record<string, any>>;
  }

  /** The server's log so far (`-v`). */
  serverLog(): string {
    return readFileSync(join(this.dir, "server.log"), "utf-8");
  }
}

/**
 * The window of a scenario file: opened before its tests, closed after them, and a
 * screenshot of it taken when a test fails (e2e/out/<scenario>-failed-<n>.png).
 */
export function useWindow(name: string, options: Options): () => Window {
  let window: Window | undefined;
  let failures = 0;
  beforeAll(async () => {
    window = await Window.open(name, options);
  });
  afterEach(async (context) => {
    if (context.task.result?.state === "fail" && window) {
      failures += 1;
      await window.shot(`failed-${failures}`).catch(() => undefined);
    }
  });
  afterAll(async () => {
    await window?.close();
    await closeBrowser();
  });
  return () => {
    if (!window) {
      throw new Error(`the window of ${name} did not open`);
    }
    return window;
  };
}
