// Latency chart: draws the model's store (snapshot_data trait + append messages, see _common.js);
// x = session time, y = latency; a table of P50/P95/P99/n with each figure's definition below.

// The shared helpers (_common.js) come as the `_common` trait and are imported once, from a blob URL.
let common = null;
function helpers(model) {
  if (!common) {
    const url = URL.createObjectURL(new Blob([model.get("_common")], { type: "text/javascript" }));
    common = import(url).finally(() => URL.revokeObjectURL(url));
  }
  return common;
}

async function render({ model, el }) {
  const { fmt, niceStep, storeOf, theme } = await helpers(model);
  const store = storeOf(model);
  const root = document.createElement("div");
  root.className = "vl-view vl-latency";
  root.innerHTML = `<div class="vl-bar"><span class="vl-info"></span></div><canvas></canvas><div class="vl-legend"></div><div class="vl-tip"></div>`;
  el.appendChild(root);
  const canvas = root.querySelector("canvas"), info = root.querySelector(".vl-info"), legend = root.querySelector(".vl-legend"), tip = root.querySelector(".vl-tip");
  const ctx = canvas.getContext("2d");
  let raf = 0, hits = [];
  const STYLE = { lag: ["#1976d2", "●"], first_partial: ["#2e7d32", "◆"], final: ["#c62828", "▲"] };
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

  function schedule() { if (!raf) raf = requestAnimationFrame(() => { raf = 0; draw(); }); }
  store.views.add(schedule);

  function draw() {
    const pts = store.points, state = store.state;
    const dpr = window.devicePixelRatio || 1, W = canvas.clientWidth || 800, H = model.get("height");
    if (canvas.width !== Math.round(W * dpr) || canvas.height !== Math.round(H * dpr)) { canvas.width = Math.round(W * dpr); canvas.height = Math.round(H * dpr); }
    canvas.style.height = H + "px";
    const th = theme(root), left = 58, right = 12, bottom = 34, top = 8, plotW = W - left - right, plotH = H - bottom - top;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0); ctx.clearRect(0, 0, W, H);
    let tmax = Math.max(state.t || 0, 1), vmax = 100, vmin = 0;
    for (const p of pts) { tmax = Math.max(tmax, p.t); vmax = Math.max(vmax, p.v * 1000); vmin = Math.min(vmin, p.v * 1000); }
    vmax *= 1.1; vmin *= 1.1; tmax *= 1.02;  // room for the glyphs at the edges
    const X = (t) => left + t / tmax * plotW, Y = (ms) => top + (vmax - ms) / (vmax - vmin) * plotH;
    ctx.font = "11px sans-serif"; ctx.fillStyle = th.fg2; ctx.strokeStyle = th.grid; ctx.textBaseline = "middle";
    const ys = niceStep(vmax - vmin, plotH * 2.5);
    ctx.textAlign = "right";
    for (let v = Math.ceil(vmin / ys) * ys; v <= vmax; v += ys) {
      const y = Math.round(Y(v)) + 0.5;
      ctx.strokeStyle = v === 0 ? th.fg2 : th.grid; ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(W - right, y); ctx.stroke();
      ctx.fillText(Math.round(v) + " ms", left - 6, y);
    }
    ctx.textAlign = "center";
    const xs = niceStep(tmax, plotW), axisY = top + plotH;
    for (let t = 0; t <= tmax + 1e-9; t += xs) {
      const x = Math.round(X(t)) + 0.5;
      ctx.strokeStyle = th.grid; ctx.beginPath(); ctx.moveTo(x, axisY); ctx.lineTo(x, axisY + 4); ctx.stroke();
      ctx.fillText(fmt(t, xs) + " s", Math.min(x, W - 14), axisY + 12);
    }
    ctx.fillText("session time (Recording clock; 0 = session start)", left + plotW / 2, H - 6);
    ctx.textAlign = "start";
    hits = [];
    const lag = pts.filter((p) => p.k === "lag");
    if (lag.length > 1) { ctx.strokeStyle = STYLE.lag[0]; ctx.globalAlpha = 0.5; ctx.beginPath(); lag.forEach((p, i) => i ? ctx.lineTo(X(p.t), Y(p.v * 1000)) : ctx.moveTo(X(p.t), Y(p.v * 1000))); ctx.stroke(); ctx.globalAlpha = 1; }
    ctx.textAlign = "center";
    for (const p of pts) {
      const [color, glyph] = STYLE[p.k] || ["#888", "•"]; const x = X(p.t), y = Y(p.v * 1000);
      ctx.fillStyle = color; ctx.fillText(glyph, x, y); hits.push({ x, y, p });
    }
    ctx.textAlign = "start"; ctx.textBaseline = "alphabetic";
    const st = state.stats || {};
    const f = (v) => v == null ? "–" : Math.round(v * 1000) + " ms";
    const row = (key) => {
      const s = st[key]; if (!s) return "";
      return `<tr><td class="vl-name"><span style="color:${STYLE[key][0]}">${STYLE[key][1]}</span> <b>${esc(s.name)}</b></td>` +
        `<td>${f(s.p50)}</td><td>${f(s.p95)}</td><td>${f(s.p99)}</td><td>${s.n}</td>` +
        `<td class="vl-def">${esc(s.start)} → ${esc(s.end)}${s.source ? ` <i>[${esc(s.source)}]</i>` : ""}</td></tr>`;
    };
    const rows = ["lag", "first_partial", "final"].map(row).join("");
    legend.innerHTML = rows ? `<table class="vl-stats"><tr><th class="vl-name">figure</th><th>P50</th><th>P95</th><th>P99</th><th>n</th>` +
      `<th class="vl-name">definition: from → to [where the times come from]</th></tr>${rows}</table>` : "";
    info.textContent = `${model.get("provider")} · ${state.done ? "done" : "live"} · ${pts.length} points`;
  }

  canvas.addEventListener("mousemove", (e) => {
    const b = canvas.getBoundingClientRect(), x = e.clientX - b.left, y = e.clientY - b.top;
    const h = hits.find((h) => Math.abs(h.x - x) < 5 && Math.abs(h.y - y) < 6);
    if (!h) { tip.style.display = "none"; return; }
    tip.textContent = `${h.p.k}: ${(h.p.v * 1000).toFixed(0)} ms at ${h.p.t.toFixed(3)} s` + (h.p.end != null ? `\nspeech end ${h.p.end.toFixed(3)} s of audio` : "") + (h.p.src ? `\n${h.p.src}` : "");
    tip.style.display = "block"; tip.style.left = Math.max(0, Math.min(x + 12, b.width - 260)) + "px"; tip.style.top = (y + 14) + "px";
  });
  canvas.addEventListener("mouseleave", () => { tip.style.display = "none"; });
  model.on("change:height", schedule);
  const ro = new ResizeObserver(schedule); ro.observe(root);
  draw();
  return () => { ro.disconnect(); store.views.delete(schedule); model.off("change:height", schedule); };
}

async function initialize({ model }) {
  return (await helpers(model)).initializeStore({ model });
}

export default { initialize, render };
