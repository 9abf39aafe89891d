// The server's token (issue 10 point 8): from a file or pipe, refused when blank, and out of reach
// of the tools it runs: not in their env, not in the host's /proc environ/cmdline/mem.
import { describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config/load.ts";
import { resolveToken } from "../../src/config/token.ts";
import { fixture, PYTHON } from "../helpers.ts";

const MAIN = new URL("../../src/cli/main.ts", import.meta.url).pathname;
const TOKEN = "tok-3f9a1c7e5b2d4a68";

function tempDir(): { dir: string; [Symbol.dispose](): void } {
  const dir = mkdtempSync(join(tmpdir(), "snakepit-token-"));
  return { dir, [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }) };
}

describe("resolveToken() and loadConfig()", () => {
  test("reads SNAKEPIT_TOKEN_FILE / --token-file; refuses blank tokens, both sources, and files others can read", async () => {
    using tmp = tempDir();
    const file = join(tmp.dir, "token");
    writeFileSync(file, `${TOKEN}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
    expect((await loadConfig({ env: { SNAKEPIT_TOKEN_FILE: file }, flags: { adapter: "x.py" } })).server.token).toBe(TOKEN);
    expect((await loadConfig({ env: {}, flags: { adapter: "x.py", tokenFile: file } })).server.token).toBe(TOKEN);
    expect((await loadConfig({ env: { SNAKEPIT_TOKEN: TOKEN }, flags: { adapter: "x.py" } })).server.token).toBe(TOKEN);
    const refused = (server: Record<string, string>) => {
      try {
        resolveToken(server);
        return "accepted";
      } catch (err) {
        return `${(err as { code: string }).code}: ${(err as Error).message}`;
      }
    };
    expect(refused({ token: "        " })).toMatch(/^config_invalid: .*empty or only whitespace/);
    expect(refused({ token: TOKEN, tokenFile: file })).toMatch(/^config_invalid: Give the token once/);
    expect(refused({ tokenFile: join(tmp.dir, "missing") })).toMatch(/^config_invalid: Cannot read the token file/);
    writeFileSync(join(tmp.dir, "blank"), " \n\t\n", { mode: 0o600 });
    expect(refused({ tokenFile: join(tmp.dir, "blank") })).toMatch(/is empty \(or only whitespace\)/);
    chmodSync(file, 0o644);
    expect(refused({ tokenFile: file })).toMatch(/can be read by other users \(mode 644\): run chmod 600/);
    await expect(loadConfig({ env: { SNAKEPIT_TOKEN: "        " }, flags: { adapter: "x.py", host: "0.0.0.0" } })).rejects.toMatchObject({ code: "config_invalid" });
  });
});

describe("a tool cannot read the token", () => {
  // As root with CAP_SYS_PTRACE nothing stops a tool (SECURITY.md): run the host without capabilities.
  const wrap = process.getuid?.() === 0 ? ["/usr/bin/setpriv", "--bounding-set=-all", "--inh-caps=-all", "--"] : [];
  const canWrap = wrap.length === 0 || Bun.spawnSync(["test", "-x", wrap[0]!]).exitCode === 0;
  test.skipIf(!canWrap)("the host's environ, cmdline and mem, the tool's env, and the (piped) token file", async () => {
    if (!canWrap) console.log("skipped: running as root and /usr/bin/setpriv is missing to drop capabilities");
    using tmp = tempDir();
    const fifo = join(tmp.dir, "token.pipe");
    expect(Bun.spawnSync(["mkfifo", "-m", "600", fifo]).exitCode).toBe(0);
    const writer = Bun.spawn(["sh", "-c", `printf '%s\\n' "$1" > "$2"`, "sh", TOKEN, fifo]);
    const host = Bun.spawn([...wrap, process.execPath, MAIN, "serve", "--adapter", fixture("snoop.py"), "--python", PYTHON, "--pool-size", "1", "--port", "0"], {
      env: { ...process.env, SNAKEPIT_TOKEN_FILE: fifo, SNAKEPIT_INSTANCE: `token-test-${process.pid}` },
      stdout: "pipe",
      stderr: "inherit",
    });
    try {
      await writer.exited;
      let out = "";
      const reader = host.stdout.getReader();
      while (!/listening on (\S+)/.test(out)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`the host exited before listening: ${out}`);
        out += new TextDecoder().decode(value);
      }
      const url = /listening on (\S+)/.exec(out)![1]!;
      const call = (token: string) => fetch(`${url}/v1/execute`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ tool: "snoop", args: { token_file: fifo } }),
      });
      expect((await call("wrong-token-123")).status).toBe(401);
      const res = await call(TOKEN);
      expect(res.status).toBe(200);
      const { result } = (await res.json()) as { result: Record<string, string | number> };
      expect(result.host_pid).toBe(host.pid);
      expect(String(result.environ)).toMatch(/^error: Permission denied/);
      expect(String(result.mem)).toMatch(/^error: Permission denied/);
      expect(String(result.cmdline)).toContain("serve"); // readable, as for `ps`: it holds no token
      for (const seen of Object.values(result)) expect(String(seen)).not.toContain(TOKEN);
      expect(String(result.own_env)).not.toContain("SNAKEPIT_TOKEN");
    } finally {
      host.kill("SIGTERM");
      await host.exited;
      writer.kill();
    }
  }, 60_000);
});
