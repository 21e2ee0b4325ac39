"""The live page: one HTML document whose script polls ``api/overview`` every second and,
when the state's version moved, fetches the selected model and window again. plotly.js is
served by the same server from the installed plotly package (no CDN)."""

from __future__ import annotations

from typing import Final

PAGE: Final = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Driftline live</title>
<script>
window.addEventListener("error", function (e) { showError(e.message); });
window.addEventListener("unhandledrejection", function (e) { showError(String(e.reason)); });
function showError(text) {
  var box = document.getElementById("ui-errors");
  if (!box) { return; }
  box.hidden = false;
  box.appendChild(document.createTextNode("JavaScript error: " + text + "\\n"));
}
</script>
<script src="static/plotly.min.js"></script>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1em 1.5em; color: #212121; }
h1 { font-size: 1.4em; margin: 0 0 .2em; } h2 { border-bottom: 2px solid #ddd; }
#layout { display: grid; grid-template-columns: 260px 1fr; gap: 1.5em; }
table { border-collapse: collapse; margin: .4em 0 1em; }
td, th { border: 1px solid #ddd; padding: 2px 8px; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.clickable { cursor: pointer; } tr.selected { background: #e3f2fd; }
.status-drift { color: #c62828; font-weight: 600; } .status-ok { color: #2e7d32; }
.status-insufficient_data { color: #757575; }
.features { display: grid; grid-template-columns: repeat(auto-fill, minmax(480px, 1fr));
            gap: 1em; }
.feature { border: 1px solid #e0e0e0; padding: .5em; } .feature h4 { margin: 0 0 .3em; }
.summary { color: #b71c1c; } #feed { color: #616161; }
#windows-box { max-height: 320px; overflow-y: auto; display: inline-block; }
#ui-errors { background: #ffebee; color: #b71c1c; padding: .5em; white-space: pre-wrap; }
</style></head><body>
<div id="ui-errors" hidden></div>
<h1>Driftline live</h1><p id="feed">connecting...</p>
<div id="layout">
<div><h2>Models</h2><table id="models"><thead><tr><th>model</th><th>windows</th>
<th>latest</th><th>open</th></tr></thead><tbody></tbody></table></div>
<div id="model">
<h2 id="model-title">No window results yet</h2>
<div id="timeline"></div>
<h3>Open incidents</h3><div id="incidents"></div>
<h3>Windows <label><input type="checkbox" id="follow" checked> follow the latest</label></h3>
<div id="windows-box"><table id="windows"><thead><tr><th>start</th><th>end</th>
<th>status</th><th>severity</th><th>events</th><th>drifted</th></tr></thead>
<tbody></tbody></table></div>
<section id="window"></section>
</div></div>
<script>
"use strict";
var ui = {version: -1, model: null, window: null, shown: null, busy: false};
var CONFIG = {displaylogo: false, responsive: true};

function el(tag, attrs, text) {
  var node = document.createElement(tag);
  Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
  if (text !== undefined && text !== null) { node.textContent = String(text); }
  return node;
}
// A number cell: the exact value in data-value, a rounded one shown (as the report does).
function cell(value, field) {
  var attrs = field ? {"data-field": field} : {};
  if (value === null || value === undefined) {
    attrs["class"] = "num";
    return el("td", attrs, "-");
  }
  if (typeof value === "boolean") { return el("td", attrs, value ? "yes" : "no"); }
  if (typeof value === "number") {
    attrs["class"] = "num"; attrs["data-value"] = String(value);
    var shown = Number.isInteger(value) ? value.toLocaleString("en-US")
      : String(parseFloat(value.toPrecision(4)));
    return el("td", attrs, shown);
  }
  return el("td", attrs, value);
}
function statusCell(status, field) {
  var td = el("td", field ? {"data-field": field} : {});
  td.appendChild(el("span", {"class": "status-" + status}, status));
  return td;
}
function getJSON(url) {
  return fetch(url, {cache: "no-store"}).then(function (r) {
    if (!r.ok) { throw new Error(url + " answered " + r.status); }
    return r.json();
  });
}
function q(v) { return encodeURIComponent(v); }

function renderModels(models) {
  var body = document.querySelector("#models tbody");
  body.textContent = "";
  models.forEach(function (m) {
    var tr = el("tr", {"class": "clickable" + (m.model_id === ui.model ? " selected" : ""),
                       "data-model-id": m.model_id});
    tr.appendChild(el("td", {}, m.model_id));
    tr.appendChild(cell(m.n_windows, "n_windows"));
    tr.appendChild(statusCell(m.latest_status, "latest_status"));
    tr.appendChild(cell(m.open_incidents, "open_incidents"));
    tr.addEventListener("click", function () {
      ui.model = m.model_id; ui.window = null; ui.shown = null;
      document.getElementById("follow").checked = true;
      refresh(true);
    });
    body.appendChild(tr);
  });
}

function renderIncidents(incidents) {
  var box = document.getElementById("incidents");
  box.textContent = "";
  if (!incidents.length) { box.appendChild(el("p", {}, "None.")); return; }
  var table = el("table", {"class": "incidents"});
  var head = el("tr");
  ["incident", "since", "until", "windows", "severity", "drifted features"].forEach(
    function (h) { head.appendChild(el("th", {}, h)); });
  table.appendChild(head);
  incidents.forEach(function (i) {
    var tr = el("tr", {"class": "incident"});
    tr.appendChild(el("td", {}, i.incident_id || "(from the windows)"));
    tr.appendChild(el("td", {}, i.since));
    tr.appendChild(el("td", {}, i.until));
    tr.appendChild(cell(i.n_windows, "n_windows"));
    tr.appendChild(el("td", {}, i.severity || "-"));
    tr.appendChild(el("td", {}, i.features.join(", ")));
    table.appendChild(tr);
  });
  box.appendChild(table);
}

function renderWindows(windows) {
  var body = document.querySelector("#windows tbody");
  body.textContent = "";
  windows.forEach(function (w) {
    var tr = el("tr", {"class": "clickable" + (w.window_id === ui.window ? " selected" : ""),
                       "data-window-id": w.window_id});
    tr.appendChild(el("td", {}, w.start));
    tr.appendChild(el("td", {}, w.end));
    tr.appendChild(statusCell(w.status, "status"));
    tr.appendChild(el("td", {"data-field": "severity"}, w.severity || "-"));
    tr.appendChild(cell(w.n_events, "n_events"));
    tr.appendChild(el("td", {"data-field": "drifted"}, w.drifted.join(", ") || "-"));
    tr.addEventListener("click", function () {
      ui.window = w.window_id;
      document.getElementById("follow").checked = false;
      refresh(true);
    });
    body.appendChild(tr);
  });
}

function renderWindow(w) {
  var box = document.getElementById("window");
  box.textContent = "";
  box.setAttribute("data-window-id", w.window_id);
  box.appendChild(el("h3", {}, w.start + " to " + w.end + ": " + w.status +
    (w.severity && w.severity !== "none" ? ", severity " + w.severity : "") +
    ", " + w.n_events.toLocaleString("en-US") + " events"));
  var grid = el("div", {"class": "features"});
  box.appendChild(grid);
  w.features.forEach(function (f, j) {
    var block = el("div", {"class": "feature", "data-feature": f.name});
    var h = el("h4", {}, f.name + " ");
    h.appendChild(el("span", {"class": "status-" + f.status}, f.status));
    block.appendChild(h);
    if (f.summary) { block.appendChild(el("p", {"class": "summary"}, f.summary)); }
    if (f.histogram) {
      var div = el("div", {"class": "histogram", "id": "hist-" + j});
      block.appendChild(div);
      grid.appendChild(block);
      Plotly.newPlot(div, f.histogram.data, f.histogram.layout,
                     {displaylogo: false, responsive: true, displayModeBar: false});
    } else {
      block.appendChild(el("p", {}, "No histogram in this result."));
      grid.appendChild(block);
    }
    var table = el("table", {"class": "stats"});
    f.stats.forEach(function (row) {
      var tr = el("tr", {"data-stat": row[0]});
      tr.appendChild(el("th", {}, row[0]));
      tr.appendChild(cell(row[1]));
      table.appendChild(tr);
    });
    block.appendChild(table);
  });
}

function refresh(force) {
  if (!ui.model) { return Promise.resolve(); }
  return getJSON("api/model?id=" + q(ui.model)).then(function (m) {
    document.getElementById("model-title").textContent = m.model_id;
    Plotly.react("timeline", m.timeline.data, m.timeline.layout, CONFIG);
    if (document.getElementById("follow").checked || !ui.window) {
      ui.window = m.windows.length ? m.windows[0].window_id : null;
    }
    renderWindows(m.windows);
    renderIncidents(m.incidents);
    if (ui.window && (force || ui.window !== ui.shown)) {
      return getJSON("api/window?model=" + q(ui.model) + "&id=" + q(ui.window)).then(
        function (w) { renderWindow(w); ui.shown = w.window_id; });
    }
  });
}

function poll() {
  if (ui.busy) { return; }
  ui.busy = true;
  getJSON("api/overview").then(function (o) {
    var f = o.feed;
    document.getElementById("feed").textContent = f.windows_topic +
      (f.alerts ? " and " + f.alerts_topic : " (no alerts topic)") + " since " + f.since +
      ": " + f.records.toLocaleString("en-US") + " records read" +
      (f.caught_up ? ", following" : ", catching up...");
    if (o.version === ui.version) { return; }
    ui.version = o.version;
    if (!ui.model && o.models.length) { ui.model = o.models[0].model_id; }
    renderModels(o.models);
    return refresh(false);
  }).catch(function (e) {
    document.getElementById("feed").textContent = "not connected: " + e.message;
  }).finally(function () { ui.busy = false; });
}
poll();
setInterval(poll, 1000);
</script></body></html>
"""
