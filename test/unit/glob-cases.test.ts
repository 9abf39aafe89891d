// The shared glob table (test/fixtures/glob-cases.json): the Python side runs the same table.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { globMatcher } from "../../src/telemetry/glob.ts";

const table = JSON.parse(readFileSync(new URL("../fixtures/glob-cases.json", import.meta.url), "utf8")) as {
  cases: Array<{ glob: string; name: string; match: boolean }>;
};

describe("globMatcher()", () => {
  test("the table has cases for every rule", () => {
    expect(table.cases.length).toBeGreaterThan(20);
    expect(table.cases.some((c) => c.glob.includes("?"))).toBe(true);
    expect(table.cases.some((c) => c.glob.includes("["))).toBe(true);
  });
  for (const c of table.cases) {
    test(`${JSON.stringify(c.glob)} ${c.match ? "matches" : "does not match"} ${JSON.stringify(c.name)}`, () => {
      expect(globMatcher(c.glob)(c.name)).toBe(c.match);
    });
  }
});
