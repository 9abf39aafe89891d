/**
 * The native pieces shared memory needs under Bun on Linux (glibc), through `bun:ffi`: the
 * address of a mapping, an `ArrayBuffer` over part of a mapping (no copy, not owned: the memory
 * stays the mapping's; a deallocator runs when the memory behind it is really let go, wherever
 * the buffer was moved), replacing pages with an inaccessible reservation (frees a segment's
 * memory at once), `posix_fallocate` (a segment's pages reserved up front: writing through a
 * sparse mapping on a full tmpfs raises SIGBUS) and whether this process is dumpable (a peer can
 * open our /proc/<pid>/fd only then). `null` elsewhere (Deno, Node, musl): callers fall back to
 * what needs none. Also the one place that names /dev/shm and reaches `Bun.mmap`.
 */

/** Where segments live. */
export const SHM_DIR = "/dev/shm";

const G = globalThis as unknown as { Bun?: { mmap?(path: string): Uint8Array } };

/** Map a whole file (shared, read-write) with `Bun.mmap`; throws where there is none. */
export function mmapFile(path: string): Uint8Array {
  if (typeof G.Bun?.mmap !== "function") throw new Error("Bun.mmap is not available in this runtime");
  return G.Bun.mmap(path);
}

/** True when this runtime can map files (Bun). */
export function canMmap(): boolean {
  return typeof G.Bun?.mmap === "function";
}

export interface Ffi {
  /** Address of the first byte of `view`. */
  ptr(view: ArrayBufferView): number;
  /**
   * A fresh ArrayBuffer over `length` bytes at `address + offset`; it does not own them. With
   * `onFree`, called once the buffer's memory is let go (collected, or detached by a zero-length
   * transfer), after any move (`transfer()`, a structuredClone transfer list).
   */
  toArrayBuffer(address: number, offset: number, length: number, onFree?: () => void): ArrayBuffer;
  /** mmap(MAP_FIXED, PROT_NONE) over `size` bytes at `address`: true when done. */
  remapNone(address: number, size: number): boolean;
  /** posix_fallocate(fd, 0, size): 0, or the errno (ENOSPC = 28). */
  fallocate(fd: number, size: number): number;
  /** prctl(PR_GET_DUMPABLE): false when this process was made undumpable (setuid, setcap, prctl). */
  dumpable(): boolean;
}

let ffi: Ffi | null | undefined;

/** The native helpers, loaded once; null where they are unavailable. */
export function loadFfi(): Ffi | null {
  if (ffi !== undefined) return ffi;
  ffi = null;
  try {
    const req = (import.meta as unknown as { require?: (id: string) => unknown }).require;
    // deno-lint-ignore no-explicit-any
    const mod = req?.("bun:ffi") as any;
    if (!mod || process.platform !== "linux") return ffi;
    const { symbols } = mod.dlopen("libc.so.6", {
      mmap: { args: ["ptr", "u64", "i32", "i32", "i32", "i64"], returns: "ptr" },
      posix_fallocate: { args: ["i32", "i64", "i64"], returns: "i32" },
      prctl: { args: ["i32", "u64", "u64", "u64", "u64"], returns: "i32" },
    });
    // One deallocator for every buffer: its context is a key into `onFree` (it runs on the JS thread).
    const frees = new Map<number, () => void>();
    let nextKey = 1;
    const dealloc = new mod.JSCallback((_bytes: number, key: number) => {
      const free = frees.get(key);
      frees.delete(key);
      free?.();
    }, { args: ["ptr", "ptr"], returns: "void", threadsafe: true });
    ffi = {
      ptr: (v) => mod.ptr(v),
      toArrayBuffer: (address, offset, length, onFree) => {
        if (!onFree) return mod.toArrayBuffer(address, offset, length);
        const key = nextKey++;
        frees.set(key, onFree);
        return mod.toArrayBuffer(address, offset, length, key, dealloc.ptr);
      },
      // PROT_NONE; MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS | MAP_NORESERVE
      remapNone: (address, size) => symbols.mmap(address, size, 0, 0x2 | 0x10 | 0x20 | 0x4000, -1, 0) === address,
      fallocate: (fd, size) => symbols.posix_fallocate(fd, 0, size),
      dumpable: () => symbols.prctl(3, 0, 0, 0, 0) !== 0, // PR_GET_DUMPABLE
    };
  } catch {
    ffi = null;
  }
  return ffi;
}

/** Test hook: act as a host without the native helpers (musl, no bun:ffi). */
export function disableFfiForTests(): void {
  ffi = null;
}
