/** The fast path of encoding: values that are JSON as they stand need no codec pass. */

/** Levels of plain objects `isPlainJson` looks into before it leaves a value to the codec. */
export const PLAIN_DEPTH = 4;

/**
 * True when `v` is JSON as it stands: finite numbers, strings, booleans, null, and plain objects
 * and arrays of them, at most `depth` levels deep. Anything else (typed values, bytes, Dates,
 * Maps, non-finite numbers, bigints, class instances, deeper values) goes through the codec.
 */
export function isPlainJson(v: unknown, depth: number): boolean {
  switch (typeof v) {
    case "string":
    case "boolean":
    case "undefined":
      return true;
    case "number":
      return Number.isFinite(v);
    case "object": {
      if (v === null) return true;
      if (depth === 0) return false;
      const proto = Object.getPrototypeOf(v);
      if (proto === Array.prototype) {
        const a = v as unknown[];
        for (let i = 0; i < a.length; i++) if (!isPlainJson(a[i], depth - 1)) return false;
        return true;
      }
      if (proto !== Object.prototype) return false;
      const o = v as Record<string, unknown>;
      for (const key in o) if (!isPlainJson(o[key], depth - 1)) return false;
      return true;
    }
    default:
      return false;
  }
}
