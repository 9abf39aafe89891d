/**
 * Connect-style envelopes over a byte stream: 1 flag byte, 4-byte big-endian length, payload.
 * Attachment envelopes (raw bytes) precede the JSON packet that refers to them.
 */

export const FLAG_JSON = 0x00;
/** The packet's JSON holds typed values ("__snakepit__" objects) that need reviving. */
export const FLAG_TYPED = 0x10;
export const FLAG_ATTACHMENT = 0x80;
const MAX_FRAME = 2 ** 31;

/** One decoded JSON packet with the attachments sent before it. */
export interface RawPacket {
  flags: number;
  json: string;
  attachments: Uint8Array[];
}

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

/**
 * Small packets are encoded into one long-lived scratch buffer and copied out with `slice`: a
 * fresh small Uint8Array costs far more once it is viewed (`subarray`, `.buffer`, DataView: the
 * engine then gives it its own ArrayBuffer) than one copy of a few hundred bytes.
 */
let scratch = new Uint8Array(1 << 16);
let scratchBody = scratch.subarray(5);

function putHeader(out: Uint8Array, at: number, flags: number, length: number): void {
  out[at] = flags;
  out[at + 1] = length >>> 24;
  out[at + 2] = (length >>> 16) & 0xff;
  out[at + 3] = (length >>> 8) & 0xff;
  out[at + 4] = length & 0xff;
}

/** Encode a JSON packet and its attachments into one buffer, ready for a single write. */
export function encodePacket(json: string, attachments: readonly Uint8Array[] = [], typed = false): Uint8Array {
  if (attachments.length === 0 && json.length * 3 + 5 <= 1 << 20) {
    if (scratch.length < json.length * 3 + 5) {
      scratch = new Uint8Array(1 << 20);
      scratchBody = scratch.subarray(5);
    }
    const { written } = encoder.encodeInto(json, scratchBody);
    putHeader(scratch, 0, typed ? FLAG_TYPED : FLAG_JSON, written);
    return scratch.slice(0, 5 + written);
  }
  const body = encoder.encode(json);
  let size = 5 + body.length;
  for (const a of attachments) size += 5 + a.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const a of attachments) {
    putHeader(out, at, FLAG_ATTACHMENT, a.length);
    out.set(a, at + 5);
    at += 5 + a.length;
  }
  putHeader(out, at, typed ? FLAG_TYPED : FLAG_JSON, body.length);
  out.set(body, at + 5);
  return out;
}

/** Incremental decoder: feed chunks, get whole packets. Large frames fill one buffer in place. */
export class FrameDecoder {
  #rest: Uint8Array = EMPTY;
  #big: Uint8Array | undefined;
  #bigFill = 0;
  #attachments: Uint8Array[] = [];
  /** BOMs are kept (a packet never starts with one): slices of one decode and lone decodes agree. */
  readonly #decoder = new TextDecoder("utf-8", { ignoreBOM: true });

  /** Append a chunk and return every packet completed by it. */
  push(chunk: Uint8Array): RawPacket[] {
    const out: RawPacket[] = [];
    if (this.#big) {
      const take = Math.min(this.#big.length - this.#bigFill, chunk.length);
      this.#big.set(chunk.subarray(0, take), this.#bigFill);
      this.#bigFill += take;
      if (this.#bigFill < this.#big.length) return out;
      const frame = this.#big;
      this.#big = undefined;
      this.#emit(frame[0]!, frame.subarray(5), out, true);
      chunk = chunk.subarray(take);
      if (chunk.length === 0) return out;
    }
    let buf: Uint8Array;
    if (this.#rest.length === 0) {
      buf = chunk;
    } else {
      buf = new Uint8Array(this.#rest.length + chunk.length);
      buf.set(this.#rest);
      buf.set(chunk, this.#rest.length);
    }
    let at = 0;
    // JSON packets of one chunk are decoded with one TextDecoder call (see #text below).
    let text = "";
    let textAt = -1;
    let textEnd = -1;
    while (buf.length - at >= 5) {
      const flags = buf[at]!;
      const length = buf[at + 1]! * 0x1000000 + (buf[at + 2]! << 16) + (buf[at + 3]! << 8) + buf[at + 4]!;
      if (length > MAX_FRAME) throw new Error(`frame of ${length} bytes is over the limit`);
      if (buf.length - at - 5 < length) {
        if (length > 1 << 16) {
          this.#big = new Uint8Array(5 + length);
          this.#big.set(buf.subarray(at));
          this.#bigFill = buf.length - at;
          at = buf.length;
        }
        break;
      }
      const start = at + 5;
      at = start + length;
      if (flags & FLAG_ATTACHMENT) {
        this.#emit(flags, buf.subarray(start, at), out, false);
        continue;
      }
      if (at > textEnd) [text, textAt, textEnd] = this.#text(buf, start);
      const json = textAt >= 0 ? text.slice(start - textAt, at - textAt) : this.#decoder.decode(buf.subarray(start, at));
      this.#packet(out, flags, json);
    }
    this.#rest = at === buf.length ? EMPTY : buf.slice(at);
    return out;
  }

  /**
   * The whole JSON frames of `buf` from `from` on (up to an attachment), decoded as one string, the
   * byte offset it starts at (-1 when a character took more than one byte: each packet is then
   * decoded on its own) and the offset it ends at.
   * With one char per byte, string offsets are byte offsets: header bytes in between decode to one
   * char each (ASCII, or U+FFFD for a lone byte ≥ 0x80) and are never part of a packet's slice.
   */
  #text(buf: Uint8Array, from: number): [string, number, number] {
    let end = from;
    for (let at = from - 5; buf.length - at >= 5 && !(buf[at]! & FLAG_ATTACHMENT);) {
      const length = buf[at + 1]! * 0x1000000 + (buf[at + 2]! << 16) + (buf[at + 3]! << 8) + buf[at + 4]!;
      if (buf.length - at - 5 < length) break;
      at += 5 + length;
      end = at;
    }
    const text = this.#decoder.decode(buf.subarray(from, end));
    return [text, text.length === end - from ? from : -1, end];
  }

  #emit(flags: number, payload: Uint8Array, out: RawPacket[], owned: boolean): void {
    if (flags & FLAG_ATTACHMENT) {
      // Copy unless we own the bytes: the reader may reuse its chunk buffers.
      this.#attachments.push(owned ? payload : payload.slice());
      return;
    }
    this.#packet(out, flags, this.#decoder.decode(payload));
  }

  /** A packet takes the attachments sent before it (a packet without any gets its own empty list). */
  #packet(out: RawPacket[], flags: number, json: string): void {
    const attachments = this.#attachments;
    if (attachments.length) this.#attachments = [];
    out.push({ flags, json, attachments: attachments.length ? attachments : [] });
  }

  /** Bytes received but not yet forming a packet. */
  get pendingBytes(): number {
    return this.#rest.length + (this.#big ? this.#bigFill : 0);
  }
}
