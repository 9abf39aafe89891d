/**
 * The cause of a worker that died while loading its adapter, read from its last output (a Python
 * traceback): one line, cause first, e.g. "SyntaxError: invalid syntax at /app/x.py:3".
 */

const EXCEPTION = /^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning)|[A-Z]\w*Error)(?::\s?(.*))?$/;
const FRAME = /^\s*File "([^"]+)", line (\d+)/;

/** True for frames of the bridge or the interpreter's own machinery (not the user's code). */
function isMachinery(file: string): boolean {
  return file.startsWith("<") || /[\\/]snakepit_bridge[\\/]/.test(file) || /[\\/]importlib[\\/]/.test(file);
}

/** The exception line and where in the user's code it happened; undefined when no traceback. */
export function loadFailureCause(output: string): string | undefined {
  const lines = output.split("\n").map((l) => l.replace(/\s+$/, ""));
  let at = -1;
  for (let i = lines.length - 1; i >= 0; i--) {
    if (EXCEPTION.test(lines[i]!)) {
      at = i;
      break;
    }
  }
  if (at < 0) return undefined;
  const cause = lines[at]!.trim();
  let where: string | undefined;
  for (let i = at - 1; i >= 0; i--) {
    if (/^Traceback \(most recent call last\)/.test(lines[i]!)) break;
    const frame = FRAME.exec(lines[i]!);
    if (frame && !isMachinery(frame[1]!)) {
      where = `${frame[1]}:${frame[2]}`;
      break;
    }
  }
  return where ? `${cause} at ${where}` : cause;
}
