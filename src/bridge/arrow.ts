/**
 * Arrow IPC across the bridge. An `ArrowIPC` (from `arrowIPC(bytes)`) or an apache-arrow `Table`
 * travels like bytes: through shared memory above the threshold, else as a pipe attachment; the
 * packet carries its schema (field names, types, nullability), read from the IPC's schema
 * message, never from the record batches. Python gets a `pyarrow.Table` (or, without pyarrow, an
 * object with `.schema` and `.buffer`); Arrow results come back as `ArrowIPC`, whose `toTable()`
 * gives an apache-arrow `Table` over the same memory. apache-arrow is optional: only `Table`
 * arguments and `toTable()` need it (Bun loads it on demand; under Deno, `await loadArrow()`).
 */

import { SnakepitError } from "../errors.ts";
import { arrowRowCount } from "./arrow-rows.ts";
import { type ArrowSchema, parseArrowSchema } from "./arrow-schema.ts";
import { isMapped, releaseMapping } from "./shm-lifecycle.ts";

export type { ArrowField, ArrowSchema } from "./arrow-schema.ts";

/** The parts of apache-arrow used here. */
export interface ArrowModule {
  Table: new (...args: never[]) => object;
  tableToIPC(table: object, format?: "stream" | "file"): Uint8Array;
  tableFromIPC(bytes: Uint8Array): object;
}

const SPECIFIER = "apache-arrow";
let arrow: ArrowModule | undefined;

/** Load apache-arrow (an optional peer dependency) for `Table` arguments and `toTable()`. */
export async function loadArrow(): Promise<ArrowModule> {
  if (arrow) return arrow;
  try {
    arrow = (await import(SPECIFIER)) as ArrowModule;
  } catch (cause) {
    throw new SnakepitError("invalid_argument", `apache-arrow is not installed (npm i apache-arrow): ${(cause as Error).message}`, { cause });
  }
  return arrow;
}

/** apache-arrow, loaded synchronously where the runtime can (Bun: the same ES module instance). */
function arrowModule(): ArrowModule {
  if (arrow) return arrow;
  const meta = import.meta as unknown as { require?: (id: string) => unknown; resolve?: (id: string) => string };
  try {
    if (!meta.require || !meta.resolve) throw new Error("this runtime cannot load modules synchronously");
    arrow = meta.require(new URL(meta.resolve(SPECIFIER)).pathname) as ArrowModule;
    return arrow;
  } catch (cause) {
    throw new SnakepitError("invalid_argument", `Arrow tables need apache-arrow (${(cause as Error).message}): install it and, under Deno, call \`await loadArrow()\` first, or pass arrowIPC(bytes)`, {
      cause,
      details: { field: "arrow" },
    });
  }
}

/** An Arrow IPC buffer (stream or file format) with its schema. */
export class ArrowIPC {
  #bytes: Uint8Array | undefined;
  #rows: number | undefined;
  readonly schema: ArrowSchema;
  readonly byteLength: number;

  /** Wrap IPC bytes (no copy); throws `invalid_argument` naming what is wrong if they are not Arrow IPC. */
  constructor(bytes: Uint8Array, schema?: ArrowSchema) {
    this.schema = schema ?? parseArrowSchema(bytes);
    this.#bytes = bytes;
    this.byteLength = bytes.byteLength;
  }

  /** Rows in the record batches (their headers summed; apache-arrow not needed). Throws once released. */
  get numRows(): number {
    return (this.#rows ??= arrowRowCount(this.bytes));
  }

  /** The IPC bytes. Throws once released. */
  get bytes(): Uint8Array {
    if (!this.#bytes) {
      throw new SnakepitError("invalid_argument", `This Arrow IPC buffer (${this.byteLength} bytes) was released`, { details: { field: "arrow", released: true } });
    }
    return this.#bytes;
  }

  get released(): boolean {
    return this.#bytes === undefined;
  }

  /** True while the bytes are a shared-memory mapping (a big result from a worker). */
  get shared(): boolean {
    return !!this.#bytes && isMapped(this.#bytes.buffer);
  }

  /**
   * An apache-arrow `Table` over these bytes (no copy of the columns). It reads the same memory:
   * after `release()` its columns read as empty.
   */
  toTable<T = unknown>(): T {
    const bytes = this.bytes;
    try {
      return arrowModule().tableFromIPC(bytes) as T;
    } catch (cause) {
      if (cause instanceof SnakepitError) throw cause;
      throw new SnakepitError("invalid_argument", `apache-arrow cannot read this IPC buffer: ${(cause as Error).message}`, { cause, details: { field: "arrow" } });
    }
  }

  /** Free the memory now (shared-memory results: the segment goes); returns the bytes freed. */
  release(): number {
    const b = this.#bytes;
    this.#bytes = undefined;
    return b ? releaseMapping(b.buffer) : 0;
  }

  [Symbol.dispose](): void {
    this.release();
  }

  toJSON(): { arrow: ArrowSchema; byteLength: number } {
    return { arrow: this.schema, byteLength: this.byteLength };
  }
}

/** Mark bytes as Arrow IPC so they travel with their schema; `ArrowIPC` values pass through. */
export function arrowIPC(bytes: Uint8Array | ArrayBuffer | ArrowIPC): ArrowIPC {
  if (bytes instanceof ArrowIPC) return bytes;
  if (bytes instanceof ArrayBuffer) return new ArrowIPC(new Uint8Array(bytes));
  if (!(bytes instanceof Uint8Array)) {
    throw new SnakepitError("invalid_argument", `arrowIPC() takes a Uint8Array or ArrayBuffer of Arrow IPC, got ${bytes === null ? "null" : typeof bytes}`, { details: { field: "arrow" } });
  }
  return new ArrowIPC(bytes);
}

/** True for an apache-arrow `Table` (checked by shape: apache-arrow need not be loaded). */
export function isArrowTable(v: object): boolean {
  const t = v as { constructor?: { name?: string }; batches?: unknown; schema?: unknown };
  return t.constructor?.name === "Table" && Array.isArray(t.batches) && typeof t.schema === "object";
}

/** The IPC (stream format) of an apache-arrow `Table`. */
export function tableIPC(table: object): ArrowIPC {
  const mod = arrowModule();
  if (!(table instanceof mod.Table)) {
    throw new SnakepitError("invalid_argument", "This Arrow Table comes from another copy of apache-arrow than the one snakepit loads: pass arrowIPC(tableToIPC(table))", { details: { field: "arrow" } });
  }
  return new ArrowIPC(mod.tableToIPC(table, "stream"));
}
