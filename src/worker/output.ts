/** Worker stdout/stderr lines: kept in a small ring for error messages, forwarded as logs. */

/** Keeps the last `max` lines of a stream of text chunks. */
export class OutputTail {
  readonly #lines: string[] = [];
  readonly #max: number;
  #partial = "";

  constructor(max = 40) {
    this.#max = max;
  }

  /** Add a chunk; returns the complete lines it finished. */
  push(text: string): string[] {
    const parts = (this.#partial + text).split("\n");
    this.#partial = parts.pop() ?? "";
    for (const line of parts) {
      this.#lines.push(line);
      if (this.#lines.length > this.#max) this.#lines.shift();
    }
    return parts;
  }

  /** The last lines, including an unfinished one. */
  text(maxLines = 20): string {
    const all = this.#partial ? [...this.#lines, this.#partial] : this.#lines;
    return all.slice(-maxLines).join("\n");
  }
}

/** Read a byte stream to its end, calling `onChunk` for each chunk. */
export async function pump(stream: ReadableStream<Uint8Array>, onChunk: (chunk: Uint8Array) => void): Promise<void> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      onChunk(value);
    }
  } catch {
    // The pipe broke: the process is gone, `exited` says how.
  } finally {
    reader.releaseLock();
  }
}
