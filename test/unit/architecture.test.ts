// The shape of the tree: no folder-level import cycle in src/, no file over 300 lines in src/ or python/.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "../..");
const SRC = join(ROOT, "src");
const MAX_LINES = 300;
/** Generated code is exempt from the line limit. */
const GENERATED = [/^src\/bridge\/gen\//, /_pb2(_grpc)?\.py$/];

function files(dir: string, ext: RegExp): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === "node_modules" || name === "__pycache__" || name.startsWith(".")) return [];
    return statSync(path).isDirectory() ? files(path, ext) : ext.test(name) ? [path] : [];
  });
}

/** The folder a file of src/ belongs to: its first path segment ("snakepit.ts" for files at the top). */
function folderOf(file: string): string {
  return relative(SRC, file).split("/")[0]!;
}

/** Relative imports of a TypeScript file, resolved to absolute paths (type-only imports included). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s+["'](\.{1,2}\/[^"']+)["']/g)) out.push(resolve(dirname(file), m[1]!));
  for (const m of text.matchAll(/\bimport\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g)) out.push(resolve(dirname(file), m[1]!));
  return out;
}

/** Folder graph: folder -> folder -> one file-level import that makes the edge (for the message). */
export function folderGraph(): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  for (const file of files(SRC, /\.ts$/)) {
    const from = folderOf(file);
    const edges = graph.get(from) ?? new Map<string, string>();
    graph.set(from, edges);
    for (const target of importsOf(file)) {
      if (!target.startsWith(SRC + "/")) continue;
      const to = folderOf(target);
      if (to !== from && !edges.has(to)) edges.set(to, `${relative(ROOT, file)} -> ${relative(ROOT, target)}`);
    }
  }
  return graph;
}

/** Every cycle's strongly connected component (Tarjan), each with more than one folder. */
function cycles(graph: Map<string, Map<string, string>>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v)?.keys() ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) out.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

describe("architecture", () => {
  test("src/ has no folder-level import cycle", () => {
    const graph = folderGraph();
    const found = cycles(graph).map((scc) => {
      const edges = scc.flatMap((a) => scc.filter((b) => graph.get(a)?.has(b)).map((b) => `  ${a} -> ${b} (${graph.get(a)!.get(b)})`));
      return `cycle among ${scc.join(", ")}:\n${edges.join("\n")}`;
    });
    expect(found.join("\n")).toBe("");
  });

  test("no file in src/ or python/ is over 300 lines (generated code aside)", () => {
    const all = [...files(SRC, /\.ts$/), ...files(join(ROOT, "python"), /\.py$/)];
    const long = all
      .map((f) => ({ file: relative(ROOT, f), lines: readFileSync(f, "utf8").split("\n").length - 1 }))
      .filter((f) => f.lines > MAX_LINES && !GENERATED.some((re) => re.test(f.file)))
      .map((f) => `${f.file}: ${f.lines} lines`);
    expect(long).toEqual([]);
  });

  test("the cycle check sees a planted cycle", () => {
    const graph = new Map([["a", new Map([["b", "x"]])], ["b", new Map([["c", "y"]])], ["c", new Map([["a", "z"]])], ["d", new Map([["a", "w"]])]]);
    expect(cycles(graph)).toEqual([["a", "b", "c"]]);
  });
});
