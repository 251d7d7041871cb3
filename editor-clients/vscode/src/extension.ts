// Wiring only: build the controller, register the commands, follow settings changes.
import * as vscode from "vscode";

import { createClient } from "./client";
import { COMMANDS, Controller } from "./controller";
import { vscodeHost } from "./vscodeapi";

let controller: Controller | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<Controller> {
  const host = vscodeHost();
  const output = host.output();
  const running = new Controller(host, (observer) => createClient(host.read, output, observer));
  controller = running;
  context.subscriptions.push(
    output,
    host.registerCommand(COMMANDS.toggle, () => running.toggle()),
    host.registerCommand(COMMANDS.showAlternatives, () => running.showAlternatives()),
    host.registerCommand(COMMANDS.generateTests, () => running.generateTests()),
    host.registerCommand(COMMANDS.showLog, () => running.showLog()),
    host.registerCommand(COMMANDS.acceptNextWord, () => running.acceptNext("Word")),
    host.registerCommand(COMMANDS.acceptNextLine, () => running.acceptNext("Line")),
    host.registerCommand(COMMANDS.showNext, () => running.cycle(1)),
    host.registerCommand(COMMANDS.showPrevious, () => running.cycle(-1)),
    host.registerCommand(COMMANDS.dismiss, () => running.dismiss()),
    host.onSettingsChanged(() => void running.settingsChanged()),
  );
  try {
    await running.start();
  } catch (error) {
    running.state.server = "failed";
    running.state.error = `could not start the server: ${String(error)}`;
    host.error(`vetted: ${running.state.error} (set vetted.server.path)`);
  }
  return running;
}

export async function deactivate(): Promise<void> {
  const running = controller;
  controller = undefined;
  await running?.stop();
}
