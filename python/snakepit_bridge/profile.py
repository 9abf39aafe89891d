"""The interpreter, the worker profile it suits, and which libraries are safe under threads.

    python -m snakepit_bridge.profile [--adapter SPEC] [--profile thread|process]

prints JSON: the interpreter (version, implementation, free-threading), the recommended profile
with its reason, the adapter's imports (read with `ast`, not executed) and the matrix's verdict
on each. A free-threaded build (3.13t) with the GIL off runs threads in parallel: the thread
profile pays off. With the GIL on, CPU-bound Python serialises: the process profile is the one.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import os
import platform
import sys
import sysconfig
from typing import Any, Dict, List, Optional, Union

__all__ = ["COMPATIBILITY", "ALIASES", "interpreter_info", "recommend_profile", "check", "adapter_imports", "report"]

Safety = Union[bool, str]  # True, False or "conditional"

# The seed's Snakepit.Compatibility matrix: library -> thread safety and what to do about it.
COMPATIBILITY: Dict[str, Dict[str, Any]] = {
    "numpy": {"thread_safe": "conditional", "notes": "Most operations release the GIL; threads must not mutate a shared array. Keep BLAS threads low (OMP/OPENBLAS_NUM_THREADS) when many threads call it."},
    "scipy": {"thread_safe": "conditional", "notes": "Most routines release the GIL; some wrapped Fortran (ARPACK, ODEPACK, optimize callbacks) is not re-entrant: serialise those calls."},
    "torch": {"thread_safe": "conditional", "notes": "Tensor ops release the GIL and are safe on distinct tensors; size torch.set_num_threads to threads_per_worker; do not train one module from several threads."},
    "tensorflow": {"thread_safe": "conditional", "notes": "Running a built graph/function concurrently is safe; building models or Keras fit() from several threads is not."},
    "jax": {"thread_safe": "conditional", "notes": "Dispatch of jitted functions is thread-safe; tracing/compiling the same function from several threads at once is slow and best avoided."},
    "onnxruntime": {"thread_safe": True, "notes": "InferenceSession.run is thread-safe; set intra_op_num_threads to fit threads_per_worker."},
    "scikit-learn": {"thread_safe": "conditional", "notes": "predict/transform on a fitted estimator may run concurrently; fit() on a shared estimator may not."},
    "pandas": {"thread_safe": False, "notes": "DataFrame/Series are not thread-safe (shared mutation, lazy caches even on reads). Use the process profile or one frame per thread."},
    "polars": {"thread_safe": True, "notes": "Thread-safe; runs its own pool (POLARS_MAX_THREADS), so keep threads_per_worker small."},
    "pyarrow": {"thread_safe": True, "notes": "Immutable arrays and tables; safe to share across threads."},
    "tokenizers": {"thread_safe": "conditional", "notes": "encode/encode_batch are safe from several threads; its Rust pool deadlocks after fork, so set TOKENIZERS_PARALLELISM=false with forked children."},
    "transformers": {"thread_safe": "conditional", "notes": "Model forward passes are safe under torch rules; pipeline objects keep state and are not: one pipeline per thread."},
    "sentence_transformers": {"thread_safe": "conditional", "notes": "encode() on a shared model is safe under torch rules; do not fit from several threads."},
    "llama_cpp": {"thread_safe": False, "notes": "A Llama object keeps one context and is not thread-safe: one model per worker (process profile) or a lock."},
    "spacy": {"thread_safe": "conditional", "notes": "A loaded Language is read-mostly, but concurrent nlp() calls are not guaranteed safe; prefer nlp.pipe in one thread."},
    "matplotlib": {"thread_safe": False, "notes": "pyplot's global state is not thread-safe: use the object API with the Agg backend, one Figure per thread."},
    "opencv": {"thread_safe": True, "notes": "Releases the GIL in most functions; set cv2.setNumThreads to fit threads_per_worker."},
    "pillow": {"thread_safe": True, "notes": "Releases the GIL in decoding and most operations; do not share one Image being modified."},
    "numexpr": {"thread_safe": True, "notes": "Thread-safe; uses NUMEXPR_NUM_THREADS threads per call."},
    "requests": {"thread_safe": "conditional", "notes": "Module-level calls are safe; a Session is not guaranteed thread-safe: one per thread."},
    "sqlite3": {"thread_safe": "conditional", "notes": "A connection belongs to the thread that made it (check_same_thread): open one per thread."},
    "psycopg2": {"thread_safe": "conditional", "notes": "Connections may be shared, cursors may not: one cursor per thread."},
}

# Import names that differ from the library's name.
ALIASES: Dict[str, str] = {"sklearn": "scikit-learn", "cv2": "opencv", "PIL": "pillow", "tf": "tensorflow"}


def interpreter_info() -> Dict[str, Any]:
    """Version, implementation, whether this is a free-threaded build, and whether the GIL is on."""
    free_threaded_build = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    is_gil_enabled = getattr(sys, "_is_gil_enabled", None)
    return {
        "version": platform.python_version(),
        "implementation": sys.implementation.name,
        "executable": sys.executable,
        "free_threaded_build": free_threaded_build,
        "gil_enabled": bool(is_gil_enabled()) if callable(is_gil_enabled) else True,
        "venv": sys.prefix != getattr(sys, "base_prefix", sys.prefix),
    }


def recommend_profile(info: Optional[Dict[str, Any]] = None) -> Dict[str, str]:
    """`thread` when threads really run in parallel (free-threaded and GIL off), else `process`."""
    info = info or interpreter_info()
    if info["free_threaded_build"] and not info["gil_enabled"]:
        return {"profile": "thread", "reason": f"Python {info['version']} is free-threaded with the GIL off: threads run Python code in parallel"}
    if info["free_threaded_build"]:
        return {"profile": "process", "reason": f"Python {info['version']} is a free-threaded build but the GIL was re-enabled (PYTHON_GIL=1 or an extension that needs it)"}
    return {"profile": "process", "reason": f"Python {info['version']} has a GIL: CPU-bound Python runs one thread at a time, so use processes (threads still help I/O-bound or GIL-releasing code)"}


def check(library: str, profile: str) -> Dict[str, Any]:
    """The matrix's verdict on `library` under `profile`: ok, warning (conditional), error (unsafe) or unknown."""
    name = ALIASES.get(library, library)
    entry = COMPATIBILITY.get(name)
    if entry is None:
        return {"library": name, "status": "unknown", "notes": "not in the compatibility matrix"}
    if profile == "process" or entry["thread_safe"] is True:
        return {"library": name, "status": "ok", "notes": entry["notes"]}
    status = "warning" if entry["thread_safe"] == "conditional" else "error"
    return {"library": name, "status": status, "notes": entry["notes"]}


def _adapter_source(spec: str) -> Optional[str]:
    target = spec.split(":", 1)[0] if not os.path.isfile(spec) else spec
    if target.endswith(".py") or os.sep in target:
        return target if os.path.isfile(target) else None
    try:
        found = importlib.util.find_spec(target)
    except (ImportError, ValueError):
        return None
    return found.origin if found and found.origin and found.origin.endswith(".py") else None


def adapter_imports(spec: str) -> List[str]:
    """Top-level packages the adapter's source imports (absolute imports only; nothing is run)."""
    path = _adapter_source(spec)
    if path is None:
        return []
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), filename=path)
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return sorted(names)


def report(adapter: Optional[str], profile: str) -> Dict[str, Any]:
    """Everything `python -m snakepit_bridge.profile` prints."""
    info = interpreter_info()
    imports = adapter_imports(adapter) if adapter else []
    findings = [check(name, profile) for name in imports if ALIASES.get(name, name) in COMPATIBILITY]
    return {"interpreter": info, "recommendation": recommend_profile(info), "profile": profile, "imports": imports, "findings": findings}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="snakepit_bridge.profile")
    parser.add_argument("--adapter", default=None)
    parser.add_argument("--profile", choices=("process", "thread"), default="thread")
    args = parser.parse_args(argv)
    json.dump(report(args.adapter, args.profile), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
