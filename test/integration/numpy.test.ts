import { describe, expect, test } from "bun:test";
import { isNDArray, Snakepit } from "../../src/mod.ts";
import { fixture, PYTHON } from "../helpers.ts";

const hasNumpy = Bun.spawnSync([PYTHON, "-c", "import numpy"]).exitCode === 0;
if (!hasNumpy) console.log(`numpy tests skipped: ${PYTHON} cannot import numpy (scripts/optional-deps.sh installs it as root)`);

describe.skipIf(!hasNumpy)("numpy arrays", () => {
  test("typed arrays arrive as numpy arrays and come back as NDArray with dtype and shape", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("arrays.py"), poolSize: 1, python: PYTHON });
    expect(await pit.execute("describe", { x: new Float32Array([1, 2, 3]) })).toEqual({ type: "ndarray", dtype: "float32", shape: [3] });
    const m = await pit.execute("matrix", { rows: 2, cols: 3 });
    expect(isNDArray(m)).toBe(true);
    if (!isNDArray(m)) return;
    expect(m.dtype).toBe("float32");
    expect(m.shape).toEqual([2, 3]);
    expect([...m.data]).toEqual([0, 1, 2, 3, 4, 5]);
    // An NDArray goes back in with its shape.
    expect(await pit.execute("describe", { x: m })).toEqual({ type: "ndarray", dtype: "float32", shape: [2, 3] });
    const scaled = await pit.execute("scale", { x: { dtype: "int32", shape: [2], data: new Int32Array([5, -6]) }, factor: 2 });
    expect(isNDArray(scaled) && [...scaled.data]).toEqual([10, -12]);
  });

  test("numpy scalars become numbers; unsupported dtypes become lists", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("arrays.py"), poolSize: 1, python: PYTHON });
    expect(await pit.execute("scalar")).toEqual({ i: 7, f: 0.5, big: 2n ** 63n });
    expect(await pit.execute("strings")).toEqual(["a", "b"]);
  });

  test("a 16 MiB float64 array round-trips as raw bytes", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("arrays.py"), poolSize: 1, python: PYTHON });
    const x = new Float64Array(2 * 1024 * 1024).map((_, i) => i * 0.5);
    const back = await pit.execute("scale", { x, factor: 1 });
    expect(isNDArray(back)).toBe(true);
    if (!isNDArray(back)) return;
    expect(back.data.length).toBe(x.length);
    expect(back.data[12345]).toBe(x[12345]!);
  });
});
