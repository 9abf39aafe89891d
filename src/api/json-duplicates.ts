/**
 * Duplicate object keys in request JSON. JSON.parse keeps the last of two equal keys without a
 * word, so `{"tool":"echo","tool":"rm"}` would run whichever a reader happens to pick; we refuse
 * such bodies. Detection is free on the hot path (the depth scan counts key separators, the
 * shape walk counts parsed keys: fewer parsed keys means duplicates); this module runs only then,
 * to name the key.
 */

import { SnakepitError } from "../errors.ts";

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Where the JSON string starting at `start` (a quote) ends: the index after its closing quote. */
function stringEnd(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === BACKSLASH) i++;
    else if (ch === QUOTE) return i + 1;
  }
  return text.length;
}

/** The first key that appears twice in one object of `text` (valid JSON), with its object's path. */
export function firstDuplicateKey(text: string): { key: string; path: string } | undefined {
  // One frame per open container: its keys (objects only) and its path for the message.
  const stack: Array<{ keys: Set<string> | undefined; path: string }> = [];
  let lastKey = "";
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === "{" || ch === "[") {
      const parent = stack[stack.length - 1];
      const path = parent ? (parent.keys ? `${parent.path}.${lastKey}` : `${parent.path}[]`) : "body";
      stack.push({ keys: ch === "{" ? new Set() : undefined, path });
    } else if (ch === "}" || ch === "]") {
      stack.pop();
    } else if (ch === '"') {
      const end = stringEnd(text, i);
      const top = stack[stack.length - 1];
      let j = end;
      while (j < text.length && " \t\r\n".includes(text[j]!)) j++;
      if (top?.keys && text[j] === ":") {
        const key = JSON.parse(text.slice(i, end)) as string;
        if (top.keys.has(key)) return { key, path: top.path };
        top.keys.add(key);
        lastKey = key;
      }
      i = end - 1;
    }
  }
  return undefined;
}

/** The invalid_argument error for a body whose objects repeat a key. */
export function duplicateKeyError(text: string): SnakepitError {
  const found = firstDuplicateKey(text);
  const where = found ? `${found.path} has the key "${found.key}" twice` : "an object repeats a key";
  return new SnakepitError("invalid_argument", `Request body is ambiguous: ${where} (JSON readers disagree on which one counts; send each key once)`, {
    details: { field: found ? `${found.path}.${found.key}` : "body" },
  });
}
