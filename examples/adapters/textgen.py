"""A toy text generator that shows the shape of a real model adapter.

- The "model" (a word bigram table) is built once per worker in setup(), like loading weights.
- `generate` streams tokens as they are produced; it stops as soon as the caller cancels.
- `chat` keeps the conversation in the session's state, so a session should stay on one worker
  (affinity strict_queue), exactly as a KV cache or loaded LoRA would.
- `embed` returns a float32 array: numpy when installed, else a typed array of the same bytes.
"""

import array
import hashlib
import time
from collections import defaultdict

from snakepit_bridge import Adapter, ToolContext, tool

CORPUS = """the pool starts the workers and the workers load the model once the model answers
the calls and the calls stream tokens back to the host the host keeps the sessions and the
sessions keep the state in the worker that owns it"""


class TextGen(Adapter):
    def setup(self) -> None:
        words = CORPUS.split()
        self.next_words = defaultdict(list)
        for a, b in zip(words, words[1:]):
            self.next_words[a].append(b)

    def _continue(self, word: str, i: int) -> str:
        options = self.next_words.get(word) or ["the"]
        return options[i % len(options)]

    @tool(description="Stream up to max_tokens words after the prompt", streaming=True)
    def generate(self, prompt: str, ctx: ToolContext, max_tokens: int = 16, delay_ms: int = 0):
        word = (prompt.split() or ["the"])[-1]
        for i in range(max_tokens):
            ctx.check_cancelled()
            if delay_ms:
                time.sleep(delay_ms / 1000)
            word = self._continue(word, i)
            yield {"token": word, "index": i}

    @tool(description="One turn of a conversation kept in the session")
    def chat(self, message: str, ctx: ToolContext) -> dict:
        history = ctx.state.setdefault("history", [])
        history.append(message)
        reply = " ".join(t["token"] for t in self.generate(message, ctx, max_tokens=4))
        history.append(reply)
        return {"reply": reply, "turns": len(history) // 2}

    @tool(description="A deterministic 8-dimensional embedding of the text")
    def embed(self, text: str):
        digest = hashlib.sha256(text.encode()).digest()
        values = [b / 255.0 for b in digest[:8]]
        try:
            import numpy as np

            return np.asarray(values, dtype=np.float32)
        except ImportError:
            return bytes(array.array("f", values).tobytes())
