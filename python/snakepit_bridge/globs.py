"""Event-name globs with the host's semantics (src/telemetry/glob.ts), not fnmatch's.

Only `*` is special: it matches any run of characters, dots included. `?`, `[` and `\\` are
literal. Matching is linear (no backtracking). Globs longer than MAX_GLOB_LENGTH are refused.
test/fixtures/glob-cases.json holds the cases both sides must agree on.
"""

from __future__ import annotations

from typing import Callable, Iterable, List

__all__ = ["MAX_GLOB_LENGTH", "glob_matcher", "any_glob"]

MAX_GLOB_LENGTH = 200
Matcher = Callable[[str], bool]


def glob_matcher(glob: str) -> Matcher:
    """A matcher for one glob; ValueError for globs over MAX_GLOB_LENGTH characters."""
    if len(glob) > MAX_GLOB_LENGTH:
        raise ValueError(f"glob is longer than {MAX_GLOB_LENGTH} characters")
    parts = glob.split("*")
    if len(parts) == 1:
        return lambda name: name == glob
    first, last = parts[0], parts[-1]
    middle: List[str] = [p for p in parts[1:-1] if p]

    def match(name: str) -> bool:
        if len(name) < len(first) + len(last) or not name.startswith(first) or not name.endswith(last):
            return False
        at = len(first)
        end = len(name) - len(last)
        for part in middle:
            found = name.find(part, at)
            if found < 0 or found + len(part) > end:
                return False
            at = found + len(part)
        return True

    return match


def any_glob(globs: Iterable[str]) -> Matcher:
    """A matcher for any of `globs` (every name when there are none)."""
    matchers = [glob_matcher(g) for g in globs]
    if not matchers:
        return lambda name: True
    return lambda name: any(m(name) for m in matchers)
