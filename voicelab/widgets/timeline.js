// Timeline view: merges snapshot/append messages (only new items) and draws them on audio time.
// Lanes: connection, VAD, partials (faint, from display to replacement), finals (solid + word boxes).

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "vl-view vl-timeline";
  root.innerHTML = `<div class="vl-bar"><button class="vl-fit">Follow</button><span class="vl-info"></span></div>
    <canvas></canvas><div class="vl-tip"></div>`;
  el.appendChild(root);
  const canvas = root.querySelector("canvas"), info = root.querySelector(".vl-info"), tip = root.querySelector(".vl-tip");
  const ctx = canvas.getContext("2d");
  let items = [], rev = -1, state = { audio: 0, t: 0, done: false }, hits = [], local = null, raf = 0;
  const LANES = ["connection", "VAD", "partials", "finals"];

  const onMsg = (msg) => {
    if (!msg || (msg.type !== "snapshot" && msg.type !== "append")) return;
    if (msg.type === "snapshot") { items = msg.items.slice(); rev = msg.rev; }
    else if (rev < 0) return;                                  // waiting for the snapshot
    else if (msg.rev !== rev + 1) { rev = -1; model.send({ type: "snapshot?" }); return; }
    else { for (const it of msg.items) items.push(it); rev = msg.rev; }
    state = msg.state; schedule();
  };
  model.on("msg:custom", onMsg);
  model.send({ type: "snapshot?" });

  function schedule() { if (!raf) raf = requestAnimationFrame(() => { raf = 0; draw(); }); }
  function extent() { return [0, Math.max(state.audio || 0, ...items.map((i) => Math.max(i.a || 0, ...(i.w || []).map((w) => w[2])))) * 1.02 || 1]; }
  const range = () => local || model.get("view_range") || extent();

  function draw() {
    const dpr = window.devicePixelRatio || 1, W = canvas.clientWidth || 800, H = model.get("height");
    if (canvas.width !== Math.round(W * dpr)) { canvas.width = Math.round(W * dpr); canvas.height = Math.round(H * dpr); }
    canvas.style.height = H + "px";
    const th = theme(root), left = 74, axisH = 18, plotW = W - left - 6, laneH = (H - axisH) / LANES.length;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0); ctx.clearRect(0, 0, W, H);
    const [a, z] = range(); const X = (t) => left + (t - a) / (z - a) * plotW;
    hits = [];
    ctx.font = "11px sans-serif"; ctx.textBaseline = "middle";
    LANES.forEach((name, k) => {
      ctx.fillStyle = th.fg2; ctx.fillText(name, 4, (k + 0.5) * laneH);
      ctx.strokeStyle = th.grid; ctx.beginPath(); ctx.moveTo(left, (k + 1) * laneH + 0.5); ctx.lineTo(W, (k + 1) * laneH + 0.5); ctx.stroke();
    });
    const step = niceStep(z - a, plotW);
    for (let t = Math.ceil(a / step) * step; t <= z; t += step) { const x = Math.round(X(t)) + 0.5; ctx.fillStyle = th.fg2; ctx.fillText(fmt(t, step) + " s", x + 3, H - 8); ctx.strokeStyle = th.grid; ctx.beginPath(); ctx.moveTo(x, 0); ctx.lineTo(x, H - axisH); ctx.stroke(); }
    ctx.save(); ctx.beginPath(); ctx.rect(left, 0, plotW + 6, H); ctx.clip();
    // audio sent so far
    ctx.fillStyle = th.accent; ctx.globalAlpha = 0.06; ctx.fillRect(X(0), 0, X(state.audio || 0) - X(0), H - axisH); ctx.globalAlpha = 1;
    const box = (x0, x1, lane, sub, nsub, color, alpha, text, item) => {
      const y = lane * laneH + 3 + sub * (laneH - 6) / nsub, h = (laneH - 6) / nsub - 2;
      ctx.globalAlpha = alpha; ctx.fillStyle = color; ctx.fillRect(x0, y, Math.max(x1 - x0, 2), h); ctx.globalAlpha = 1;
      if (text && x1 - x0 > 14) { ctx.fillStyle = th.fg; ctx.save(); ctx.beginPath(); ctx.rect(x0, y, x1 - x0, h); ctx.clip(); ctx.fillText(text, x0 + 2, y + h / 2); ctx.restore(); }
      hits.push({ x0, x1: Math.max(x1, x0 + 3), y0: y, y1: y + h, item });
    };
    const mark = (x, lane, color, label, item) => {
      ctx.strokeStyle = color; ctx.lineWidth = 2; ctx.beginPath(); ctx.moveTo(x, lane * laneH + 3); ctx.lineTo(x, (lane + 1) * laneH - 3); ctx.stroke(); ctx.lineWidth = 1;
      if (label) { ctx.fillStyle = color; ctx.fillText(label, x + 3, lane * laneH + 9); }
      hits.push({ x0: x - 4, x1: x + 4, y0: lane * laneH, y1: (lane + 1) * laneH, item });
    };
    let sub = 0;
    items.forEach((it, idx) => {
      if (it.k === "partial") {
        let next = items.slice(idx + 1).find((j) => j.k === "partial" || j.k === "final");
        const end = next ? next.a : state.audio;
        box(X(it.a), X(Math.max(end, it.a)), 2, sub, 2, th.fg2, 0.22, it.text, it); sub = 1 - sub;
      } else if (it.k === "final") {
        sub = 0;
        if (it.w && it.w.length) {
          box(X(it.w[0][1]), X(it.w[it.w.length - 1][2]), 3, 0, 2, th.accent, 0.85, it.text, it);
          for (const w of it.w) box(X(w[1]), X(w[2]), 3, 1, 2, th.accent, 0.35, w[0], it);
        } else box(X(it.a) - 3, X(it.a) + 3, 3, 0, 2, th.accent, 0.85, it.text, it);
        ctx.strokeStyle = th.accent; ctx.setLineDash([3, 3]); ctx.beginPath(); ctx.moveTo(X(it.a), 3 * laneH); ctx.lineTo(X(it.a), 4 * laneH); ctx.stroke(); ctx.setLineDash([]);
      } else if (it.k === "vad") {
        mark(X(it.at != null ? it.at : it.a), 1, it.on ? "#2e7d32" : "#c62828", it.on ? "speech ▶" : "■ stop", it);
      } else if (it.k === "conn") {
        if (it.what === "gap") box(X(it.at != null ? it.at : it.a), X(it.a) + 4, 0, 0, 1, th.warn, 0.5, "gap " + (it.code || ""), it);
        else mark(X(it.a), 0, it.what === "close" ? (it.code === 1000 ? th.fg2 : "#c62828") : th.fg2,
          it.what + (it.code != null && it.what !== "connect" ? " " + it.code : ""), it);
      } else if (it.k === "error") mark(X(it.a), 0, "#c62828", "error " + (it.code || ""), it);
      else if (it.k === "agent") mark(X(it.a), 1, "#6a1b9a", "agent " + it.what, it);
    });
    ctx.restore();
    const nP = items.filter((i) => i.k === "partial").length, nF = items.filter((i) => i.k === "final").length;
    info.textContent = `${model.get("provider")} · ${state.done ? "done" : "live"} · audio sent ${(state.audio || 0).toFixed(2)} s · ${nP} partials · ${nF} finals · x: audio time (partials/finals placed at the audio cursor when received; words at provider times)`;
  }

  canvas.addEventListener("mousemove", (e) => {
    const b = canvas.getBoundingClientRect(), x = e.clientX - b.left, y = e.clientY - b.top;
    const h = hits.slice().reverse().find((h) => x >= h.x0 && x <= h.x1 && y >= h.y0 && y <= h.y1);
    if (!h) { tip.style.display = "none"; return; }
    const it = h.item;
    tip.textContent = `${it.k}${it.what ? " " + it.what : ""} · received ${it.t.toFixed(3)} s · audio sent ${it.a.toFixed(3)} s` +
      (it.text ? `\n“${it.text}”` : "") + (it.code != null ? `\ncode ${it.code} ${it.reason || ""}` : "") + (it.raw ? `\n${it.raw}` : "");
    tip.style.display = "block"; tip.style.left = Math.min(x + 12, b.width - 300) + "px"; tip.style.top = (y + 14) + "px";
  });
  canvas.addEventListener("mouseleave", () => { tip.style.display = "none"; });
  attachRange(model, canvas, { onLocal: (r) => { local = r; draw(); }, clamp: ([a, z]) => [Math.max(a, 0), Math.max(z, a + 0.05)], select: null });
  root.querySelector(".vl-fit").onclick = () => { local = null; model.set("view_range", null); model.save_changes(); draw(); };
  model.on("change:view_range", () => { local = null; draw(); });
  const ro = new ResizeObserver(draw); ro.observe(root);
  return () => { ro.disconnect(); model.off("msg:custom", onMsg); };
}

export default { render };
