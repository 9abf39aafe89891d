// The snakepit dashboard: polls the JSON routes once a second, follows /v1/events, draws uPlot
// charts. Plain browser JavaScript with no build step; every string from the server is put in
// the page through textContent, never as HTML.
(() => {
  "use strict";

  const TOKEN_KEY = "snakepit.token";
  const POLL_MS = 1000;
  const HISTORY = 300; // points kept per chart: five minutes at one a second
  const FEED_MAX = 200;

  const $ = (id) => document.getElementById(id);
  const state = {
    series: { time: [], calls: [], p50: [], p99: [], errors: {}, rss: {} },
    last: undefined, // previous poll's totals, for per-second rates
    errorsThisTick: {},
    recycled: {}, // new worker id -> "replaced w1 (reason)"
    tools: [],
    workers: [],
    hasCluster: false,
    events: 0,
  };
  window.snakepitDashboard = state; // for tests and the curious

  // ---- token and requests -------------------------------------------------------------------
  const token = () => sessionStorage.getItem(TOKEN_KEY) || "";
  let loginOpen = false;

  function showLogin(reason) {
    const dialog = $("login");
    $("login-reason").textContent = reason;
    if (!loginOpen) {
      loginOpen = true;
      dialog.showModal();
      $("login-token").focus();
    }
  }

  $("login-form").addEventListener("submit", () => {
    sessionStorage.setItem(TOKEN_KEY, $("login-token").value.trim());
    $("login-token").value = "";
    loginOpen = false;
    $("logout").hidden = false;
    restartEvents();
    loadTools();
    poll();
  });
  $("logout").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    $("logout").hidden = true;
    showLogin("Token forgotten. Enter it again to continue.");
  });
  $("logout").hidden = !token();

  class ApiError extends Error {
    constructor(status, body) {
      super(body && body.message ? body.message : `HTTP ${status}`);
      this.status = status;
      this.body = body;
    }
  }

  async function api(path, init = {}) {
    const headers = new Headers(init.headers || {});
    if (token()) headers.set("authorization", `Bearer ${token()}`);
    if (init.body !== undefined) headers.set("content-type", "application/json");
    const res = await fetch(path, { ...init, headers });
    const text = await res.text();
    let body;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = { message: text };
    }
    if (res.status === 401) {
      showLogin(token() ? "The token was refused. Enter the right one." : "This server asks for a bearer token.");
    }
    if (!res.ok) throw new ApiError(res.status, body);
    return body;
  }

  // ---- small DOM helpers --------------------------------------------------------------------
  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const c of children) if (c !== undefined && c !== null) node.append(c);
    return node;
  }
  const row = (cells) => el("tr", {}, ...cells.map((c) => (c instanceof Node ? el("td", {}, c) : el("td", { text: String(c ?? "") }))));
  function fillBody(table, rows) {
    table.tBodies[0].replaceChildren(...rows);
  }
  const mb = (bytes) => (bytes === undefined || bytes === null ? "" : (bytes / 1048576).toFixed(1));
  function duration(ms) {
    const s = Math.floor(ms / 1000);
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
    return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  }
  function banner(text) {
    $("banner").hidden = !text;
    $("banner").textContent = text || "";
  }
  function pill(node, text, kind) {
    node.textContent = text;
    node.className = `pill ${kind || ""}`;
  }

  // ---- charts -------------------------------------------------------------------------------
  const charts = {};
  function chart(id, labels, data) {
    const key = `${id}:${labels.join(",")}`;
    const holder = $(id);
    const width = Math.max(300, holder.clientWidth || 420);
    if (!charts[id] || charts[id].key !== key) {
      if (charts[id]) charts[id].plot.destroy();
      const palette = ["#0969da", "#cf222e", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#57606a"];
      const opts = {
        width,
        height: 180,
        legend: { live: false },
        scales: { x: { time: true } },
        series: [{}, ...labels.map((label, i) => ({ label, stroke: palette[i % palette.length], width: 1.5, points: { show: false } }))],
        axes: [{}, { size: 50 }],
      };
      charts[id] = { key, plot: new uPlot(opts, data, holder) };
    } else {
      charts[id].plot.setData(data);
    }
  }

  function push(arr, value) {
    arr.push(value);
    if (arr.length > HISTORY) arr.shift();
  }

  function record(pools, workers) {
    const s = state.series;
    const now = Date.now() / 1000;
    const totals = pools.reduce((t, p) => ({ requests: t.requests + p.stats.requests, completed: t.completed + p.stats.completed, failed: t.failed + p.stats.failed }), { requests: 0, completed: 0, failed: 0 });
    const dt = state.last ? Math.max(0.001, now - state.last.time) : 1;
    const done = state.last ? (totals.completed + totals.failed - state.last.completed - state.last.failed) / dt : 0;
    state.last = { time: now, ...totals };
    push(s.time, now);
    push(s.calls, Math.max(0, done));
    push(s.p50, Math.max(0, ...pools.map((p) => p.stats.latencyMs.p50)));
    push(s.p99, Math.max(0, ...pools.map((p) => p.stats.latencyMs.p99)));
    // Series that come and go (error codes, workers) keep one array per name, aligned with time.
    const align = (map, values) => {
      for (const name of Object.keys(values)) if (!map[name]) map[name] = s.time.slice(0, -1).map(() => null);
      for (const name of Object.keys(map)) push(map[name], name in values ? values[name] : null);
      for (const name of Object.keys(map)) if (map[name].every((v) => v === null || v === 0)) delete map[name];
    };
    const errors = {};
    for (const [code, n] of Object.entries(state.errorsThisTick)) errors[code] = n / dt;
    for (const code of Object.keys(s.errors)) if (!(code in errors)) errors[code] = 0;
    state.errorsThisTick = {};
    align(s.errors, errors);
    const rss = {};
    for (const w of workers) if (w.rssBytes) rss[w.id] = w.rssBytes / 1048576;
    align(s.rss, rss);

    chart("chart-calls", ["calls/s"], [s.time, s.calls]);
    chart("chart-latency", ["p50", "p99"], [s.time, s.p50, s.p99]);
    const codes = Object.keys(s.errors).sort();
    chart("chart-errors", codes.length ? codes : ["none"], [s.time, ...(codes.length ? codes.map((c) => s.errors[c]) : [s.time.map(() => 0)])]);
    const ids = Object.keys(s.rss).sort();
    chart("chart-rss", ids.length ? ids : ["none"], [s.time, ...(ids.length ? ids.map((id) => s.rss[id]) : [s.time.map(() => 0)])]);
  }

  // ---- tables -------------------------------------------------------------------------------
  function action(label, path, confirmText) {
    return el("button", {
      type: "button",
      text: label,
      onclick: async (ev) => {
        if (confirmText && !confirm(confirmText)) return;
        ev.target.disabled = true;
        try {
          await api(path, { method: "POST" });
          banner("");
        } catch (err) {
          banner(`${label} failed: ${err.message}`);
        } finally {
          ev.target.disabled = false;
          poll();
        }
      },
    });
  }

  function renderPools(pools, health) {
    const byName = Object.fromEntries((health.pools || []).map((p) => [p.name, p]));
    fillBody($("pools"), pools.map((p) => {
      const h = byName[p.name] || {};
      const st = p.stats;
      const draining = p.state === "drained";
      return row([
        p.name, p.adapter, `${st.ready}/${p.size}`, st.busy, st.inFlight, st.queued, st.completed, st.failed,
        h.circuit ?? "", h.healthy === false ? `unhealthy (${h.recentCrashes} crashes)` : "healthy", p.state,
        draining
          ? action("resume", `/v1/pools/${encodeURIComponent(p.name)}/resume`)
          : action("drain", `/v1/pools/${encodeURIComponent(p.name)}/drain`),
      ]);
    }));
  }

  function renderWorkers(workers) {
    state.workers = workers;
    fillBody($("workers"), workers.map((w) => {
      const tr = row([
        w.id, w.pool, w.state, w.pid, w.device ?? "", mb(w.rssBytes), `${w.inFlight}/${w.capacity}`, w.requests,
        duration(w.uptimeMs), state.recycled[w.id] ?? "",
        action("recycle", `/v1/workers/${encodeURIComponent(w.id)}/recycle`),
      ]);
      tr.dataset.worker = w.id;
      tr.dataset.pid = String(w.pid);
      return tr;
    }));
  }

  function renderSessions(sessions) {
    $("session-count").textContent = `(${sessions.length})`;
    fillBody($("sessions"), sessions.slice(0, 100).map((s) => row([
      s.id, Object.entries(s.workers || {}).map(([pool, w]) => `${pool}: ${w}`).join(", "), s.stats.calls, s.stats.errors,
      new Date(s.lastAccessedAt).toLocaleTimeString(),
    ])));
  }

  function renderCluster(cluster) {
    $("cluster-section").hidden = false;
    fillBody($("cluster"), (cluster.nodes || []).map((n) => row([
      n.node === cluster.node ? `${n.node} (this node)` : n.node,
      Object.entries(n.pools || {}).map(([name, p]) => `${name}: ${p.free}/${p.capacity} free`).join(", "),
      n.sessions ?? "", n.served ?? "", n.alive ? `seen ${(n.ageMs / 1000).toFixed(1)} s ago` : "lost",
    ])));
  }

  // ---- polling ------------------------------------------------------------------------------
  let polling = false;
  async function poll() {
    if (polling || loginOpen) return;
    polling = true;
    try {
      const [pools, workers, health, sessions] = await Promise.all([
        api("/v1/pools"), api("/v1/workers"), api("/readyz").catch((e) => e.body || { ready: false, pools: [] }), api("/v1/sessions"),
      ]);
      renderPools(pools.pools, health);
      renderWorkers(workers.workers);
      renderSessions(sessions.sessions);
      pill($("ready"), health.ready ? "ready" : "not ready", health.ready ? "ok" : "bad");
      record(pools.pools, workers.workers);
      if (state.hasCluster) renderCluster(await api("/v1/cluster"));
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) banner(`Cannot reach the server: ${err.message}`);
    } finally {
      polling = false;
    }
  }

  // ---- the event feed (SSE read through fetch, so the token can go in a header) ---------------
  let events; // AbortController of the live stream
  let retryMs = 1000;

  function summary(name, d) {
    const parts = [];
    for (const k of ["pool", "worker", "tool", "code", "reason", "session", "name"]) if (d[k] !== undefined && d[k] !== "") parts.push(`${k}=${d[k]}`);
    if (typeof d.durationMs === "number") parts.push(`${d.durationMs.toFixed(1)} ms`);
    if (d.pid) parts.push(`pid ${d.pid}`);
    if (d.replacedBy) parts.push(`→ ${d.replacedBy}`);
    if (d.message) parts.push(String(d.message));
    if (name === "events.gap") parts.push(`${d.dropped} events dropped`);
    return parts.join(" ");
  }

  function addEvent(name, data) {
    state.events++;
    const d = data || {};
    if (name === "call.exception") state.errorsThisTick[d.code] = (state.errorsThisTick[d.code] || 0) + 1;
    if (name === "worker.recycled") state.recycled[d.replacedBy] = `replaced ${d.worker} (${d.reason})`;
    const when = new Date(d.time || Date.now()).toLocaleTimeString();
    const kind = name === "call.exception" || name === "worker.exited" && !d.expected ? "error" : name === "events.gap" ? "gap" : "";
    const li = el("li", { class: kind }, el("span", { class: "t", text: when }), el("span", { class: "n", text: name }), summary(name, d));
    li.dataset.event = name;
    const tb = d.traceback || (d.python && d.python.traceback);
    if (tb) li.append(el("details", {}, el("summary", { text: `${d.pythonType || (d.python && d.python.type) || "Python"} traceback` }), el("pre", { text: tb })));
    const feed = $("feed");
    feed.prepend(li);
    while (feed.children.length > FEED_MAX) feed.lastElementChild.remove();
  }

  async function followEvents() {
    const ac = new AbortController();
    events = ac;
    try {
      const headers = { accept: "text/event-stream" };
      if (token()) headers.authorization = `Bearer ${token()}`;
      const res = await fetch("/v1/events", { headers, signal: ac.signal });
      if (res.status === 401) {
        showLogin(token() ? "The token was refused. Enter the right one." : "This server asks for a bearer token.");
        pill($("stream-state"), "events: signed out", "warn");
        return;
      }
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      pill($("stream-state"), "events: live", "ok");
      banner("");
      retryMs = 1000;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let name = "message";
          let data = "";
          for (const line of block.split("\n")) {
            if (line.startsWith("event: ")) name = line.slice(7);
            else if (line.startsWith("data: ")) data += line.slice(6);
          }
          if (data) {
            try {
              addEvent(name, JSON.parse(data));
            } catch {
              addEvent(name, { message: data });
            }
          }
        }
      }
      throw new Error("the server closed the stream");
    } catch (err) {
      if (ac.signal.aborted) return;
      pill($("stream-state"), "events: disconnected", "bad");
      banner(`Live events disconnected (${err.message}); tables and charts still refresh. Reconnecting in ${Math.round(retryMs / 1000)} s…`);
      setTimeout(() => {
        if (events === ac) followEvents();
      }, retryMs);
      retryMs = Math.min(retryMs * 2, 15000);
    }
  }

  function restartEvents() {
    if (events) events.abort();
    followEvents();
  }

  // ---- try a tool ---------------------------------------------------------------------------
  function fieldFor(name, schema, required) {
    const label = `${name}${required ? " *" : ""}`;
    const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type;
    let input;
    if (Array.isArray(schema.enum)) {
      input = el("select", { name }, ...schema.enum.map((v) => el("option", { value: JSON.stringify(v), text: String(v) })));
      input.dataset.kind = "json";
    } else if (type === "integer" || type === "number") {
      input = el("input", { name, type: "number", step: type === "integer" ? "1" : "any" });
      input.dataset.kind = "number";
    } else if (type === "boolean") {
      input = el("input", { name, type: "checkbox" });
      input.dataset.kind = "boolean";
    } else if (type === "string") {
      input = el("input", { name, type: "text" });
      input.dataset.kind = "string";
    } else {
      input = el("textarea", { name, rows: "2", placeholder: "JSON" });
      input.dataset.kind = "json";
    }
    if (schema.default !== undefined && input.dataset.kind !== "boolean") input.value = input.dataset.kind === "json" ? JSON.stringify(schema.default) : String(schema.default);
    if (schema.default === true && input.dataset.kind === "boolean") input.checked = true;
    if (required && input.dataset.kind !== "boolean") input.required = true;
    return el("label", {}, `${label} `, input, schema.description ? el("span", { class: "muted", text: ` ${schema.description}` }) : undefined);
  }

  function renderToolForm() {
    const tool = state.tools.find((t) => t.name === $("tool-select").value);
    $("tool-fields").replaceChildren();
    $("tool-description").textContent = tool ? `${tool.description || ""}${tool.streaming ? " (streams)" : ""}` : "";
    if (!tool) return;
    const params = tool.parameters || {};
    const required = new Set(params.required || []);
    for (const [name, schema] of Object.entries(params.properties || {})) $("tool-fields").append(fieldFor(name, schema || {}, required.has(name)));
  }

  async function loadTools() {
    try {
      const { tools } = await api("/v1/tools");
      state.tools = tools;
      const select = $("tool-select");
      const keep = select.value;
      select.replaceChildren(...tools.map((t) => el("option", { value: t.name, text: t.pool ? `${t.name} (${t.pool})` : t.name })));
      if (tools.some((t) => t.name === keep)) select.value = keep;
      renderToolForm();
    } catch {
      // shown by the login prompt or the banner
    }
  }
  $("tool-select").addEventListener("change", renderToolForm);

  function readArgs() {
    const args = {};
    for (const input of $("tool-fields").querySelectorAll("input, select, textarea")) {
      const kind = input.dataset.kind;
      if (kind === "boolean") {
        args[input.name] = input.checked;
        continue;
      }
      if (input.value === "") continue;
      if (kind === "number") args[input.name] = Number(input.value);
      else if (kind === "string") args[input.name] = input.value;
      else {
        try {
          args[input.name] = JSON.parse(input.value);
        } catch {
          throw new Error(`${input.name}: not valid JSON`);
        }
      }
    }
    return args;
  }

  function showResult(text, isError) {
    const out = $("tool-result");
    out.hidden = false;
    out.className = `result${isError ? " error" : ""}`;
    out.textContent = text;
  }

  $("tool-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const tool = state.tools.find((t) => t.name === $("tool-select").value);
    if (!tool) return;
    let args;
    try {
      args = readArgs();
    } catch (err) {
      showResult(`invalid_argument: ${err.message}`, true);
      return;
    }
    const body = JSON.stringify({ tool: tool.name, args, ...(tool.pool ? { pool: tool.pool } : {}) });
    $("tool-run").disabled = true;
    try {
      if (tool.streaming) {
        const headers = { "content-type": "application/json" };
        if (token()) headers.authorization = `Bearer ${token()}`;
        const res = await fetch("/v1/stream", { method: "POST", headers, body });
        if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => undefined));
        const lines = (await res.text()).split("\n").filter(Boolean).map((l) => JSON.parse(l));
        const failed = lines.find((l) => l.error);
        showResult(failed ? `${failed.error.code}: ${failed.error.message}` : lines.filter((l) => "chunk" in l).map((l) => JSON.stringify(l.chunk)).join("\n"), Boolean(failed));
      } else {
        const { result } = await api("/v1/execute", { method: "POST", body });
        showResult(JSON.stringify(result, null, 2), false);
      }
    } catch (err) {
      const b = err.body || {};
      const py = b.details && b.details.python;
      showResult(`${b.code || "error"}: ${err.message}${py && py.traceback ? `\n\n${py.traceback}` : ""}`, true);
    } finally {
      $("tool-run").disabled = false;
    }
  });

  // ---- start --------------------------------------------------------------------------------
  fetch("/healthz").then((r) => r.json()).then((h) => {
    $("version").textContent = `v${h.version}`;
    state.hasCluster = Boolean(h.node); // only a clustered node has /v1/cluster
  }).catch(() => {});
  followEvents();
  loadTools();
  poll();
  setInterval(poll, POLL_MS);
  window.addEventListener("resize", () => {
    for (const c of Object.values(charts)) c.plot.setSize({ width: Math.max(300, c.plot.root.parentElement.clientWidth), height: 180 });
  });
})();
