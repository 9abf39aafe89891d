import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { clusterSettings } from "../../src/cluster/flags.ts";
import { parseClusterConfig } from "../../src/config/cluster.ts";
import { fromWireError, fromWireValue, toWireError, toWireValue } from "../../src/cluster/wire.ts";
import { loadConfig } from "../../src/config/load.ts";
import { SnakepitError } from "../../src/errors.ts";

describe("parseClusterConfig()", () => {
  test("takes a URL alone and fills the defaults", () => {
    expect(parseClusterConfig("nats://10.0.0.1:4222")).toMatchObject({ url: "nats://10.0.0.1:4222", prefix: "snakepit", heartbeatMs: 1000, nodeTimeoutMs: 4000, streamCredit: 16 });
  });

  test("rejects bad fields with config_invalid naming each", () => {
    const bad = (input: unknown, field: string) => {
      let err: unknown;
      try {
        parseClusterConfig(input);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SnakepitError);
      expect(err).toMatchObject({ code: "config_invalid" });
      expect((err as Error).message).toContain(field);
    };
    bad({ url: "nats://x", node: "a b" }, "cluster.node");
    bad({ url: "nats://x", prefix: "a.b" }, "cluster.prefix");
    bad({ url: "nats://x", user: "u" }, "cluster.pass");
    bad({ url: "nats://x", heartbeatMs: 5000, nodeTimeoutMs: 1000 }, "cluster.nodeTimeoutMs");
    bad({ url: "nats://x", frobnicate: 1 }, "cluster.frobnicate");
    bad({}, "cluster.url");
  });
});

describe("clusterSettings()", () => {
  test("flags win over the environment, which wins over the file", () => {
    const file = { url: "nats://file:4222", node: "file-node", token: "t0" };
    expect(clusterSettings(file, {}, {})).toEqual(file);
    expect(clusterSettings(file, { SNAKEPIT_CLUSTER: "nats://env:4222", SNAKEPIT_NODE: "env-node" }, { node: "flag-node" }))
      .toEqual({ url: "nats://env:4222", node: "flag-node", token: "t0" });
    expect(clusterSettings(undefined, {}, { cluster: "nats://flag:4222", "cluster-prefix": "blue" })).toEqual({ url: "nats://flag:4222", prefix: "blue" });
  });

  test("no URL anywhere: not clustered; settings without a URL: config_invalid", () => {
    expect(clusterSettings(undefined, {}, {})).toBeUndefined();
    expect(() => clusterSettings(undefined, {}, { node: "a" })).toThrow(expect.objectContaining({ code: "config_invalid" }));
  });

  test("loadConfig() reads a [cluster] table with snake_case keys", async () => {
    const dir = mkdtempSync(join(tmpdir(), "snakepit-cluster-cfg-"));
    const file = join(dir, "node.toml");
    writeFileSync(file, 'adapter = "x.py"\n[cluster]\nurl = "nats://h:4222"\nnode_timeout_ms = 9000\n[cluster.tls]\nca_file = "/etc/ca.pem"\n');
    const loaded = await loadConfig({ file });
    expect(loaded.cluster).toEqual({ url: "nats://h:4222", nodeTimeoutMs: 9000, tls: { caFile: "/etc/ca.pem" } });
    expect(loaded.pools[0]!.adapter).toBe("x.py");
  });
});

describe("cluster wire", () => {
  test("errors keep code, message, details and Python facts; the node is added", () => {
    const e = new SnakepitError("python_exception", "bad", { details: { tool: "t", blob: new Uint8Array([1, 2]) }, python: { type: "ValueError", kind: "ValueError", traceback: "tb" } });
    const back = fromWireError(JSON.parse(JSON.stringify(toWireError(e))), "n2");
    expect(back).toBeInstanceOf(SnakepitError);
    expect(back).toMatchObject({ code: "python_exception", message: "bad", details: { tool: "t", node: "n2", blob: new Uint8Array([1, 2]) }, python: { type: "ValueError", traceback: "tb" } });
    expect(fromWireError({ code: "no_such_code", message: "?" })).toMatchObject({ code: "internal" });
  });

  test("values survive the trip: bytes, NaN, big ints, nesting", () => {
    const value = { b: new Uint8Array([0, 255]), n: NaN, i: 2n ** 70n, list: [1, "x", null, { deep: Infinity }] };
    expect(fromWireValue(JSON.parse(JSON.stringify(toWireValue(value))))).toEqual(value);
  });
});
