"""Logging set-up in the original Snakepit's shape: `configure_logging()` and `get_logger()`.

Records go to stderr (which the host folds into its log, tagged with the worker); each record
carries `correlation_id`, the current call's id (or "-"). The level comes from
SNAKEPIT_LOG_LEVEL: debug, info, warning, error or none (by default a worker keeps the host's
`--log-level`, else "error").
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Dict

from .correlation import get_correlation_id

__all__ = ["configure_logging", "get_logger", "CorrelationIdFilter", "LEVELS"]

LEVELS: Dict[str, int] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "none": logging.CRITICAL + 1,
}
FORMAT = "%(asctime)s - [%(threadName)s] - %(name)s - %(levelname)s - [corr=%(correlation_id)s] %(message)s"


class CorrelationIdFilter(logging.Filter):
    """Sets `record.correlation_id` (the running call's id, else "-") unless the caller set one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "correlation_id", None):
            record.correlation_id = get_correlation_id() or "-"
        return True


def configure_logging(force: bool = False) -> None:
    """Configure the root logger; `force` replaces existing handlers.

    The level is SNAKEPIT_LOG_LEVEL's; without it, a worker keeps the level the host started it
    with (`--log-level`), and anything else gets "error", the original's default.
    """
    root = logging.getLogger()
    name = os.environ.get("SNAKEPIT_LOG_LEVEL", "").strip().lower()
    if name:
        level = LEVELS.get(name, logging.ERROR)
    else:
        level = root.level if root.handlers and root.level != logging.NOTSET else logging.ERROR
    logging.disable(logging.CRITICAL if name == "none" else logging.NOTSET)
    if force:
        for handler in list(root.handlers):
            root.removeHandler(handler)
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        root.addHandler(handler)
    root.setLevel(level)
    for handler in root.handlers:
        handler.setFormatter(logging.Formatter(FORMAT))
        if not any(isinstance(f, CorrelationIdFilter) for f in handler.filters):
            handler.addFilter(CorrelationIdFilter())
    logging.getLogger("grpc").setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.WARNING)


def get_logger(name: str) -> logging.Logger:
    """A logger under the "snakepit." namespace ("snakepit_bridge.x" becomes "snakepit.bridge.x")."""
    if name.startswith("snakepit."):
        return logging.getLogger(name)
    if name.startswith("snakepit_bridge."):
        return logging.getLogger("snakepit.bridge." + name[len("snakepit_bridge."):])
    return logging.getLogger("snakepit." + name)
