// The README's architecture table names every folder of src/ and no folder that does not exist.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../helpers.ts";

const readme = readFileSync(join(ROOT, "README.md"), "utf8");
const section = readme.slice(readme.indexOf("## Architecture"), readme.indexOf("\n## ", readme.indexOf("## Architecture") + 3));

describe("README.md > Architecture", () => {
  test("its folder table lists exactly the folders of src/", () => {
    const firstCells = [...section.matchAll(/^\| ([^|]+) \|/gm)].map((m) => m[1]!);
    const listed = firstCells.flatMap((cell) => [...cell.matchAll(/`([a-z-]+)\/`/g)].map((m) => m[1]!));
    const folders = readdirSync(join(ROOT, "src")).filter((f) => statSync(join(ROOT, "src", f)).isDirectory());
    expect(listed.sort()).toEqual(folders.sort());
  });

  test("the files it points to exist", () => {
    for (const path of ["src/call/guard.ts", "docs/architecture.md", "test/unit/architecture.test.ts"]) {
      expect(section).toContain(path.replace(/^docs\//, "docs/"));
      expect(statSync(join(ROOT, path)).isFile()).toBe(true);
    }
  });
});
