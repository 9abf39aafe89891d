/**
 * The native pieces shared memory needs under Bun on Linux (glibc), through `bun:ffi`: the
 * address of a mapping, an `ArrayBuffer` over part of a mapping (no copy, not owned: the memory
 * stays the mapping's), and replacing pages with an inaccessible reservation (frees a segment's
 * memory at once). `null` elsewhere (Deno, Node, no glibc): callers fall back to what needs none.
 */

export interface Ffi {
  /** Address of the first byte of `view`. */
  ptr(view: ArrayBufferView): number;
  /** A fresh ArrayBuffer over `length` bytes at `address + offset`; it does not own them. */
  toArrayBuffer(address: number, offset: number, length: number): ArrayBuffer;
  /** mmap(MAP_FIXED, PROT_NONE) over `size` bytes at `address`: true when done. */
  remapNone(address: number, size: number): boolean;
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
    });
    ffi = {
      ptr: (v) => mod.ptr(v),
      toArrayBuffer: (address, offset, length) => mod.toArrayBuffer(address, offset, length),
      // PROT_NONE; MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS | MAP_NORESERVE
      remapNone: (address, size) => symbols.mmap(address, size, 0, 0x2 | 0x10 | 0x20 | 0x4000, -1, 0) === address,
    };
  } catch {
    ffi = null;
  }
  return ffi;
}
