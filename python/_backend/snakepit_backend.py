"""A PEP 517 build backend for snakepit-bridge using only the standard library.

The bridge is pure Python with no dependencies, so building it needs nothing from an index:
`pip install ./python` works offline in any venv (no setuptools or wheel needed), with or
without build isolation. It writes a pure wheel (py3-none-any), an sdist, and editable wheels.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "snakepit_bridge"


def _project() -> dict:
    """The [project] fields we publish, read from pyproject.toml (simple `key = "value"` lines)."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    table = re.search(r"^\[project\]\n(.*?)(?=^\[|\Z)", text, re.S | re.M)
    fields = dict(re.findall(r'^([\w-]+)\s*=\s*"([^"]*)"', table.group(1) if table else "", re.M))
    for key in ("name", "version"):
        if key not in fields:
            raise ValueError(f"pyproject.toml: [project] needs {key} = \"...\"")
    return fields


def _dist_name(project: dict) -> str:
    return re.sub(r"[-_.]+", "_", project["name"]).lower()


def _metadata(project: dict) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {project['name']}", f"Version: {project['version']}"]
    if "description" in project:
        lines.append(f"Summary: {project['description']}")
    if "requires-python" in project:
        lines.append(f"Requires-Python: {project['requires-python']}")
    lines.append("License: MIT")
    return "\n".join(lines) + "\n"


def _sources() -> list:
    """Every .py file of the package, relative to ROOT, in a stable order."""
    files = [p for p in (ROOT / PACKAGE).rglob("*.py") if "__pycache__" not in p.parts]
    return sorted(p.relative_to(ROOT).as_posix() for p in files)


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def _write_wheel(wheel_directory: str, files: dict) -> str:
    """Write {archive name: bytes} plus the dist-info files; returns the wheel's file name."""
    project = _project()
    dist = f"{_dist_name(project)}-{project['version']}"
    info = f"{dist}.dist-info"
    files = dict(files)
    files[f"{info}/METADATA"] = _metadata(project).encode()
    files[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: snakepit_backend\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    files[f"{info}/top_level.txt"] = f"{PACKAGE}\n".encode()
    record = [_record_line(name, data) for name, data in files.items()] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    name = f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w", zipfile.ZIP_DEFLATED) as z:
        for arcname, data in files.items():
            z.writestr(zipfile.ZipInfo(arcname, date_time=(2020, 1, 1, 0, 0, 0)), data)
    return name


def get_requires_for_build_wheel(config_settings=None) -> list:
    return []


def get_requires_for_build_sdist(config_settings=None) -> list:
    return []


def get_requires_for_build_editable(config_settings=None) -> list:
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None) -> str:
    return _write_wheel(wheel_directory, {name: (ROOT / name).read_bytes() for name in _sources()})


def build_editable(wheel_directory, config_settings=None, metadata_directory=None) -> str:
    """A wheel holding only a .pth file that puts this folder on sys.path."""
    return _write_wheel(wheel_directory, {f"{PACKAGE}_editable.pth": f"{ROOT}\n".encode()})


def build_sdist(sdist_directory, config_settings=None) -> str:
    project = _project()
    base = f"{_dist_name(project)}-{project['version']}"
    names = ["pyproject.toml", "_backend/snakepit_backend.py", *_sources()]
    path = os.path.join(sdist_directory, f"{base}.tar.gz")
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for name in names:
            tar.add(ROOT / name, arcname=f"{base}/{name}")
        pkg_info = _metadata(project).encode()
        info = tarfile.TarInfo(f"{base}/PKG-INFO")
        info.size = len(pkg_info)
        tar.addfile(info, io.BytesIO(pkg_info))
    return os.path.basename(path)
