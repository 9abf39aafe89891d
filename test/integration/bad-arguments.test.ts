/**
 * Arguments Python cannot decode (nested past its limit, lone surrogates) are answered with
 * invalid_argument for that call, fast, and the worker that refused them keeps serving.
 */

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Snakepit } from "../../src/mod.ts";
import { failure, fixture, PYTHON } from "../helpers.ts";

/** Python's limit: python/snakepit_bridge/decode.py MAX_DEPTH. */
const PYTHON_MAX_DEPTH = 256;

function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

describe("arguments Python cannot decode", () => {
  let pit: Snakepit;
  beforeAll(async () => {
    pit = await Snakepit.start({ adapter: fixture("echo.py"), poolSize: 1, python: PYTHON });
  });
  afterAll(() => pit.close());

  const pid = () => pit.execute<number>("pid");

  test("1000 levels deep: invalid_argument naming the limit, in well under a second, same worker", async () => {
    const before = await pid();
    const started = performance.now();
    const err = await failure(pit.execute("echo", { value: nested(1000) }));
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(err.code).toBe("invalid_argument");
    expect(err.message).toContain(`the limit is ${PYTHON_MAX_DEPTH}`);
    expect(await pid()).toBe(before);
  });

  test("100 000 levels deep: invalid_argument, same worker", async () => {
    const before = await pid();
    expect((await failure(pit.execute("echo", { value: nested(100_000) }))).code).toBe("invalid_argument");
    expect(await pid()).toBe(before);
  });

  test("just under the limit passes", async () => {
    expect(await pit.execute("echo", { value: nested(PYTHON_MAX_DEPTH - 2) })).toEqual(nested(PYTHON_MAX_DEPTH - 2));
  });

  test("a lone surrogate: invalid_argument naming the argument, same worker", async () => {
    const before = await pid();
    const err = await failure(pit.execute("echo", { value: { text: "a\ud800b" } }));
    expect(err.code).toBe("invalid_argument");
    expect(err.message).toContain("lone UTF-16 surrogate");
    expect(err.message).toContain("value.text");
    expect(await pid()).toBe(before);
  });
});
