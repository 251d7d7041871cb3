// Which item is shown, how much of it a partial accept took: signals.ts on its own.
import { beforeEach, describe, expect, it } from "vitest";

import { DISMISSED, PARTIALLY_ACCEPTED, ProtocolItem, SHOWN, Signals, toProtocolItem }
  from "../src/signals";

const URI = "file:///w/add.py";
/** `def add(a, b):\n` is 15 characters: the body line starts at offset 15. */
const HEAD = "def add(a, b):\n";

function item(insertText: string, id: string): ProtocolItem {
  return { insertText, command: { title: "", command: "vetted.accepted", arguments: [{ id }] } };
}

const FIRST = item("total = a + b\n    return total", "1");
const SECOND = item("return a + b", "2");

describe("signals", () => {
  let sent: [string, any][];
  let signals: Signals;
  beforeEach(() => {
    sent = [];
    signals = new Signals((method, params) => sent.push([method, params]));
  });

  it("reports the first item of a non-empty answer as shown, and nothing for an empty one", () => {
    signals.received(URI, [], []);
    signals.received(URI, [FIRST, SECOND], [19, 19]);
    expect(sent).toEqual([[SHOWN, { item: FIRST }]]);
  });

  it("cycles both ways around the list, in that document only", () => {
    signals.received(URI, [FIRST, SECOND], [19, 19]);
    signals.cycled(URI, 1);
    signals.cycled(URI, 1);
    signals.cycled(URI, -1);
    signals.cycled(URI, -1);
    signals.cycled("file:///w/other.py", 1);
    expect(sent.map(([, params]) => params.item)).toEqual([FIRST, SECOND, FIRST, SECOND, FIRST]);
  });

  it("keeps the alternative on screen when a new answer holds it again (Alt+] fetching all)", () => {
    signals.received(URI, [FIRST, SECOND], [19, 19]);
    signals.cycled(URI, 1);
    const again = item("return a + b", "3");
    signals.received(URI, [item("x", "4"), again], [19, 19]);
    expect(sent.at(-1)).toEqual([SHOWN, { item: again }]);
    signals.cycled(URI, 1);
    expect(sent.at(-1)?.[1].item.insertText).toBe("x");
  });

  it("measures a partial accept from the item's start, cumulatively for the item shown", () => {
    signals.received(URI, [FIRST, SECOND], [19, 19]);
    const word = HEAD + "    total\n";
    expect(signals.partiallyAccepted({ uri: URI, text: word, end: 24 })).toBe(5);
    const line = HEAD + "    total = a + b\n\n";
    expect(signals.partiallyAccepted({ uri: URI, text: line, end: 33 })).toBe(14);
    expect(sent.filter(([method]) => method === PARTIALLY_ACCEPTED)).toEqual([
      [PARTIALLY_ACCEPTED, { item: FIRST, acceptedLength: 5 }],
      [PARTIALLY_ACCEPTED, { item: FIRST, acceptedLength: 14 }],
    ]);
  });

  it("measures from the server's answer for the rest once VS Code shows it", () => {
    signals.received(URI, [FIRST, SECOND], [19, 19]);
    signals.partiallyAccepted({ uri: URI, text: HEAD + "    total\n", end: 24 });
    // VS Code asks again at the new cursor; the server answers the rest.
    const rest = item(" = a + b\n    return total", "5");
    signals.received(URI, [rest], [24]);
    const line = HEAD + "    total = a + b\n\n";
    expect(signals.partiallyAccepted({ uri: URI, text: line, end: 33 })).toBe(9);
    expect(sent.at(-1)).toEqual([PARTIALLY_ACCEPTED, { item: rest, acceptedLength: 9 }]);
  });

  it("goes on with the item a partial accept took from when the new answer does not fit", () => {
    signals.received(URI, [FIRST, SECOND], [19, 19]);
    signals.partiallyAccepted({ uri: URI, text: HEAD + "    total\n", end: 24 });
    signals.received(URI, [item("print(a)", "6")], [24]);
    const line = HEAD + "    total = a + b\n\n";
    expect(signals.partiallyAccepted({ uri: URI, text: line, end: 33 })).toBe(14);
    expect(sent.at(-1)).toEqual([PARTIALLY_ACCEPTED, { item: FIRST, acceptedLength: 14 }]);
  });

  it("counts text the item's range replaces before the cursor as accepted", () => {
    const indented = item("    return a + b", "6");
    signals.received(URI, [indented], [15]);
    expect(signals.partiallyAccepted({ uri: URI, text: HEAD + "    return\n", end: 25 })).toBe(10);
  });

  it("reports nothing when no item starts with what was inserted", () => {
    signals.received(URI, [FIRST, SECOND], [19, 19]);
    expect(signals.partiallyAccepted({ uri: URI, text: HEAD + "    print\n", end: 24 }))
      .toBeUndefined();
    expect(signals.partiallyAccepted({ uri: "file:///w/b.py", text: HEAD + "    total\n", end: 24 }))
      .toBeUndefined();
    expect(sent).toHaveLength(1);
  });

  it("reports the shown item dismissed, once", () => {
    signals.received(URI, [FIRST, SECOND], [19, 19]);
    signals.cycled(URI, 1);
    signals.dismissed(URI);
    signals.dismissed(URI);
    expect(sent.at(-1)).toEqual([DISMISSED, { item: SECOND }]);
    expect(sent).toHaveLength(3);
  });

  it("sends items in the wire shape: plain ranges, snippet values, the server's command", () => {
    const position = (line: number, character: number) => ({ line, character, toJSON: () => [] });
    const command = { title: "t", command: "vetted.accepted", arguments: [{ id: "7" }] };
    expect(toProtocolItem({
      insertText: { value: "return ${1:x}" }, filterText: "ret",
      range: { start: position(1, 4), end: position(1, 6) }, command,
    })).toEqual({
      insertText: "return ${1:x}", filterText: "ret", command,
      range: { start: { line: 1, character: 4 }, end: { line: 1, character: 6 } },
    });
  });
});
