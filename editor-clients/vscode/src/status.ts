// What the status bar item says, from what the extension knows. Pure: no `vscode` import.

export interface State {
  /** "starting" until the server answers, then the model state from `vetted/status`. */
  server: "starting" | "idle" | "loading" | "ready" | "failed" | "stopped";
  /** Suggestions switched on (the item toggles them). */
  enabled: boolean;
  /** Model in use, as the server describes it. */
  model?: string;
  /** The server's last error (a model that failed to load). */
  error?: string;
  /** Inline requests in flight. */
  busy: number;
  /** Milliseconds the last inline request took. */
  lastLatencyMs?: number;
}

export interface View {
  text: string;
  tooltip: string;
  error: boolean;
}

/** The status bar item's text (with a codicon), tooltip and whether it shows an error. */
export function statusView(state: State): View {
  const model = state.model ? `\nModel: ${state.model}` : "";
  const toggle = `\nClick to turn suggestions ${state.enabled ? "off" : "on"}.`;
  if (state.server === "failed" || state.server === "stopped") {
    const why = state.error || (state.server === "stopped" ? "the server stopped" : "failed");
    return { text: "$(error) vetted", tooltip: `vetted: ${why}${toggle}`, error: true };
  }
  if (state.server !== "ready") {
    const doing = state.server === "loading" ? "loading the model" : "starting";
    return { text: "$(sync~spin) vetted", tooltip: `vetted: ${doing}…${model}`, error: false };
  }
  if (!state.enabled) {
    return { text: "$(circle-slash) vetted", tooltip: `vetted: suggestions off${model}${toggle}`,
             error: false };
  }
  const latency = state.lastLatencyMs === undefined ? "" : ` ${Math.round(state.lastLatencyMs)} ms`;
  const icon = state.busy > 0 ? "$(loading~spin)" : "$(check)";
  return {
    text: `${icon} vetted${latency}`,
    tooltip: `vetted: ready${model}${latency ? `\nLast suggestion:${latency}` : ""}${toggle}`,
    error: false,
  };
}
