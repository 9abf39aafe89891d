"""The worker's logging set-up, applied when something first imports `logging`.

`logging` (with the `traceback`, `textwrap` and `string` it pulls in) costs a few ms of every
worker's start, and an adapter that never logs never needs it. So a worker configures it at once
only if it is loaded already; otherwise a one-shot import hook configures it right after the
first `import logging` (by the adapter, a library or a tool), before that code can log.
"""

from __future__ import annotations

import sys
from typing import Any, Optional

FORMAT = "%(levelname)s %(name)s: %(message)s"


def configure_when_imported(level_name: str) -> None:
    """Send log records to stderr at `level_name` (WARNING when unknown), now or on first import."""

    def configure(logging: Any) -> None:
        logging.basicConfig(stream=sys.stderr, level=getattr(logging, level_name.upper(), logging.WARNING), format=FORMAT)

    if "logging" in sys.modules:
        configure(sys.modules["logging"])
        return
    sys.meta_path.insert(0, _Hook(configure))


class _Hook:
    """A meta-path finder for `logging` alone: finds it as usual, configures it once executed."""

    def __init__(self, configure: Any) -> None:
        self._configure = configure

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Optional[Any]:
        if name != "logging":
            return None
        sys.meta_path.remove(self)
        from importlib.machinery import PathFinder

        spec = PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _ThenConfigure(spec.loader, self._configure)
        return spec


class _ThenConfigure:
    """The real loader, then our configuration (other attributes, e.g. get_source, pass through)."""

    def __init__(self, loader: Any, configure: Any) -> None:
        self._loader = loader
        self._configure = configure

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._loader.exec_module(module)
        self._configure(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)
