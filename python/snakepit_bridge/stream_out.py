"""A stream's chunks on their way to the host, batched.

Plain scalars (int, float, str, bool, None: values a generator cannot change after yielding
them) are appended to the stream's open `Batch` and go out together as one MESSAGES packet
(`{"k":7,"id":…,"msg":{"seq":first,"data":[…]}}`, proto `ToolChunks`): no envelope, dict or
encoder call per chunk. Dicts and lists of plain JSON values join the batch encoded at once
(`Fragment`); what only the codec can carry (bytes, arrays, objects, big ints) goes as a
MESSAGE of its own, in order. A batch is written when the stream's last write is `HOLD_S` old (so a
slow generator's chunks go out one by one, at once, and the first chunk is never held), at
`BATCH_MAX` chunks or `BATCH_BYTES` of strings and fragments, before the producer waits for
credit, before a chunk sent on its own, at the end, and by the writer's
flusher thread when the generator stalls with chunks unsent (within ~1 ms).

Only the producer appends to `items`; whoever writes a batch (the producer, or the flusher)
does so under the writer's lock and takes `items[start:]`; only the producer clears the list.
"""

from __future__ import annotations

import time
from typing import Any, Callable, List, Optional

from .chunks import SCALARS, unwrap_chunk
from .codec import _BIG_DIGITS, MAX_SAFE_INT, _encode, dumps
from .framing import FLAG_JSON, FLAG_TYPED, HEADER
from .wire import MESSAGES

__all__ = ["BATCH_BYTES", "BATCH_MAX", "Batch", "batch_packet", "send_stream"]

#: Chunks in one packet at most: half the credit window, which the host grants per half window.
BATCH_MAX = 128
#: String bytes that close a batch early (the packet stays small next to the pipe buffer).
BATCH_BYTES = 32 * 1024
_monotonic = time.monotonic
_NEVER = float("inf")


class Fragment(bytes):
    """A chunk already encoded (a dict or list of plain JSON values, encoded when yielded)."""

    __slots__ = ()


def _refuse(value: Any) -> Any:
    raise TypeError("needs the codec")


try:  # the codec's C encoder, refusing what only the codec converts (bytes, arrays, objects)
    from json.encoder import c_make_encoder as _c_make_encoder, encode_basestring as _encode_str

    _strict = _c_make_encoder(None, _refuse, _encode_str, None, ":", ",", False, False, False) if _c_make_encoder else None
except ImportError:  # pragma: no cover - interpreters without the C accelerator
    _strict = None


def plain_json(value: Any) -> Optional[Fragment]:
    """`value` (a container) as JSON if it holds only plain JSON values, with the codec's bytes;
    None when it needs the codec (bytes, arrays, objects, big ints, non-finite floats)."""
    if _strict is None:
        return None
    try:
        text = "".join(_strict(value, 0)).encode("utf-8")
    except (TypeError, ValueError):
        return None
    return None if _BIG_DIGITS.search(text) else Fragment(text)


def batch_packet(call_id: int, seq: int, data: List[Any], fragments: bool = False) -> bytes:
    """The framed MESSAGES packet carrying `data` as messages `seq`, `seq + 1`, …, typed when a
    value needs it (ints past 2**53, non-finite floats: spelled out by the codec). `fragments`:
    some items are `Fragment`s (already encoded), the others scalars."""
    if fragments:
        typed = False
        parts: List[bytes] = []
        for item in data:
            if type(item) is Fragment:
                parts.append(item)
            else:
                text, _none, tagged = dumps(item)
                parts.append(text)
                typed = typed or tagged
        payload = b'{"k":7,"id":%d,"msg":{"seq":%d,"data":[%s]}}' % (call_id, seq, b",".join(parts))
        return HEADER.pack(FLAG_TYPED if typed else FLAG_JSON, len(payload)) + payload
    try:
        text = _encode(data).encode("utf-8")
        try:  # numbers only (the common case): their range says it all, no scan of the text
            plain = -MAX_SAFE_INT <= min(data) and max(data) <= MAX_SAFE_INT
        except TypeError:  # strings or None among them: the codec's test
            plain = not _BIG_DIGITS.search(text)
        if plain:
            payload = b'{"k":7,"id":%d,"msg":{"seq":%d,"data":%s}}' % (call_id, seq, text)
            return HEADER.pack(FLAG_JSON, len(payload)) + payload
    except ValueError:  # NaN or infinity
        pass
    payload, _attachments, typed = dumps({"k": MESSAGES, "id": call_id, "msg": {"seq": seq, "data": data}})
    return HEADER.pack(FLAG_TYPED if typed else FLAG_JSON, len(payload)) + payload


class Batch:
    """The chunks of one stream not yet written (see the module's docstring)."""

    __slots__ = ("call_id", "items", "start", "seq", "sent_at", "fragments")

    def __init__(self, call_id: int) -> None:
        self.call_id = call_id
        self.items: List[Any] = []
        self.start = 0  # items[:start] were written (by the flusher): only the producer clears
        self.seq = 0  # the seq of items[start]
        self.sent_at = 0.0  # when the stream last went out (monotonic)
        self.fragments = False  # items hold Fragments (set by the producer, reset when it clears)

    def pending(self) -> bool:
        return len(self.items) > self.start

    def take(self) -> Optional[bytes]:
        """The unsent chunks as one framed packet (None if there are none); the caller holds the
        writer's lock and writes it."""
        items = self.items
        n = len(items)
        start = self.start
        if n == start:
            return None
        seq = self.seq
        self.start = n
        self.seq = seq + n - start
        self.sent_at = _monotonic()
        return batch_packet(self.call_id, seq, items[start:n], self.fragments)

    def cleared(self) -> None:
        """The producer, after writing: start the list afresh (it alone appends)."""
        self.items.clear()
        self.start = 0
        self.fragments = False


def send_stream(call: Any, source: Any, writer: Any, send_one: Callable[[int, int, Any], None],
                check: Callable[[Any], None], *, raw: bool) -> None:
    """Send every chunk `source` yields, with credits, batching plain scalars and containers of
    plain JSON values (encoded when yielded: the generator may change them later); `source` is closed
    at the end. `raw`: `source` is the tool's own iterator (chunk wrappers unwrapped here); else it
    yields chunk data (`CallRunner._iterate`). Per scalar chunk: one clock read, an append, a few
    compares (the credit limit is re-read only when reached)."""
    batch = Batch(call.id)
    append = batch.items.append
    cond = call.credit_cond
    deadline = call.deadline if call.deadline is not None else _NEVER
    write = writer.write_batch
    hold = writer.HOLD_S
    limit = call.credits if cond is not None else _NEVER
    send_at = 0.0  # a chunk produced from then on is written at once (the last write is `hold` old)
    seq = held = size = 0
    writer.open_batch(batch)
    try:
        for item in source:
            if seq >= limit:
                limit = call.credits
                if seq >= limit:
                    write(batch)  # the host grants credit only for chunks it has seen
                    held = size = 0
                    with cond:
                        while seq >= call.credits and not (call.cancelled or call.expired):
                            cond.wait()
                    limit = call.credits
                    send_at = _monotonic() + hold  # the host was the slow one: batch on
            now = _monotonic()
            if now > deadline or call.cancelled or call.expired:
                check(call)
            kind = type(item)
            if kind in SCALARS:  # the fast path
                append(item)
                seq += 1
                held += 1
                if kind is str:
                    size += len(item)
                if now >= send_at or held >= BATCH_MAX or size >= BATCH_BYTES:
                    write(batch)
                    held = size = 0
                    send_at = now + hold
                elif not writer.polling:  # chunks held: the flusher writes them if the generator stalls
                    writer.start_polling()
                continue
            final = False
            if raw:
                item, final = unwrap_chunk(item)
                kind = type(item)
            if kind in SCALARS:
                fragment = None
            else:
                fragment = plain_json(item) if kind is dict or kind is list or kind is tuple else None
                if fragment is None:  # bytes, arrays, objects...: a message of its own, in order
                    write(batch)
                    held = size = 0
                    send_one(call.id, seq, item)
                    seq += 1
                    batch.seq = seq  # nothing is pending: the next batch starts after this message
                    if final:
                        return
                    continue
                batch.fragments = True  # before the append: a flusher taking it sees the flag
                size += len(fragment)
            append(item if fragment is None else fragment)
            seq += 1
            held += 1
            if final:
                return  # close_batch writes it
            if now >= send_at or held >= BATCH_MAX or size >= BATCH_BYTES:
                write(batch)
                held = size = 0
                send_at = now + hold
            elif not writer.polling:
                writer.start_polling()
    finally:
        writer.close_batch(batch)  # what is left goes before the end
        close = getattr(source, "close", None)  # the tool's generator (or `_iterate`, which closes it) ends now
        if close is not None:
            close()
