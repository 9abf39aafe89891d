/** Per-user folders: cache (extracted assets) and state (process registry). */

import { homedir } from "node:os";
import { join } from "node:path";
import { hostEnv } from "../runtime/process.ts";

/** $SNAKEPIT_CACHE_DIR, else $XDG_CACHE_HOME/snakepit, else ~/.cache/snakepit. */
export function cacheDir(): string {
  const env = hostEnv();
  return env.SNAKEPIT_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "snakepit");
}

/** $SNAKEPIT_STATE_DIR, else $XDG_STATE_HOME/snakepit, else ~/.local/state/snakepit. */
export function stateDir(): string {
  const env = hostEnv();
  return env.SNAKEPIT_STATE_DIR ?? join(env.XDG_STATE_HOME ?? join(homedir(), ".local", "state"), "snakepit");
}
