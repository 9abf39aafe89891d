"""Which native thread pools this process has loaded, and how many threads each will use.

A threadpoolctl-style check with the stdlib only: find the BLAS / OpenMP libraries mapped into
the process (/proc/self/maps on Linux) and ask each for its thread count through ctypes.

    python -m snakepit_bridge.threadpools   # imports numpy first when it is installed
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
from typing import Any, Dict, List, Optional, Tuple

__all__ = ["THREAD_VARS", "loaded_pools", "probe"]

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")

# (library kind, file-name fragment, getter symbols tried in order)
_KINDS: Tuple[Tuple[str, str, Tuple[str, ...]], ...] = (
    ("openblas", "openblas", (
        "openblas_get_num_threads", "openblas_get_num_threads64_",
        "scipy_openblas_get_num_threads", "scipy_openblas_get_num_threads64_",
    )),
    ("mkl", "mkl_rt", ("MKL_Get_Max_Threads",)),
    ("blis", "blis", ("bli_thread_get_num_threads",)),
    ("openmp", "gomp", ("omp_get_max_threads",)),
    ("openmp", "iomp", ("omp_get_max_threads",)),
    ("openmp", "libomp", ("omp_get_max_threads",)),
)


def _mapped_libraries() -> List[str]:
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            paths = {line.split()[-1] for line in f if ".so" in line and "/" in line}
    except OSError:
        return []
    return sorted(paths)


def loaded_pools() -> List[Dict[str, Any]]:
    """Every native thread pool loaded into this process: kind, path, threads (None if unknown)."""
    pools: List[Dict[str, Any]] = []
    for path in _mapped_libraries():
        name = os.path.basename(path).lower()
        for kind, fragment, symbols in _KINDS:
            if fragment not in name:
                continue
            threads: Optional[int] = None
            try:
                lib = ctypes.CDLL(path, mode=getattr(os, "RTLD_NOLOAD", 0) | ctypes.RTLD_GLOBAL)
            except OSError:
                break
            for symbol in symbols:
                fn = getattr(lib, symbol, None)
                if fn is not None:
                    fn.restype = ctypes.c_int
                    threads = int(fn())
                    break
            pools.append({"kind": kind, "path": path, "threads": threads})
            break
    return pools


def probe(import_numpy: bool = True) -> Dict[str, Any]:
    """The five thread variables, numpy's version (or None) and the loaded thread pools."""
    numpy_version: Optional[str] = None
    if import_numpy:
        try:
            import numpy  # noqa: F401  (loads its BLAS)

            numpy_version = str(numpy.__version__)
        except Exception:
            numpy_version = None
    return {
        "env": {name: os.environ.get(name) for name in THREAD_VARS},
        "numpy": numpy_version,
        "pools": loaded_pools(),
    }


if __name__ == "__main__":
    json.dump(probe(), sys.stdout)
    sys.stdout.write("\n")
