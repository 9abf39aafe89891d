"""Recognise the seed's ML failures from exception messages: shape mismatch, out of memory, and
device mismatch (PyTorch, NumPy, TensorFlow, JAX wording). Returns a kind and its facts."""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Tuple

__all__ = ["classify"]

_UNITS = {"B": 1, "KB": 1 << 10, "KIB": 1 << 10, "MB": 1 << 20, "MIB": 1 << 20, "GB": 1 << 30, "GIB": 1 << 30, "TB": 1 << 40, "TIB": 1 << 40}

_SHAPE_PATTERNS = [
    re.compile(r"shapes cannot be multiplied \((\d+x\d+) and (\d+x\d+)\)", re.I),
    re.compile(r"shapes? \(?([\d, x]+)\)? and \(?([\d, x]+)\)? (?:not aligned|cannot be multiplied|cannot be broadcast)", re.I),
    re.compile(r"operands could not be broadcast together with shapes \(([\d, ]*)\) \(([\d, ]*)\)", re.I),
    re.compile(r"size of tensor a \((\d+)\) must match the size of tensor b \((\d+)\)", re.I),
    re.compile(r"size mismatch.*?(?:torch\.Size\(\[([\d, ]*)\]\)).*?(?:torch\.Size\(\[([\d, ]*)\]\))", re.I | re.S),
    re.compile(r"incompatible shapes?:? \[?([\d, ]+)\]? (?:vs\.?|and) \[?([\d, ]+)\]?", re.I),
]
_OOM = re.compile(r"out of memory|OOM when allocating|Unable to allocate|MemoryError|RESOURCE_EXHAUSTED", re.I)
_ALLOC = re.compile(r"(?:allocate|allocating)\s+([\d.]+)\s*([KMGT]i?B|B)", re.I)
_DEVICES = re.compile(r"(?:same device|devices?)[^\n]*?\b((?:cuda|cpu|mps|xpu|gpu|tpu)(?::\d+)?)\b[^\n]*?\b((?:cuda|cpu|mps|xpu|gpu|tpu)(?::\d+)?)\b", re.I)


def _dims(text: str) -> List[int]:
    return [int(d) for d in re.findall(r"\d+", text)]


def classify(exc: BaseException) -> Optional[Tuple[str, Dict[str, Any]]]:
    """(kind, facts) for a recognised ML error, else None."""
    message = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, MemoryError) or _OOM.search(message):
        facts: Dict[str, Any] = {
            "suggestions": [
                "reduce the batch size or the input length",
                "free cached memory between calls (e.g. torch.cuda.empty_cache())",
                "use a smaller model or lower precision (float16/int8)",
                "recycle the worker if memory grows across calls (memoryThresholdMb)",
            ],
        }
        alloc = _ALLOC.search(message)
        if alloc:
            facts["requested_bytes"] = int(float(alloc.group(1)) * _UNITS[alloc.group(2).upper()])
        device = re.search(r"\b(cuda:\d+|GPU \d+|cpu)\b", message)
        if device:
            facts["device"] = device.group(1)
        return "OutOfMemory", facts
    if "device" in message.lower():
        devices = _DEVICES.search(message)
        if devices and devices.group(1).lower() != devices.group(2).lower():
            return "DeviceMismatch", {"devices": [devices.group(1), devices.group(2)]}
    for pattern in _SHAPE_PATTERNS:
        m = pattern.search(message)
        if m:
            return "ShapeMismatch", {"shapes": [_dims(m.group(1)), _dims(m.group(2))]}
    return None
