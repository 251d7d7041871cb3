// code-server (VS Code 1.139 for the browser) on 127.0.0.1 in a fresh profile, with the
// extension installed from the .vsix run.sh built. One per run (vitest's globalSetup);
// every scenario opens its own workspace folder in it, so each gets its own window,
// extension host and `vetted serve`.
import { ChildProcess, spawn } from "node:child_process";
import { mkdirSync, openSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";

import type { TestProject } from "vitest/node" with { "resolution-mode": "import" };

export const E2E = __dirname;
export const TOOLS = join(E2E, "tools");
export const REPO = resolve(E2E, "..", "..", "..");

declare module "vitest" {
  export interface ProvidedContext {
    /** code-server's address, `http://127.0.0.1:PORT`. */
    codeServer: string;
    /** The run's folder: profile, logs, one workspace per scenario. */
    runRoot: string;
  }
}

/** Settings of the whole profile: a quiet workbench, nothing restored, no AI side panels. */
const USER_SETTINGS = {
  "workbench.startupEditor": "none",
  "workbench.tips.enabled": false,
  "workbench.secondarySideBar.defaultVisibility": "hidden",
  "security.workspace.trust.enabled": false,
  "files.hotExit": "off",
  "files.autoSave": "afterDelay",
  "telemetry.telemetryLevel": "off",
  "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": false,
  "extensions.ignoreRecommendations": true,
  "chat.disableAIFeatures": true,
  "update.mode": "none",
  "editor.minimap.enabled": false,
  "window.commandCenter": false,
  "git.openRepositoryInParentFolders": "never",
};

/** What code-server needs: Node 24 first on PATH, and `~` untouched (XDG dirs in `root`). */
function environment(root: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PATH: `${join(TOOLS, "node", "bin")}:${process.env.PATH ?? ""}`,
    XDG_CONFIG_HOME: join(root, "xdg", "config"),
    XDG_DATA_HOME: join(root, "xdg", "data"),
    XDG_STATE_HOME: join(root, "xdg", "state"),
    XDG_CACHE_HOME: join(root, "xdg", "cache"),
  };
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv, log: string,
             detached = false): ChildProcess {
  const out = openSync(log, "a");
  return spawn(command, args, { env, detached, stdio: ["ignore", out, out] });
}

async function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode ?? new Promise((done) => child.once("exit", (code) => done(code)));
}

/** A port nothing listens on now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const address = server.address();
  await new Promise((done) => server.close(done));
  if (address === null || typeof address === "string") {
    throw new Error("no free port");
  }
  return address.port;
}

async function healthy(url: string, child: ChildProcess, log: string): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`code-server exited with ${child.exitCode}; see ${log}`);
    }
    try {
      if ((await fetch(`${url}/healthz`)).ok) {
        return;
      }
    } catch {
      // Not listening yet.
    }
    await new Promise((done) => setTimeout(done, 250));
  }
  throw new Error(`code-server did not answer at ${url} in 90 s; see ${log}`);
}

/** vitest globalSetup: install the extension, start code-server, stop it afterwards. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const vsix = process.env.VETTED_VSIX;
  const root = process.env.VETTED_E2E_ROOT;
  if (!vsix || !root) {
    throw new Error("run the browser suite with e2e/run.sh (it sets VETTED_VSIX, VETTED_E2E_ROOT)");
  }
  const userData = join(root, "profile");
  mkdirSync(join(userData, "User"), { recursive: true });
  writeFileSync(join(userData, "User", "settings.json"), JSON.stringify(USER_SETTINGS, null, 2));
  const port = await freePort();
  const config = join(root, "code-server.yaml");
  writeFileSync(config, `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);
  const env = environment(root);
  const binary = join(TOOLS, "node_modules", ".bin", "code-server");
  const common = ["--config", config, "--user-data-dir", userData,
                  "--extensions-dir", join(root, "extensions")];
  const log = join(root, "code-server.log");
  const install = run(binary, [...common, "--install-extension", vsix], env, log);
  if (await exited(install) !== 0) {
    throw new Error(`could not install ${vsix}; see ${log}`);
  }
  const server = run(binary, [...common, "--disable-telemetry", "--disable-update-check",
                              "--disable-workspace-trust", "--disable-getting-started-override"],
                     env, log, true);
  const url = `http://127.0.0.1:${port}`;
  await healthy(url, server, log);
  project.provide("codeServer", url);
  project.provide("runRoot", root);
  return async () => {
    if (server.pid !== undefined && server.exitCode === null) {
      process.kill(-server.pid, "SIGTERM");
      await exited(server);
    }
  };
}
