/** The seed's cleanup: kill processes of a run that are not live workers. */

import { pidsWithRunId } from "../runtime/procfs.ts";

/** SIGKILL every process (group) tagged with `runId` whose pid is not in `live`; returns the pids killed. */
export function killStrays(runId: string, live: ReadonlySet<number>): number[] {
  const killed: number[] = [];
  for (const pid of pidsWithRunId(runId)) {
    if (live.has(pid)) continue;
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone
      }
    }
    killed.push(pid);
  }
  return killed;
}
