// What the user does with a suggestion, told to the server: shown, partly accepted, dismissed
// (whole acceptance is the item's own `vetted.accepted` command). Pure: no `vscode` import.
//
// Stable VS Code does not say which item it displays or how much of it a partial accept
// took (`handleDidPartiallyAcceptCompletionItem` is a proposed API), so this module keeps the
// items the middleware last returned and works both out from what it can see: the item's
// position in the list (cycled by our own Alt+] / Alt+[ commands) and the document's text
// after the built-in partial accept ran.

export const SHOWN = "textDocument/didShowCompletion";
export const PARTIALLY_ACCEPTED = "textDocument/didPartiallyAcceptCompletion";
export const DISMISSED = "vetted/didDismissCompletion";

interface Position {
  line: number;
  character: number;
}

interface Range {
  start: Position;
  end: Position;
}

interface Command {
  title: string;
  command: string;
  arguments?: unknown[];
}

/** An inline item as the server sent it (LSP's InlineCompletionItem). */
export interface ProtocolItem {
  insertText: string;
  filterText?: string;
  range?: Range;
  command?: Command;
}

/** What `vscode.InlineCompletionItem` looks like, as far as this module reads it. */
export interface CodeItem {
  insertText: string | { value: string };
  filterText?: string;
  range?: Range;
  command?: Command;
}

/** The document after an edit: its text and the offset where the edit's inserted text ends. */
export interface Edited {
  uri: string;
  text: string;
  end: number;
}

export type Notify = (method: string, params: object) => unknown;

/** Back to the wire shape: vscode's Range and Position serialize as arrays, not objects. */
export function toProtocolItem(item: CodeItem): ProtocolItem {
  const wire: ProtocolItem = {
    insertText: typeof item.insertText === "string" ? item.insertText : item.insertText.value,
  };
  if (item.filterText !== undefined) {
    wire.filterText = item.filterText;
  }
  if (item.range) {
    const { start, end } = item.range;
    wire.range = {
      start: { line: start.line, character: start.character },
      end: { line: end.line, character: end.character },
    };
  }
  if (item.command) {
    const { title, command, arguments: args } = item.command;
    wire.command = args === undefined ? { title, command } : { title, command, arguments: args };
  }
  return wire;
}

/** An item and the document offset its insertText starts at (its range's start). */
interface Placed {
  item: ProtocolItem;
  start: number;
}

interface Listed {
  uri: string;
  placed: Placed[];
  /** The item believed on screen. */
  index: number;
}

export class Signals {
  private listed: Listed | undefined;
  /** The item a partial accept took from last; the next one continues it. */
  private accepting: { uri: string; placed: Placed } | undefined;

  constructor(private readonly notify: Notify) {}

  /**
   * The middleware returned `items` for `uri` (`starts`: where each one's text begins).
   * VS Code shows the first, or keeps the one it showed when a new list holds it again
   * (as when Alt+] asks for every alternative).
   */
  received(uri: string, items: ProtocolItem[], starts: number[]): void {
    if (items.length === 0) {
      return;
    }
    const placed = items.map((item, i) => ({ item, start: starts[i] }));
    const before = this.shownPlaced(uri);
    const kept = before === undefined ? -1 : placed.findIndex(
      ({ item, start }) => item.insertText === before.item.insertText && start === before.start);
    this.listed = { uri, placed, index: Math.max(kept, 0) };
    this.notify(SHOWN, { item: placed[this.listed.index].item });
  }

  /** Alt+] (`delta` 1) or Alt+[ (-1) moved to another alternative. */
  cycled(uri: string, delta: number): void {
    const listed = this.listed;
    if (!listed || listed.uri !== uri) {
      return;
    }
    const count = listed.placed.length;
    listed.index = (((listed.index + delta) % count) + count) % count;
    this.notify(SHOWN, { item: listed.placed[listed.index].item });
  }

  /**
   * A built-in partial accept changed the document: find the item whose insertText starts
   * with what now stands between its start and the end of the edit, and report that length
   * (UTF-16 code units, cumulative for that item). Returns it, or undefined when no item
   * matches.
   */
  partiallyAccepted(edited: Edited): number | undefined {
    // The item on screen first: after an accept VS Code asks again and shows the server's
    // answer for the rest (which the server counts as the same suggestion going on); the
    // item a previous partial accept took from while no new answer has come.
    const candidates: Placed[] = [];
    const shown = this.shownPlaced(edited.uri);
    if (shown) {
      candidates.push(shown);
    }
    if (this.accepting?.uri === edited.uri) {
      candidates.push(this.accepting.placed);
    }
    if (this.listed?.uri === edited.uri) {
      candidates.push(...this.listed.placed);
    }
    for (const placed of candidates) {
      if (placed.start > edited.end) {
        continue;
      }
      const accepted = edited.text.slice(placed.start, edited.end);
      if (accepted.length > 0 && placed.item.insertText.startsWith(accepted)) {
        this.accepting = { uri: edited.uri, placed };
        this.notify(PARTIALLY_ACCEPTED, { item: placed.item, acceptedLength: accepted.length });
        return accepted.length;
      }
    }
    return undefined;
  }

  /** Escape hid the suggestion: the server should not offer it there again. */
  dismissed(uri: string): void {
    const shown = this.shownPlaced(uri);
    if (!shown) {
      return;
    }
    this.listed = undefined;
    this.accepting = undefined;
    this.notify(DISMISSED, { item: shown.item });
  }

  private shownPlaced(uri: string): Placed | undefined {
    const listed = this.listed;
    return listed?.uri === uri ? listed.placed[listed.index] : undefined;
  }
}
