/** The host's glob matcher over the table Python is tested with too (test/fixtures/glob-cases.json). */

import { expect, test } from "bun:test";
import { globMatcher } from "../../src/telemetry/glob.ts";
import cases from "../fixtures/glob-cases.json";

test("every case of the shared glob table matches as listed", () => {
  expect(cases.length).toBeGreaterThan(20);
  for (const c of cases as Array<{ pattern: string; name: string; match: boolean }>) {
    expect({ ...c, match: globMatcher(c.pattern)(c.name) }).toEqual(c);
  }
});
