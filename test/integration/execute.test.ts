import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { isNDArray, Snakepit } from "../../src/mod.ts";
import { failure, DEMO, fixture, PYTHON } from "../helpers.ts";

let pit: Snakepit;
beforeAll(async () => {
  pit = await Snakepit.start({ adapter: fixture("echo.py"), poolSize: 2, python: PYTHON });
});
afterAll(() => pit.close());

describe("Snakepit.execute() type round trip", () => {
  const cases: Array<[string, unknown, string]> = [
    ["int", 5, "int"],
    ["negative int", -42, "int"],
    ["float", 2.5, "float"],
    ["zero", 0, "int"],
    ["null", null, "NoneType"],
    ["true", true, "bool"],
    ["false", false, "bool"],
    ["string", "héllo ✓ \u0000 \n", "str"],
    ["empty string", "", "str"],
    ["bytes", new Uint8Array([0, 1, 2, 255]), "bytes"],
    ["empty bytes", new Uint8Array(0), "bytes"],
    ["list", [1, "a", null, [2.5, false]], "list"],
    ["dict", { a: { b: [1, { c: null }] } }, "dict"],
    ["empty dict", {}, "dict"],
    ["bigint beyond 2^53", 2n ** 70n, "int"],
    ["negative bigint", -(2n ** 64n), "int"],
    ["NaN", Number.NaN, "float"],
    ["Infinity", Infinity, "float"],
    ["-Infinity", -Infinity, "float"],
    ["nested bytes", { blobs: [new Uint8Array([7]), new Uint8Array([8, 9])] }, "dict"],
  ];
  for (const [name, value, pyType] of cases) {
    test(`${name} keeps its value and arrives as Python ${pyType}`, async () => {
      expect(await pit.execute("types", { value })).toBe(pyType);
      const back = await pit.execute("echo", { value });
      if (typeof value === "number" && Number.isNaN(value)) expect(Number.isNaN(back as number)).toBe(true);
      else expect(back).toEqual(value);
    });
  }

  test("an int stays an int: 5 comes back as 5, not 5.0", async () => {
    expect(await pit.execute("types", { value: 5 })).toBe("int");
    expect(await pit.execute("echo", { value: 5 })).toBe(5);
  });

  test("typed arrays arrive as arrays and come back as an NDArray envelope", async () => {
    const back = await pit.execute("echo", { value: new Float32Array([1.5, 2.5]) });
    expect(["array", "ndarray"]).toContain(await pit.execute("types", { value: new Float32Array([1]) }));
    if (isNDArray(back)) {
      expect(back.dtype).toBe("float32");
      expect([...back.data]).toEqual([1.5, 2.5]);
    } else {
      // Without numpy, array.array comes back through tolist(): a plain list.
      expect(back).toEqual([1.5, 2.5]);
    }
  });

  test("a 4 MiB bytes value round-trips intact", async () => {
    const big = new Uint8Array(4 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big[i] = i % 251;
    const back = (await pit.execute("echo", { value: big })) as Uint8Array;
    expect(back.length).toBe(big.length);
    expect(Buffer.compare(back, big)).toBe(0);
  });
});

describe("Snakepit.execute() errors", () => {
  test("a wrongly typed argument is invalid_argument naming the parameter", async () => {
    const err = await failure(pit.execute("typed", { a: "one", b: 1, s: "", flag: true, items: [], opts: {} }));
    expect(err).toMatchObject({ code: "invalid_argument", details: { field: "a" } });
    expect(err.message).toContain("a must be an integer, got str");
  });

  test("a missing argument is invalid_argument naming it", async () => {
    const err = await failure(pit.execute("typed", { a: 1 }));
    expect(err).toMatchObject({ code: "invalid_argument", details: { field: "b" } });
    expect(err.message).toContain("missing required argument 'b'");
  });

  test("an unknown argument is invalid_argument naming it", async () => {
    const err = await failure(pit.execute("pid", { nope: 1 }));
    expect(err).toMatchObject({ code: "invalid_argument", details: { field: "nope" } });
  });

  test("an unknown tool is tool_not_found listing the available ones", async () => {
    const err = await failure(pit.execute("no_such_tool"));
    expect(err.code).toBe("tool_not_found");
    expect(err.message).toContain("available: ");
    expect(err.message).toContain("echo");
  });

  test("bad host-side input is rejected before it reaches a worker", async () => {
    await expect(pit.execute("", {})).rejects.toMatchObject({ code: "invalid_argument" });
    // @ts-expect-error: args must be an object
    await expect(pit.execute("echo", [1, 2])).rejects.toMatchObject({ code: "invalid_argument" });
    await expect(pit.execute("echo", {}, { pool: "nope" })).rejects.toMatchObject({ code: "invalid_argument" });
  });

  test("the pool keeps serving after every kind of bad input", async () => {
    expect(await pit.execute("echo", { value: "ok" })).toBe("ok");
    expect(pit.stats().workers).toBe(2);
  });

  test("a correct call with every annotated type passes validation", async () => {
    const args = { a: 1, b: 2, s: "x", flag: false, items: [1], opts: { k: "v" }, maybe: null };
    expect(await pit.execute("typed", args)).toEqual(args);
  });
});

describe("Snakepit.execute() with the demo adapter", () => {
  test("Python exceptions keep their type, message and traceback", async () => {
    await using demo = await Snakepit.start({ adapter: DEMO, poolSize: 1, python: PYTHON });
    const err = await failure(demo.execute("fail", { message: "kaboom" }));
    expect(err.code).toBe("python_exception");
    expect(err.message).toBe("RuntimeError: kaboom");
    expect(err.python.type).toBe("RuntimeError");
    expect(err.python.traceback).toContain("raise RuntimeError(message)");
    expect(await demo.execute("async_add", { a: 2, b: 3 })).toBe(5);
    expect(await demo.execute("greet", { name: "Ada", lang: "fr" })).toBe("Bonjour, Ada!");
  });

  test("tools() lists each tool with a JSON Schema of its parameters", async () => {
    await using demo = await Snakepit.start({ adapter: DEMO, poolSize: 1, python: PYTHON });
    const add = demo.tools.list().find((t) => t.name === "add");
    expect(add).toMatchObject({
      description: "Add two numbers",
      streaming: false,
      parameters: { type: "object", properties: { a: { type: "number" }, b: { type: "number", default: 0 } }, required: ["a"] },
    });
    expect(demo.tools.list().find((t) => t.name === "count")?.streaming).toBe(true);
  });
});

describe("several pools", () => {
  test("each pool has its own adapter, size, env and interpreter arguments", async () => {
    await using pit = await Snakepit.start({
      python: PYTHON,
      poolSize: 1,
      pools: [
        { name: "demo", adapter: DEMO, poolSize: 2 },
        { name: "echo", adapter: fixture("echo.py"), env: { MARK: "echo-pool" }, pythonArgs: ["-X", "utf8"] },
      ],
    });
    expect(pit.poolNames).toEqual(["demo", "echo"]);
    expect(await pit.execute("add", { a: 1, b: 1 }, { pool: "demo" })).toBe(2);
    expect(await pit.execute("echo", { value: "x" }, { pool: "echo" })).toBe("x");
    await expect(pit.execute("add", { a: 1 }, { pool: "echo" })).rejects.toMatchObject({ code: "tool_not_found" });
    expect(pit.listWorkers().map((w) => w.pool)).toEqual(["demo", "demo", "echo"]);
    expect(pit.stats().pools.echo!.workers).toBe(1);
    // The default pool is the first one.
    expect(await pit.execute("add", { a: 2, b: 2 })).toBe(4);
  });

  test("two pools with one name are refused", async () => {
    await expect(Snakepit.start({ python: PYTHON, pools: [{ name: "a", adapter: DEMO }, { name: "a", adapter: DEMO }] })).rejects.toMatchObject({ code: "config_invalid" });
  });
});
