/** Stopping a local worker in stages: a polite Shutdown RPC, then SIGTERM, then SIGKILL. */

import type { ChildProcess, ExitStatus } from "../runtime/process.ts";

/** Resolves with the exit status; each stage waits for the process before the next. */
export async function stopInStages(child: ChildProcess, exited: Promise<ExitStatus>, shutdown: () => void, graceMs: number): Promise<ExitStatus> {
  const within = (ms: number) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)));
    return Promise.race([exited.then(() => true), late]).finally(() => clearTimeout(timer));
  };
  shutdown();
  if (await within(graceMs + 200)) return exited;
  child.kill("SIGTERM");
  if (await within(1_000)) return exited;
  child.kill("SIGKILL");
  child.closeStdin();
  return exited;
}
