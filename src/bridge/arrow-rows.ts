/**
 * The row count of an Arrow IPC buffer without apache-arrow: the lengths in the record batch
 * headers, summed; bodies are skipped, never read. Every length is bounds-checked (hostile bytes
 * give `invalid_argument`). The Python twin is `ArrowIPC.num_rows` in snakepit_bridge/arrow_ipc.py.
 */

import { bad, Flat } from "./arrow-schema.ts";

const RECORD_BATCH = 3;

/** Rows in the record batches of a stream- or file-format IPC buffer (its schema already read). */
export function arrowRowCount(bytes: Uint8Array): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.byteLength;
  const file = n >= 18 && new TextDecoder().decode(bytes.subarray(0, 6)) === "ARROW1";
  const end = file ? n - 10 - view.getInt32(n - 10, true) : n; // a file's messages stop at its footer
  if (end < 0 || end > n) throw bad(`footer length does not fit the ${n}-byte file`);
  let at = file ? 8 : 0;
  let rows = 0;
  while (at + 4 <= end) {
    let len = view.getInt32(at, true);
    at += 4;
    if (len === -1) {
      if (at + 4 > end) break;
      len = view.getInt32(at, true);
      at += 4;
    }
    if (len === 0) break; // end of stream
    if (len < 0 || at + len > end) throw bad(`message length ${len} at offset ${at} runs past the end (${end} bytes)`);
    const f = new Flat(bytes.subarray(at, at + len));
    const msg = f.ref(0, "message");
    const body = f.int(msg, 3, 8, 0);
    if (f.int(msg, 1, 1, 0) === RECORD_BATCH) {
      const batch = f.table(msg, 2);
      if (batch) rows += f.int(batch, 0, 8, 0);
    }
    if (body < 0 || at + len + body > end) throw bad(`a message body of ${body} bytes at offset ${at + len} runs past the end (${end} bytes)`);
    at += len + body;
  }
  return rows;
}
