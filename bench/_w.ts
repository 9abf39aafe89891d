import { sequential } from "./lib.ts";
const script = new URL("./baselines/raw_echo.py", import.meta.url).pathname;
function pipe(cpu: string) {
  const proc = Bun.spawn(["taskset", "-c", cpu, "/usr/bin/python3", script], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  const waiters = new Map<number, (v: number) => void>(); const reader = proc.stdout.getReader(); const td = new TextDecoder(); let buf = "";
  void (async () => { for (;;) { const { done, value } = await reader.read(); if (done) return; buf += td.decode(value); let nl; while ((nl = buf.indexOf("\n")) >= 0) { const m = JSON.parse(buf.slice(0, nl)); buf = buf.slice(nl + 1); waiters.get(m.id)!(m.result); waiters.delete(m.id); } } })();
  let id = 0;
  return { call(a: number) { const i = id++; return new Promise<number>((res) => { waiters.set(i, res); proc.stdin.write(`{"id":${i},"a":${a},"b":1}\n`); proc.stdin.flush(); }); }, close() { proc.kill(); } };
}
for (let r = 0; r < 3; r++) for (const cpu of ["0", "1", "0,1"]) { const c = pipe(cpu); console.log("python on cpu", cpu, (await sequential((i) => c.call(i), 3000)).p50Us, "µs"); c.close(); }
