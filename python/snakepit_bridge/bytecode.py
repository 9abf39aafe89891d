"""Bytecode for a bridge that lives in a read-only folder (the single binary's extracted assets).

There Python can write no `__pycache__`, so every interpreter start would compile the bridge
again. With `SNAKEPIT_PYCACHE_DIR` set (the binary sets it to a private folder of its cache, made
0700), `install()` gives the bridge's own modules a loader that keeps their bytecode there, and
only theirs: the adapter and libraries keep Python's usual `__pycache__` (a global
`PYTHONPYCACHEPREFIX` would make Python ignore and recompile every installed package's).

Stale bytecode is never used: the files are PEP 552 checked-hash pycs, so each import compares
the source's hash with the one the pyc was compiled from (the assets' modification times are
extraction times, not trusted). A pyc that does not match, cannot be read or cannot be written is
simply compiled again from the (verified) source.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import marshal
import os
import sys
from typing import List

__all__ = ["install"]

_CHECKED_HASH = (0b11).to_bytes(4, "little")  # PEP 552 flags: hash-based, check the source


class _CachedLoader(importlib.machinery.SourceFileLoader):
    """A source loader whose bytecode lives in `_folder`, as checked-hash pycs."""

    _folder = ""

    def get_code(self, fullname: str):  # type: ignore[override]
        path = self.get_filename(fullname)
        source = self.get_data(path)
        digest = importlib.util.source_hash(source)
        pyc = os.path.join(self._folder, f"{fullname}.pyc")
        try:
            with open(pyc, "rb") as f:
                data = f.read()
            if data[:4] == importlib.util.MAGIC_NUMBER and data[4:8] == _CHECKED_HASH and data[8:16] == digest:
                return marshal.loads(data[16:])
        except (OSError, ValueError, EOFError, TypeError):
            pass
        code = self.source_to_code(source, path)
        _write(pyc, importlib.util.MAGIC_NUMBER + _CHECKED_HASH + digest + marshal.dumps(code))
        return code


def _write(path: str, data: bytes) -> None:
    """Write atomically (readers see the old file or the new one), private to this user."""
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def install(package_path: List[str]) -> bool:
    """Use the cache for the package at `package_path`; False (nothing changed) without one."""
    base = os.environ.get("SNAKEPIT_PYCACHE_DIR", "")
    tag = sys.implementation.cache_tag
    if not base or not tag:
        return False
    folder = os.path.join(base, tag)
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
    except OSError:
        return False
    loader = type("BridgeLoader", (_CachedLoader,), {"_folder": folder})
    details = [(loader, importlib.machinery.SOURCE_SUFFIXES)]
    for entry in package_path:
        sys.path_importer_cache[entry] = importlib.machinery.FileFinder(entry, *details)
    return True
