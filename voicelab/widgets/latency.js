// Latency chart: merges snapshot/append messages (only new points); x = session time, y = latency.

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "vl-view vl-latency";
  root.innerHTML = `<div class="vl-bar"><span class="vl-info"></span></div><canvas></canvas><div class="vl-legend"></div><div class="vl-tip"></div>`;
  el.appendChild(root);
  const canvas = root.querySelector("canvas"), info = root.querySelector(".vl-info"), legend = root.querySelector(".vl-legend"), tip = root.querySelector(".vl-tip");
  const ctx = canvas.getContext("2d");
  let pts = [], rev = -1, state = { t: 0, stats: {} }, raf = 0, hits = [];
  const STYLE = { lag: ["#1976d2", "●"], first_partial: ["#2e7d32", "◆"], final: ["#c62828", "▲"] };

  const onMsg = (msg) => {
    if (!msg || (msg.type !== "snapshot" && msg.type !== "append")) return;
    if (msg.type === "snapshot") { pts = msg.points.slice(); rev = msg.rev; }
    else if (rev < 0) return;
    else if (msg.rev !== rev + 1) { rev = -1; model.send({ type: "snapshot?" }); return; }
    else { for (const p of msg.points) pts.push(p); rev = msg.rev; }
    state = msg.state;
    if (!raf) raf = requestAnimationFrame(() => { raf = 0; draw(); });
  };
  model.on("msg:custom", onMsg);
  model.send({ type: "snapshot?" });

  function draw() {
    const dpr = window.devicePixelRatio || 1, W = canvas.clientWidth || 800, H = model.get("height");
    if (canvas.width !== Math.round(W * dpr)) { canvas.width = Math.round(W * dpr); canvas.height = Math.round(H * dpr); }
    canvas.style.height = H + "px";
    const th = theme(root), left = 52, bottom = 20, top = 8, plotW = W - left - 8, plotH = H - bottom - top;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0); ctx.clearRect(0, 0, W, H);
    const tmax = Math.max(state.t || 0, ...pts.map((p) => p.t), 1);
    const vals = pts.map((p) => p.v * 1000), vmax = Math.max(100, ...vals) * 1.1, vmin = Math.min(0, ...vals) * 1.1;
    const X = (t) => left + t / tmax * plotW, Y = (ms) => top + (vmax - ms) / (vmax - vmin) * plotH;
    ctx.font = "11px sans-serif"; ctx.fillStyle = th.fg2; ctx.strokeStyle = th.grid;
    const ys = niceStep(vmax - vmin, plotH * 2.5);
    for (let v = Math.ceil(vmin / ys) * ys; v <= vmax; v += ys) { const y = Math.round(Y(v)) + 0.5; ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(W - 8, y); ctx.stroke(); ctx.fillText(v + " ms", 2, y + 4); }
    const xs = niceStep(tmax, plotW);
    for (let t = 0; t <= tmax; t += xs) ctx.fillText(fmt(t, xs) + " s", X(t) - 6, H - 5);
    ctx.fillText("session time (Recording clock)", W - 190, H - 5);
    hits = [];
    const lag = pts.filter((p) => p.k === "lag");
    if (lag.length > 1) { ctx.strokeStyle = STYLE.lag[0]; ctx.globalAlpha = 0.5; ctx.beginPath(); lag.forEach((p, i) => i ? ctx.lineTo(X(p.t), Y(p.v * 1000)) : ctx.moveTo(X(p.t), Y(p.v * 1000))); ctx.stroke(); ctx.globalAlpha = 1; }
    for (const p of pts) {
      const [color, glyph] = STYLE[p.k] || ["#888", "•"]; const x = X(p.t), y = Y(p.v * 1000);
      ctx.fillStyle = color; ctx.textAlign = "center"; ctx.textBaseline = "middle"; ctx.fillText(glyph, x, y);
      ctx.textAlign = "start"; ctx.textBaseline = "alphabetic"; hits.push({ x, y, p });
    }
    const st = state.stats || {};
    const line = (key) => { const s = st[key]; if (!s) return ""; const f = (v) => v == null ? "–" : Math.round(v * 1000) + " ms";
      return `<div><span style="color:${STYLE[key][0]}">${STYLE[key][1]}</span> <b>${s.name}</b>: ${s.start} → ${s.end}` +
        (s.source ? ` <i>[${s.source}]</i>` : "") + ` — P50 ${f(s.p50)} · P95 ${f(s.p95)} · P99 ${f(s.p99)} · n ${s.n}</div>`; };
    legend.innerHTML = ["lag", "first_partial", "final"].map(line).join("");
    info.textContent = `${model.get("provider")} · ${state.done ? "done" : "live"} · ${pts.length} points`;
  }

  canvas.addEventListener("mousemove", (e) => {
    const b = canvas.getBoundingClientRect(), x = e.clientX - b.left, y = e.clientY - b.top;
    const h = hits.find((h) => Math.abs(h.x - x) < 5 && Math.abs(h.y - y) < 6);
    if (!h) { tip.style.display = "none"; return; }
    tip.textContent = `${h.p.k}: ${(h.p.v * 1000).toFixed(0)} ms at ${h.p.t.toFixed(3)} s` + (h.p.end != null ? `\nspeech end ${h.p.end.toFixed(3)} s of audio` : "") + (h.p.src ? `\n${h.p.src}` : "");
    tip.style.display = "block"; tip.style.left = Math.min(x + 12, b.width - 260) + "px"; tip.style.top = (y + 14) + "px";
  });
  canvas.addEventListener("mouseleave", () => { tip.style.display = "none"; });
  const ro = new ResizeObserver(draw); ro.observe(root);
  return () => { ro.disconnect(); model.off("msg:custom", onMsg); };
}

export default { render };
