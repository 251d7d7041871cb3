// The extension's behaviour: start the server, keep the status bar current, run commands.
import type { LanguageClient } from "vscode-languageclient/node";

import { InlineObserver } from "./client";
import { serverSettings } from "./settings";
import { CodeItem, Signals, toProtocolItem } from "./signals";
import { State, statusView } from "./status";
import { Host, StatusItem } from "./vscodeapi";

export const COMMANDS = {
  toggle: "vetted.toggle",
  showAlternatives: "vetted.showAlternatives",
  generateTests: "vetted.generateTestsAtCursor",
  showLog: "vetted.showLog",
  acceptNextWord: "vetted.acceptNextWord",
  acceptNextLine: "vetted.acceptNextLine",
  showNext: "vetted.showNext",
  showPrevious: "vetted.showPrevious",
  dismiss: "vetted.dismiss",
} as const;

/** VS Code's own inline suggestion commands, which ours run before telling the server. */
const INLINE = "editor.action.inlineSuggest";

/** The server command the generateTests command runs (lsp_server/convert.py). */
export const SERVER_GENERATE_TESTS = "vetted.generateTests";

type ClientFactory = (observer: InlineObserver) => LanguageClient;

interface StatusReply {
  state: State["server"];
  model: string;
  error: string;
}

export class Controller implements InlineObserver {
  readonly state: State = { server: "starting", enabled: true, busy: 0 };
  client: LanguageClient | undefined;
  private readonly item: StatusItem;
  private poll: ReturnType<typeof setInterval> | undefined;
  private readonly signals = new Signals((method, params) => this.notify(method, params));

  constructor(private readonly host: Host, private readonly makeClient: ClientFactory) {
    this.item = host.statusItem();
    this.item.command = COMMANDS.toggle;
    this.state.enabled = host.read("enabled") !== false;
    this.render();
    this.item.show();
  }

  /** Start the server and follow its model state until it is ready or failed. */
  async start(): Promise<void> {
    this.client = this.makeClient(this);
    await this.client.start();
    this.poll = setInterval(() => void this.refresh(), 1000);
    await this.refresh();
  }

  async stop(): Promise<void> {
    if (this.poll !== undefined) {
      clearInterval(this.poll);
    }
    this.state.server = "stopped";
    const client = this.client;
    this.client = undefined;
    if (client) {
      await client.stop();
    }
    this.item.dispose();
  }

  /** Ask `vetted/status` and show the state; stop asking once the model is settled. */
  async refresh(): Promise<void> {
    if (!this.client) {
      return;
    }
    try {
      const status = await this.client.sendRequest<StatusReply>("vetted/status", {});
      this.state.server = status.state;
      this.state.model = status.model;
      this.state.error = status.error;
    } catch (error) {
      this.state.server = "failed";
      this.state.error = String(error);
    }
    if ((this.state.server === "ready" || this.state.server === "failed") && this.poll) {
      clearInterval(this.poll);
      this.poll = undefined;
    }
    this.render();
  }

  /** Settings changed: send the new ones (the server reloads the model when it must). */
  async settingsChanged(): Promise<void> {
    this.state.enabled = this.host.read("enabled") !== false;
    this.render();
    await this.client?.sendNotification("workspace/didChangeConfiguration", {
      settings: { vetted: serverSettings(this.host.read) },
    });
    if (!this.poll) {
      this.poll = setInterval(() => void this.refresh(), 1000);
    }
  }

  toggle(): boolean {
    this.state.enabled = !this.state.enabled;
    this.render();
    this.host.info(`vetted: suggestions ${this.state.enabled ? "on" : "off"}`);
    return this.state.enabled;
  }

  /** Show the suggestion at the cursor and its alternatives (Alt+] / Alt+[ cycle them). */
  async showAlternatives(): Promise<void> {
    await this.host.executeCommand("editor.action.inlineSuggest.trigger");
    await this.host.executeCommand("editor.action.inlineSuggest.showNext");
  }

  /** Generate tests for the function at the cursor; the server writes them (applyEdit). */
  async generateTests(): Promise<unknown> {
    const cursor = this.host.cursor();
    if (!cursor || !this.client) {
      this.host.warn("vetted: put the cursor in a Python function first");
      return undefined;
    }
    try {
      const result = await this.client.sendRequest<Record<string, any>>(
        "workspace/executeCommand",
        { command: SERVER_GENERATE_TESTS,
          arguments: [cursor.uri, { line: cursor.line, character: cursor.character }] },
      );
      this.report(result);
      return result;
    } catch (error) {
      this.host.error(`vetted: test generation failed: ${String(error)}`);
      return undefined;
    }
  }

  /** Accept the next word or line of the suggestion; returns the accepted length told. */
  async acceptNext(unit: "Word" | "Line"): Promise<number | undefined> {
    const edited = await this.host.runEdit(`${INLINE}.acceptNext${unit}`);
    return edited && this.signals.partiallyAccepted(edited);
  }

  /** Alt+] / Alt+[: show the next (1) or previous (-1) alternative. */
  async cycle(delta: 1 | -1): Promise<void> {
    await this.host.executeCommand(`${INLINE}.${delta > 0 ? "showNext" : "showPrevious"}`);
    const cursor = this.host.cursor();
    if (cursor) {
      this.signals.cycled(cursor.uri, delta);
    }
  }

  /** Escape: hide the suggestion and tell the server it was dismissed. */
  async dismiss(): Promise<void> {
    await this.host.executeCommand(`${INLINE}.hide`);
    const cursor = this.host.cursor();
    if (cursor) {
      this.signals.dismissed(cursor.uri);
    }
  }

  showLog(): void {
    this.client?.outputChannel.show();
  }

  enabled(): boolean {
    return this.state.enabled;
  }

  started(): void {
    this.state.busy += 1;
    this.render();
  }

  finished(milliseconds: number): void {
    this.state.busy = Math.max(0, this.state.busy - 1);
    this.state.lastLatencyMs = milliseconds;
    this.render();
  }

  received(uri: string, items: CodeItem[], starts: number[]): void {
    this.signals.received(uri, items.map(toProtocolItem), starts);
  }

  private notify(method: string, params: object): void {
    const client = this.client;
    client?.sendNotification(method, params).catch((error: unknown) => {
      client.warn(`could not send ${method}`, error, false);
    });
  }

  private report(result: Record<string, any>): void {
    if (result.cancelled) {
      this.host.info("vetted: test generation cancelled; nothing was written");
      return;
    }
    const count = result.delivered.length;
    this.host.info(
      `vetted: ${count} test${count === 1 ? "" : "s"} for ${result.function} in ` +
      `${result.testFile}, coverage ${result.coverageBefore.percent}% → ` +
      `${result.coverageAfter.percent}%`,
    );
    for (const bug of result.bugs) {
      this.host.warn(`vetted: probable bug in ${result.function}: the docstring says ` +
                     `${bug.example}, but ${bug.error}`);
    }
  }

  private render(): void {
    const view = statusView(this.state);
    this.item.text = view.text;
    this.item.tooltip = view.tooltip;
    this.item.backgroundColor = view.error ? this.host.errorColor() : undefined;
  }
}
