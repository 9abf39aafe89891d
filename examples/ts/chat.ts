// A session-pinned conversation, streamed generation, and an embedding, against examples/adapters/textgen.py.
// Run: npx bun examples/ts/chat.ts
import { isNDArray, Snakepit } from "snakepit";

await using pit = await Snakepit.start({
  adapter: new URL("../adapters/textgen.py:TextGen", import.meta.url).pathname,
  poolSize: 2,
  affinity: "strict_queue", // a session's history lives in one worker
});

const chat = pit.session("user-1");
console.log((await chat.execute<{ reply: string }>("chat", { message: "the pool" })).reply);
console.log((await chat.execute<{ turns: number }>("chat", { message: "and the host" })).turns); // 2

const tokens: string[] = [];
for await (const t of pit.stream<{ token: string }>("generate", { prompt: "the workers", max_tokens: 5 })) tokens.push(t.token);
console.log(tokens.length); // 5

const vec = await pit.execute("embed", { text: "hello" });
console.log(isNDArray(vec) ? `${vec.dtype} [${vec.shape}]` : `bytes ${(vec as Uint8Array).length}`); // float32 [8] (or bytes 32 without numpy)
