/**
 * Glob matching for event names with `*` wildcards, in linear time (no RegExp backtracking:
 * names and globs can come from HTTP clients).
 */

const MAX_GLOB_LENGTH = 200;

/** A matcher for one glob; throws on globs over 200 characters. */
export function globMatcher(glob: string): (name: string) => boolean {
  if (glob.length > MAX_GLOB_LENGTH) throw new Error(`glob is longer than ${MAX_GLOB_LENGTH} characters`);
  const parts = glob.split("*");
  if (parts.length === 1) return (name) => name === glob;
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  const middle = parts.slice(1, -1).filter(Boolean);
  return (name) => {
    if (name.length < first.length + last.length || !name.startsWith(first) || !name.endsWith(last)) return false;
    // Greedy left-to-right search of the middle parts is exact for `*` globs and linear overall.
    let at = first.length;
    const end = name.length - last.length;
    for (const part of middle) {
      const found = name.indexOf(part, at);
      if (found < 0 || found + part.length > end) return false;
      at = found + part.length;
    }
    return true;
  };
}

/** A matcher for any of `globs` (all names when the list is empty). */
export function anyGlob(globs: readonly string[] | undefined): (name: string) => boolean {
  if (!globs?.length) return () => true;
  const matchers = globs.map(globMatcher);
  return (name) => matchers.some((m) => m(name));
}
