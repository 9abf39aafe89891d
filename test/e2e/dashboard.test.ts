/**
 * The dashboard in a real headless Chromium (Debian's `chromium`, driven by puppeteer-core) against
 * a real server with a 2-worker pool of real Python workers. Screenshots go to a temporary folder,
 * or to docs/ with SNAKEPIT_SCREENSHOTS=1 (how the README's pictures are made).
 */

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { createApp } from "../../src/api/app.ts";
import { Snakepit } from "../../src/snakepit.ts";
import { DEMO, PYTHON, ROOT } from "../helpers.ts";

const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));
if (!CHROMIUM) console.log("skip: dashboard browser tests need Debian's chromium (scripts/optional-deps.sh installs it)");
const TOKEN = "dashboard-test-token";
const shots = process.env.SNAKEPIT_SCREENSHOTS === "1" ? join(ROOT, "docs") : mkdtempSync(join(tmpdir(), "snakepit-shots-"));

describe.skipIf(!CHROMIUM)("dashboard", () => {
  let pit: Snakepit;
  let server: ReturnType<typeof Bun.serve>;
  let browser: Browser;
  let url: string;

  beforeAll(async () => {
    pit = await Snakepit.start({ adapter: DEMO, poolSize: 2, python: PYTHON });
    server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: createApp({ pit, token: TOKEN, version: "test" }).fetch });
    url = `http://127.0.0.1:${server.port}`;
    browser = await puppeteer.launch({
      executablePath: CHROMIUM!,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
    });
  });

  afterAll(async () => {
    await browser?.close();
    server?.stop(true);
    await pit?.close();
  });

  async function open(token: string | undefined): Promise<{ page: Page; errors: string[] }> {
    const page = await browser.newPage();
    await page.setViewport({ width: 1400, height: 1000 });
    const errors: string[] = [];
    page.on("console", (msg) => {
      if (msg.type() === "error") errors.push(msg.text());
    });
    page.on("pageerror", (err) => errors.push(String(err)));
    if (token !== undefined) await page.evaluateOnNewDocument((t) => sessionStorage.setItem("snakepit.token", t), token);
    await page.goto(url + "/", { waitUntil: "load" });
    return { page, errors };
  }

  const workerPids = (page: Page) => page.$$eval("#workers tbody tr", (rows) => rows.map((r) => Number((r as HTMLElement).dataset.pid)));

  test("GET / serves the page with its assets embedded and strict headers", async () => {
    const res = await fetch(url + "/");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
    const html = await res.text();
    expect(html).toContain("/dashboard/app.js");
    let total = html.length;
    for (const path of ["/dashboard/app.js", "/dashboard/uplot.js", "/dashboard/style.css", "/dashboard/uplot.css"]) {
      const asset = await fetch(url + path);
      expect(asset.status).toBe(200);
      total += (await asset.text()).length;
      const again = await fetch(url + path, { headers: { "if-none-match": asset.headers.get("etag")! } });
      expect(again.status).toBe(304);
    }
    expect(total).toBeLessThan(300 * 1024); // "a few hundred KB at most"
    // The JSON routes still want the token.
    expect((await fetch(url + "/v1/workers")).status).toBe(401);
  });

  test("the page shows both workers, a call in the feed and the charts, recycles a worker and runs a tool", async () => {
    const { page, errors } = await open(TOKEN);
    await page.waitForFunction(() => document.querySelectorAll("#workers tbody tr").length === 2, { timeout: 15_000 });
    const shown = (await workerPids(page)).sort();
    expect(shown).toEqual(pit.listWorkers().map((w) => w.pid).sort());
    await page.waitForFunction(() => document.getElementById("stream-state")!.textContent === "events: live", { timeout: 10_000 }).catch(async (err) => {
      console.log(await page.$eval("#stream-state", (e) => e.textContent), await page.$eval("#banner", (e) => e.textContent), errors);
      throw err;
    });

    // A call made through the API shows up in the feed and in the calls/s chart within 2 s.
    const res = await fetch(url + "/v1/execute", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ tool: "add", args: { a: 20, b: 22 } }),
    });
    expect(await res.json()).toEqual({ result: 42 });
    const t0 = performance.now();
    await page.waitForFunction(() => [...document.querySelectorAll("#feed li")].some((li) => (li as HTMLElement).dataset.event === "call.stop" && li.textContent!.includes("tool=add")), { timeout: 2_000 });
    await page.waitForFunction(() => (window as unknown as { snakepitDashboard: { series: { calls: number[] } } }).snakepitDashboard.series.calls.some((v) => v > 0), { timeout: 2_000 });
    expect(performance.now() - t0).toBeLessThan(2_000);
    await page.screenshot({ path: join(shots, "dashboard.png"), fullPage: true });

    // Recycle the first worker: the page shows the replacement's pid.
    const [before] = await workerPids(page);
    await page.click("#workers tbody tr:first-child button");
    await page.waitForFunction((old) => {
      const pids = [...document.querySelectorAll("#workers tbody tr")].map((r) => Number((r as HTMLElement).dataset.pid));
      return pids.length === 2 && !pids.includes(old);
    }, { timeout: 20_000 }, before!);
    const live = pit.listWorkers().map((w) => w.pid).sort();
    expect(live).not.toContain(before);
    expect((await workerPids(page)).sort()).toEqual(live);

    // Drain the pool from the page: new calls are refused until "resume".
    await page.click("#pools tbody tr:first-child button");
    await page.waitForFunction(() => document.querySelector("#pools tbody tr:first-child")!.textContent!.includes("drained"), { timeout: 5_000 });
    const refused = await fetch(url + "/v1/execute", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ tool: "add", args: { a: 1, b: 1 } }),
    });
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({ code: "worker_unavailable", details: { draining: true } });
    await page.click("#pools tbody tr:first-child button");
    await page.waitForFunction(() => document.querySelector("#pools tbody tr:first-child")!.textContent!.includes("open"), { timeout: 5_000 });

    // The tool form, generated from add's JSON Schema, runs it and shows the result.
    await page.select("#tool-select", "add");
    await page.waitForSelector("#tool-fields input[name=a]");
    await page.type("#tool-fields input[name=a]", "2");
    await page.type("#tool-fields input[name=b]", "3");
    await page.click("#tool-run");
    await page.waitForFunction(() => !document.getElementById("tool-result")!.hidden && document.getElementById("tool-result")!.textContent!.trim() === "5", { timeout: 10_000 });

    expect(errors).toEqual([]); // nothing went wrong on the page so far
    // A typed error is shown as such, with the Python traceback.
    await page.select("#tool-select", "fail");
    await page.waitForSelector("#tool-fields input[name=message]");
    await page.$eval("#tool-fields input[name=message]", (e) => ((e as HTMLInputElement).value = "on purpose"));
    await page.click("#tool-run");
    await page.waitForFunction(() => document.getElementById("tool-result")!.textContent!.startsWith("python_exception"), { timeout: 10_000 });
    expect(await page.$eval("#tool-result", (e) => e.textContent)).toContain("Traceback");
    await page.screenshot({ path: join(shots, "dashboard-tool.png"), fullPage: true });
    // The only console line is Chromium's own note of the deliberate HTTP 500.
    expect(errors.filter((e) => !e.includes("status of 500"))).toEqual([]);
    await page.close();
  }, 60_000);

  test("a wrong token shows the login prompt, and the right one closes it", async () => {
    const { page } = await open("not-the-token");
    await page.waitForFunction(() => (document.getElementById("login") as HTMLDialogElement).open, { timeout: 10_000 });
    expect(await page.$eval("#login-reason", (e) => e.textContent)).toContain("refused");
    await page.screenshot({ path: join(shots, "dashboard-login.png") });
    await page.type("#login-token", TOKEN);
    await page.click("#login-form button");
    await page.waitForFunction(() => !(document.getElementById("login") as HTMLDialogElement).open && document.querySelectorAll("#workers tbody tr").length === 2, { timeout: 10_000 });
    await page.close();
  }, 30_000);

  test("the page says so when the event stream drops, and reconnects", async () => {
    // A server of its own, so stopping it cuts this page's connections only.
    const app = createApp({ pit, token: TOKEN, version: "test" });
    let own = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch });
    const port = own.port!;
    const page = await browser.newPage();
    await page.evaluateOnNewDocument((t) => sessionStorage.setItem("snakepit.token", t), TOKEN);
    await page.goto(`http://127.0.0.1:${port}/`, { waitUntil: "load" });
    const streamState = () => page.$eval("#stream-state", (e) => e.textContent);
    await page.waitForFunction(() => document.getElementById("stream-state")!.textContent === "events: live", { timeout: 10_000 });
    own.stop(true);
    await page.waitForFunction(() => document.getElementById("stream-state")!.textContent === "events: disconnected", { timeout: 10_000 });
    expect(await page.$eval("#banner", (e) => e.textContent)).toContain("Live events disconnected");
    try {
      own = Bun.serve({ hostname: "127.0.0.1", port, fetch: app.fetch });
    } catch {
      console.log("skip: could not listen on the same port again; reconnection not checked");
      await page.close();
      return;
    }
    await page.waitForFunction(() => document.getElementById("stream-state")!.textContent === "events: live", { timeout: 20_000 });
    expect(await streamState()).toBe("events: live");
    await page.close();
    own.stop(true);
  }, 40_000);
});
