"""The status page of ``schemashift serve``: one self-contained HTML file (no CDN: clusters
and CI machines often have no outside network). Its script polls ``/api/v1/status`` and
``/api/v1/events`` every second and renders with ``textContent`` only (names come from
the database: never parsed as HTML). Backfill rate and ETA come from successive polls (timed by the server's clock).

Hooks the tests read: ``body[data-polls]`` (polls answered), ``section.migration[
data-migration][data-phase][data-status]`` and ``.rows-done[data-rows-done]``.
"""

from __future__ import annotations

PAGE_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>schemashift</title>
<style>
  :root { --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --dim: #6e7781; --line: #d0d7de;
          --bg: #f6f8fa; --accent: #0969da; }
  * { box-sizing: border-box; }
  body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0;
         color: #1f2328; background: #fff; }
  header { display: flex; gap: 1rem; align-items: baseline; padding: .8rem 1.2rem;
           border-bottom: 1px solid var(--line); background: var(--bg); }
  header h1 { font-size: 1.15rem; margin: 0; }
  #conn { margin-left: auto; color: var(--dim); }
  #conn.bad { color: var(--bad); font-weight: 600; }
  main { padding: 1rem 1.2rem; max-width: 1100px; }
  h2 { font-size: 1rem; margin: 1.4rem 0 .5rem; }
  .migration { border: 1px solid var(--line); border-radius: 6px; padding: .8rem 1rem;
               margin-bottom: .8rem; }
  .migration h3 { margin: 0 0 .5rem; font-size: 1rem; }
  .badge { font-size: .75rem; padding: .05rem .45rem; border-radius: 1rem; margin-left: .4rem;
           border: 1px solid var(--line); color: var(--dim); font-weight: 500; }
  .badge.failed { color: var(--bad); border-color: var(--bad); }
  .timeline { display: flex; gap: 0; margin: .3rem 0 .6rem; }
  .step { flex: 1; text-align: center; padding: .35rem .2rem; border: 1px solid var(--line);
          background: #fff; color: var(--dim); }
  .step:first-child { border-radius: 5px 0 0 5px; }
  .step:last-child { border-radius: 0 5px 5px 0; }
  .step.done { background: #dafbe1; color: var(--ok); border-color: #aceebb; }
  .step.current { background: #ddf4ff; color: var(--accent); border-color: #54aeff;
                  font-weight: 600; }
  .step.failed { background: #ffebe9; color: var(--bad); border-color: #ff8182; }
  .step small { display: block; font-size: .72rem; font-weight: 400; }
  .bar { height: 14px; background: var(--bg); border: 1px solid var(--line);
         border-radius: 7px; overflow: hidden; }
  .bar > div { height: 100%; background: var(--accent); transition: width .8s linear; }
  .progress { margin: .4rem 0; }
  .progress .figures { display: flex; gap: 1.2rem; font-variant-numeric: tabular-nums;
                       color: var(--dim); margin-top: .2rem; }
  .progress .figures b { color: #1f2328; }
  table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: .25rem .6rem; border-bottom: 1px solid var(--line); }
  th { background: var(--bg); font-weight: 600; }
  .yes { color: var(--ok); font-weight: 600; } .no { color: var(--bad); font-weight: 600; }
  .maybe { color: var(--dim); }
  .empty { color: var(--dim); font-style: italic; }
  .error { color: var(--bad); }
  code { font-size: .85em; }
</style>
</head>
<body data-polls="0">
<header><h1>schemashift</h1><span id="db"></span><span id="conn">connecting…</span></header>
<main>
  <h2>Migrations in flight</h2><div id="migrations"><p class="empty">loading…</p></div>
  <h2>Live versions</h2><div id="live"></div>
  <h2>Compatibility</h2><div id="compat"></div>
  <h2>Finished</h2><div id="finished"></div>
  <h2>Recent events</h2><div id="events"></div>
</main>
<script>
"use strict";
const POLL_MS = 1000, WINDOW_MS = 20000;
const PHASES = ["expand", "backfill", "verify", "contract"];
const samples = {};  // "migration/step" -> [[time ms, rows done], ...]
let token = sessionStorage.getItem("schemashift-token");
let polls = 0;

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined) continue;
    if (k.startsWith("data-")) el.setAttribute(k, String(v)); else el[k] = v;
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
const fmt = n => Number(n).toLocaleString("en-US");
const when = iso => iso ? new Date(iso).toLocaleTimeString() : "";
function duration(s) {
  if (!isFinite(s)) return "-";
  s = Math.max(0, Math.round(s));
  const m = Math.floor(s / 60), hrs = Math.floor(m / 60);
  return hrs ? `${hrs}h ${m % 60}m` : m ? `${m}m ${s % 60}s` : `${s}s`;
}

async function get(path) {
  const headers = token ? {Authorization: "Bearer " + token} : {};
  const r = await fetch(path, {headers, cache: "no-store"});
  if (r.status === 401) {
    token = prompt("schemashift serve asks for its token to show the status");
    if (token) sessionStorage.setItem("schemashift-token", token);
    throw new Error("a token is needed");
  }
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

function rate(key, done, now) {
  const list = samples[key] = samples[key] || [];
  if (!list.length || list[list.length - 1][1] !== done || now - list[list.length - 1][0] > 5000)
    list.push([now, done]);
  while (list.length > 2 && now - list[0][0] > WINDOW_MS) list.shift();
  const [t0, r0] = list[0], [t1, r1] = list[list.length - 1];
  return t1 - t0 >= 900 ? (r1 - r0) / ((t1 - t0) / 1000) : NaN;
}

function phaseTimes(m, events) {
  const out = {};
  for (const e of events) {
    if (e.migration !== m.migration) continue;
    const slot = out[e.phase] = out[e.phase] || {};
    if (e.action === "phase_done" && !slot.done) slot.done = e.at;
    if (e.action === "phase_start" && !slot.start) slot.start = e.at;
  }
  return out;
}

function timeline(m, events) {
  const doneIndex = m.phase ? PHASES.indexOf(m.phase) : -1;
  const times = phaseTimes(m, events);
  const running = m.last_event && m.last_event.action === "phase_start" ? m.last_event.phase : null;
  return h("div", {className: "timeline"}, PHASES.map((p, i) => {
    let cls = "step", note = "pending";
    if (i <= doneIndex) { cls += " done"; note = times[p] && times[p].done ? "done " + when(times[p].done) : "done"; }
    else if (p === m.next_phase) {
      if (m.status === "failed") { cls += " failed"; note = "failed"; }
      else { cls += " current"; note = running === p ? "running since " + when(times[p] && times[p].start) : "next"; }
    }
    return h("div", {className: cls, "data-phase-step": p}, p, h("small", {}, note));
  }));
}

function progress(m, now) {
  return m.backfill.map(b => {
    const key = m.migration + "/" + b.step;
    const total = b.rows_total_estimate, done = b.rows_done;
    const pct = total ? Math.min(100, 100 * done / total) : null;
    const r = rate(key, done, now);
    const eta = pct !== null && pct >= 100 ? "done" : total && r > 0 ? duration((total - done) / r) : "-";
    return h("div", {className: "progress"},
      h("div", {className: "bar"}, h("div", {style: `width: ${pct === null ? 0 : pct.toFixed(1)}%`})),
      h("div", {className: "figures"},
        h("span", {}, "step " + (b.step + 1) + ": ",
          h("b", {className: "rows-done", "data-rows-done": done}, fmt(done)),
          total ? " / " + fmt(total) + " rows" : " rows"),
        h("span", {className: "pct"}, pct === null ? "" : pct.toFixed(1) + "%"),
        h("span", {className: "rate"}, isNaN(r) ? "rate -" : fmt(Math.round(r)) + " rows/s"),
        h("span", {className: "eta"}, "ETA " + eta)));
  });
}

function renderMigrations(doc, events, now) {
  const flying = doc.migrations.filter(m => !["done", "rolled_back"].includes(m.status));
  const box = document.getElementById("migrations");
  box.replaceChildren(...(flying.length ? flying.map(m => h("section", {
      className: "migration", "data-migration": m.migration, "data-phase": m.phase || "none",
      "data-status": m.status},
    h("h3", {}, m.migration,
      h("span", {className: "badge" + (m.status === "failed" ? " failed" : "")}, m.status),
      m.for_app ? h("span", {className: "badge"}, "for " + m.for_app + " ≥ " + m.for_version) : null),
    timeline(m, events),
    progress(m, now),
    m.error ? h("p", {className: "error"}, m.error) : null))
    : [h("p", {className: "empty"}, "no migration in flight")]));
  const finished = doc.migrations.filter(m => ["done", "rolled_back"].includes(m.status));
  document.getElementById("finished").replaceChildren(finished.length
    ? h("table", {}, h("tr", {}, h("th", {}, "migration"), h("th", {}, "status"), h("th", {}, "updated")),
        finished.map(m => h("tr", {}, h("td", {}, m.migration), h("td", {}, m.status), h("td", {}, when(m.updated_at)))))
    : h("p", {className: "empty"}, "none"));
}

function renderLive(doc) {
  const groups = {};
  for (const r of doc.live) {
    const g = groups[r.app + "@" + r.version] = groups[r.app + "@" + r.version] ||
      {app: r.app, version: r.version, n: 0, slots: new Set(), traffic: 0};
    g.n += 1; if (r.slot) g.slots.add(r.slot); g.traffic += r.traffic || 0;
  }
  const rows = Object.values(groups);
  document.getElementById("live").replaceChildren(rows.length
    ? h("table", {}, h("tr", {}, ["app", "version", "instances", "slots", "traffic"].map(t => h("th", {}, t))),
        rows.map(g => h("tr", {}, h("td", {}, g.app), h("td", {}, g.version), h("td", {}, g.n),
          h("td", {}, [...g.slots].join(", ") || "-"), h("td", {}, g.traffic ? g.traffic + "%" : "-"))))
    : h("p", {className: "empty"}, "no live instance recorded"));
}

function mark(v) {
  return v === true ? h("span", {className: "yes"}, "✓") : v === false ? h("span", {className: "no"}, "✗")
    : h("span", {className: "maybe"}, "?");
}

function renderCompat(doc) {
  const flying = doc.migrations.filter(m => m.compatibility);
  const box = document.getElementById("compat");
  if (!flying.length || !doc.live.length) {
    box.replaceChildren(h("p", {className: "empty"}, "nothing to compare"));
    return;
  }
  const head = h("tr", {}, h("th", {}, "instance"), flying.map(m => [
    h("th", {}, m.migration + " now"), h("th", {}, "after " + (m.next_phase || "-"))]));
  const rows = doc.live.map(r => h("tr", {},
    h("td", {}, `${r.app} ${r.version} · ${r.instance}` + (r.slot ? ` (${r.slot})` : "")),
    flying.map(m => {
      const c = m.compatibility.find(x => x.app === r.app && x.instance === r.instance) || {};
      return [h("td", {}, mark(c.current)), h("td", {}, mark(c.next))];
    })));
  box.replaceChildren(h("table", {}, head, rows));
}

function summary(e) {
  const d = e.detail || {}, parts = [];
  if (d.blockers) parts.push(d.blockers.length + " blocker(s)");
  if (d.requested_by) parts.push("asked by " + [d.requested_by.requested_by || d.requested_by.name,
    d.requested_by.client].filter(Boolean).join(" @ "));
  if (d.steps_run !== undefined) parts.push(d.steps_run + " step(s)");
  if (d.error) parts.push(d.error);
  if (e.reason) parts.push("reason: " + e.reason);
  return parts.join("; ");
}

function renderEvents(events) {
  document.getElementById("events").replaceChildren(events.length
    ? h("table", {}, h("tr", {}, ["at", "migration", "phase", "action", ""].map(t => h("th", {}, t))),
        events.slice(0, 25).map(e => h("tr", {}, h("td", {}, when(e.at)), h("td", {}, e.migration || ""),
          h("td", {}, e.phase || ""), h("td", {}, e.action), h("td", {}, summary(e)))))
    : h("p", {className: "empty"}, "no events yet"));
}

async function tick() {
  const conn = document.getElementById("conn");
  try {
    const [doc, ev] = await Promise.all([get("api/v1/status"), get("api/v1/events?limit=50")]);
    renderMigrations(doc, ev.events, ev.now * 1000);
    renderLive(doc);
    renderCompat(doc);
    renderEvents(ev.events);
    polls += 1;
    document.body.dataset.polls = String(polls);
    conn.className = ""; conn.textContent = "updated " + new Date().toLocaleTimeString();
  } catch (err) {
    conn.className = "bad"; conn.textContent = "not updating: " + err.message;
  } finally {
    setTimeout(tick, POLL_MS);
  }
}

get("api/v1/info").then(i => {
  document.getElementById("db").textContent = `${i.dialect} ${i.database} · schemashift ${i.schemashift}`;
}).catch(() => {});
tick();
</script>
</body>
</html>
"""
