/** Printing for the CLI: plain lines, a small table, and start-up progress. */

import { isTerminal } from "../runtime/process.ts";

/** Print a table of records with aligned columns. */
export function table(rows: Array<Record<string, unknown>>, columns: string[]): string {
  const cells = [columns, ...rows.map((r) => columns.map((c) => formatCell(r[c])))];
  const widths = columns.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  return cells.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n");
}

function formatCell(v: unknown): string {
  if (v === undefined || v === null) return "-";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(2);
  return String(v);
}

/** Start-up progress: a live line on a terminal, one line per event otherwise. */
export function progress(total: number): { step(label: string): void; done(label: string): void } {
  const tty = isTerminal();
  let count = 0;
  return {
    step(label) {
      count++;
      if (tty) process.stdout.write(`\r\x1b[2K  [${count}/${total}] ${label}`);
      else console.log(`  ${label}`);
    },
    done(label) {
      if (tty) process.stdout.write("\r\x1b[2K");
      console.log(label);
    },
  };
}
