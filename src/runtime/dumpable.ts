/**
 * Make this process non-dumpable (Linux `prctl(PR_SET_DUMPABLE, 0)`): other processes of the same
 * user, the server's own Python tools included, can no longer read its `/proc/<pid>/environ`,
 * `mem`, `fd/` or attach a debugger; no core dump is written. Only root (CAP_SYS_PTRACE) still can.
 * Bun reaches libc through `bun:ffi`, Deno through `Deno.dlopen` (needs `--allow-ffi`).
 * Children start dumpable again (exec resets it), so workers are unaffected.
 */

import { runtimeName } from "./process.ts";

const PR_SET_DUMPABLE = 4;
const PR_GET_DUMPABLE = 3;
const LIBC = ["libc.so.6", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1", "libc.so"];

type Prctl = (option: number, arg2: number) => number;

// deno-lint-ignore no-explicit-any
const G = globalThis as any;

async function bunPrctl(): Promise<Prctl | undefined> {
  const ffi = await import("bun:ffi" as string);
  for (const lib of LIBC) {
    try {
      const { symbols } = ffi.dlopen(lib, { prctl: { args: ["i32", "u64", "u64", "u64", "u64"], returns: "i32" } });
      return (option, arg2) => symbols.prctl(option, arg2, 0, 0, 0) as number;
    } catch {
      // try the next name
    }
  }
  return undefined;
}

function denoPrctl(): Prctl | undefined {
  for (const lib of LIBC) {
    try {
      const { symbols } = G.Deno.dlopen(lib, { prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"], result: "i32" } });
      return (option, arg2) => symbols.prctl(option, BigInt(arg2), 0n, 0n, 0n) as number;
    } catch {
      // no FFI permission, or another libc name
    }
  }
  return undefined;
}

let prctl: Promise<Prctl | undefined> | undefined;

function load(): Promise<Prctl | undefined> {
  if (process.platform !== "linux") return Promise.resolve(undefined);
  prctl ??= (runtimeName === "bun" ? bunPrctl() : runtimeName === "deno" ? Promise.resolve(denoPrctl()) : Promise.resolve(undefined)).catch(() => undefined);
  return prctl;
}

/** Turn off dumpability; resolves with what was achieved (never throws). */
export async function makeNonDumpable(): Promise<{ nonDumpable: boolean; reason?: string }> {
  const fn = await load();
  if (!fn) return { nonDumpable: false, reason: process.platform !== "linux" ? "not Linux" : `no FFI to libc under ${runtimeName}` };
  if (fn(PR_SET_DUMPABLE, 0) !== 0) return { nonDumpable: false, reason: "prctl(PR_SET_DUMPABLE) failed" };
  return { nonDumpable: fn(PR_GET_DUMPABLE, 0) === 0 };
}

/** Whether this process is dumpable now (undefined when it cannot be asked). */
export async function isDumpable(): Promise<boolean | undefined> {
  const fn = await load();
  return fn ? fn(PR_GET_DUMPABLE, 0) === 1 : undefined;
}
