/** What `doctor` tells the user to do about an adapter that does not load, from its cause line. */

/** A fix for one load failure; `cause` is the line from `loadFailureCause` (or a host check). */
export function adapterFix(cause: string, python: string): string {
  const missingModule = /^ModuleNotFoundError: No module named '([^']+)'/.exec(cause);
  if (missingModule) {
    const top = missingModule[1]!.split(".")[0]!;
    return `install it for this interpreter (${python} -m pip install ${top}), or pass --python with one that has it`;
  }
  if (/^(SyntaxError|IndentationError|TabError)\b/.test(cause)) {
    const at = / at (\S+:\d+)$/.exec(cause)?.[1];
    return at ? `fix the syntax at ${at}` : "fix the syntax error in the adapter file";
  }
  if (/adapter file not found|adapter is not a file/.test(cause)) {
    return "check the path: a relative adapter path resolves against the working directory (or the pool's cwd)";
  }
  const missingClass = /adapter class '([^']+)' not found in (\S+)/.exec(cause);
  if (missingClass) return `define class ${missingClass[1]} in ${missingClass[2]}, or name one it defines as FILE:Class`;
  if (/defines several adapters/.test(cause)) return "name the one to serve as FILE:Class";
  return `the adapter raised this while loading; run \`snakepit exec --adapter ...\` on any tool to see the full traceback`;
}
