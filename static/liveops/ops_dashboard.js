/* /ops/ dashboard: polls /ops/api/series and draws uPlot charts + status tiles.
   Data comes from MetricSample rows written by liveops.tasks.sample_metrics every 15 s. */
(function () {
  "use strict";

  const root = document.getElementById("ops");
  if (!root || typeof uPlot === "undefined") return;
  const seriesUrl = root.dataset.seriesUrl;
  const pollMs = Math.max(5, Number(root.dataset.sampleSeconds) || 15) * 1000;
  const tickBudget = Number(root.dataset.tickBudgetMs) || 50;
  const windowSelect = document.getElementById("ops-window");
  const css = getComputedStyle(document.documentElement);
  const colour = (name, fallback) => (css.getPropertyValue(name) || fallback).trim();
  const palette = {
    gold: colour("--gold", "#d9a94e"),
    info: colour("--info", "#6ea8dc"),
    danger: colour("--danger", "#e0625a"),
    success: colour("--success", "#5dbb83"),
    warning: colour("--warning", "#e3b04b"),
    muted: colour("--text-muted", "#a7a197"),
    grid: colour("--border", "#2a3040"),
  };

  // Chart id -> lines drawn from the series columns.
  const charts = {
    players: [
      { key: "players_online", label: "players", stroke: palette.gold },
      { key: "ws_connections", label: "websockets", stroke: palette.info },
    ],
    tick: [
      { key: "tick_p99_ms", label: "tick p99 ms", stroke: palette.gold },
      { key: "__budget", label: "budget", stroke: palette.danger, dash: [6, 4] },
    ],
    rtt: [{ key: "rtt_p99_ms", label: "rtt p99 ms", stroke: palette.info }],
    errors: [
      { key: "errors_per_s", label: "errors/s", stroke: palette.danger },
      { key: "tick_overruns_per_s", label: "overruns/s", stroke: palette.warning },
      { key: "intents_rejected_per_s", label: "rejected/s", stroke: palette.muted },
    ],
    frames: [{ key: "frames_out_per_s", label: "frames/s", stroke: palette.success }],
    queue: [
      { key: "queue_depth", label: "queued", stroke: palette.gold },
      { key: "backup_age_hours", label: "backup age h", stroke: palette.muted },
    ],
  };
  const plots = {};

  function axisStyle() {
    return { stroke: palette.muted, grid: { stroke: palette.grid, width: 1 }, ticks: { stroke: palette.grid } };
  }

  function columnsFor(id, data) {
    const xs = data.t || [];
    const cols = [xs];
    for (const line of charts[id]) {
      cols.push(line.key === "__budget" ? xs.map(() => tickBudget) : data[line.key] || xs.map(() => null));
    }
    return cols;
  }

  function draw(data) {
    for (const id of Object.keys(charts)) {
      const el = root.querySelector(`[data-chart="${id}"]`);
      if (!el) continue;
      const cols = columnsFor(id, data);
      if (!plots[id]) {
        plots[id] = new uPlot(
          {
            width: Math.max(280, el.clientWidth),
            height: 180,
            series: [{}].concat(
              charts[id].map((line) => ({ label: line.label, stroke: line.stroke, width: 2, dash: line.dash, spanGaps: false }))
            ),
            axes: [axisStyle(), axisStyle()],
            scales: { x: { time: true } },
            legend: { live: true },
          },
          cols,
          el
        );
      } else {
        plots[id].setData(cols);
      }
    }
  }

  function last(values) {
    for (let i = (values || []).length - 1; i >= 0; i--) if (values[i] !== null && values[i] !== undefined) return values[i];
    return null;
  }

  function setTile(figure, text, state) {
    const tile = root.querySelector(`.ops-tile[data-figure="${figure}"]`);
    if (!tile) return;
    tile.querySelector(".ops-value").textContent = text;
    tile.classList.toggle("is-bad", state === "bad");
    tile.classList.toggle("is-warn", state === "warn");
  }

  function updateTiles(series, status) {
    const unit = (figure) => root.querySelector(`.ops-tile[data-figure="${figure}"]`)?.dataset.unit || "";
    for (const figure of ["players_online", "tick_p99_ms", "rtt_p99_ms", "errors_per_s", "queue_depth"]) {
      const value = last(series[figure]);
      let state = "";
      if (figure === "tick_p99_ms" && value !== null) state = value > tickBudget ? "bad" : value > tickBudget * 0.8 ? "warn" : "";
      if (figure === "rtt_p99_ms" && value !== null) state = value > 250 ? "warn" : "";
      if (figure === "errors_per_s" && value !== null) state = value > 1 ? "bad" : value > 0 ? "warn" : "";
      if (figure === "queue_depth" && value !== null) state = value > 100 ? "warn" : "";
      setTile(figure, value === null ? "—" : `${value}${unit(figure)}`, state);
    }
    const shards = status.shards || [];
    const healthy = shards.filter((s) => s.healthy).length;
    const expected = shards.filter((s) => s.status !== "maintenance").length;
    setTile("shards", `${healthy} / ${shards.length}`, healthy < expected ? "bad" : "");
    const backup = status.backup && status.backup.latest;
    setTile("backup", backup ? `${backup.age_hours} h ago` : "none", !backup || backup.age_hours > 26 ? "bad" : "");
    const verification = status.restore_verification;
    setTile("verification", verification ? (verification.ok ? "passed" : "FAILED") : "never run", verification && !verification.ok ? "bad" : verification ? "" : "warn");
    const rec = status.reconciliation;
    setTile("reconciliation", rec ? (rec.ok ? "balanced" : `${rec.mismatches} mismatches`) : "never run", rec && !rec.ok ? "bad" : "");
    renderAlerts(status.alerts || []);
    renderShards(shards);
    const sample = status.latest_sample;
    document.getElementById("ops-updated").textContent = sample
      ? `sampled ${sample.taken_at.slice(11, 19)} UTC · ${sample.targets_up}/${sample.targets_total} metric targets up`
      : "no samples yet";
  }

  function renderAlerts(alerts) {
    const box = document.getElementById("ops-alerts");
    box.replaceChildren();
    if (!alerts.length) {
      const ok = document.createElement("div");
      ok.className = "alert alert-success";
      ok.textContent = "No open ops alerts.";
      box.append(ok);
      return;
    }
    for (const alert of alerts) {
      const row = document.createElement("div");
      row.className = `alert alert-${alert.severity === "critical" ? "error" : "warning"}`;
      const key = document.createElement("strong");
      key.textContent = alert.key;
      row.append(key, ` — ${alert.message} (×${alert.occurrences})`);
      box.append(row);
    }
  }

  function renderShards(shards) {
    const body = document.querySelector("#ops-shards tbody");
    if (!body) return;
    body.replaceChildren();
    for (const s of shards) {
      const tr = document.createElement("tr");
      const badge = s.healthy ? "badge-success" : s.status === "offline" ? "badge-danger" : "badge-warning";
      const cells = [s.name, s.realm, null, `${s.population} / ${s.capacity}`, s.heartbeat_age_seconds === null ? "never" : `${s.heartbeat_age_seconds} s`, s.version];
      cells.forEach((text, i) => {
        const td = document.createElement("td");
        if (i === 2) {
          const span = document.createElement("span");
          span.className = `badge ${badge}`;
          span.textContent = s.status;
          td.append(span);
        } else {
          td.textContent = text;
        }
        tr.append(td);
      });
      body.append(tr);
    }
  }

  async function refresh() {
    try {
      const response = await fetch(`${seriesUrl}?minutes=${windowSelect.value}`, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const body = await response.json();
      draw(body.series);
      updateTiles(body.series, body.status);
    } catch (err) {
      document.getElementById("ops-updated").textContent = `refresh failed: ${err.message}`;
    }
  }

  window.addEventListener("resize", () => {
    for (const id of Object.keys(plots)) {
      const el = root.querySelector(`[data-chart="${id}"]`);
      plots[id].setSize({ width: Math.max(280, el.clientWidth), height: 180 });
    }
  });
  windowSelect.addEventListener("change", refresh);
  refresh();
  setInterval(refresh, pollMs);
})();
