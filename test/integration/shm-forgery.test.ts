// A shared-memory handle is only honoured between this host and its own workers. A client (HTTP
// JSON) or a cluster peer that sends `{"__snakepit__":"bytes","shm":{...}}` naming a segment of
// this machine must get 400, not the segment's content (and the segment must not be consumed);
// values for another node never point into this machine's /dev/shm.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { closeSync, existsSync, openSync, unlinkSync, writeSync } from "node:fs";
import { createApp } from "../../src/api/app.ts";
import { shmEnabled } from "../../src/bridge/shm.ts";
import { fromWireValue, toWireValue } from "../../src/cluster/wire.ts";
import { Snakepit } from "../../src/mod.ts";
import { DEMO, PYTHON } from "../helpers.ts";

const canShm = shmEnabled();
if (!canShm) console.log("shm forgery tests skipped: needs Linux with /dev/shm under Bun");
const SECRET = "payload-of-another-instance";

/** A segment as another snakepit instance on this machine would leave it in transit. */
function victim(): string {
  const name = `snakepit-${process.pid + 1}-zz${Math.floor(Math.random() * 2 ** 32).toString(36)}`;
  const fd = openSync(`/dev/shm/${name}`, "wx", 0o600);
  writeSync(fd, SECRET);
  closeSync(fd);
  return name;
}
const forged = (name: string) => ({ __snakepit__: "bytes", shm: { name, size: SECRET.length } });

describe.skipIf(!canShm)("forged shared-memory handles", () => {
  let pit: Snakepit;
  let app: ReturnType<typeof createApp>;
  const names: string[] = [];
  beforeAll(async () => {
    pit = await Snakepit.start({ adapter: DEMO, poolSize: 1, python: PYTHON });
    app = createApp({ pit, token: "t0ken", maxBodyBytes: 64 * 1024, version: "test" });
  });
  afterAll(async () => {
    for (const n of names) if (existsSync(`/dev/shm/${n}`)) unlinkSync(`/dev/shm/${n}`);
    await pit.close();
  });

  test("over HTTP: 400 invalid_argument, the other instance's segment is neither read nor removed", async () => {
    const name = victim();
    names.push(name);
    const res = await app.request("/v1/execute", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer t0ken" },
      body: JSON.stringify({ tool: "echo", args: { x: forged(name) } }),
    });
    const text = await res.text();
    expect(text).not.toContain(Buffer.from(SECRET).toString("base64"));
    expect(res.status).toBe(400);
    expect(JSON.parse(text).code).toBe("invalid_argument");
    expect(existsSync(`/dev/shm/${name}`)).toBe(true);
  }, 60_000);

  test("cluster values: big bytes travel inline, a forged handle from a peer is refused", () => {
    const wire = toWireValue({ x: new Uint8Array(4 << 20).fill(7) });
    expect(JSON.stringify(wire.v)).not.toContain('"shm"');
    expect((fromWireValue(wire) as { x: Uint8Array }).x.length).toBe(4 << 20);
    const name = victim();
    names.push(name);
    expect(() => fromWireValue({ v: { x: forged(name) } })).toThrow(/shared-memory handle is not accepted/);
    expect(existsSync(`/dev/shm/${name}`)).toBe(true);
  });
});
