// Timeline view: draws the model's store (snapshot_data trait + append messages, see _common.js) on audio time.
// Lanes: connection, VAD, partials (faint, from display to replacement), finals (solid + word boxes).

const NOTE = "x: audio seconds sent. Partials and finals sit at the audio cursor when they arrived " +
  "(dashed line = a final's arrival); word boxes at the provider's word times. Hover for the raw message.";

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
  const { attachRange, fitText, fmt, niceStep, storeOf, theme } = await helpers(model);
  const store = storeOf(model);
  const root = document.createElement("div");
  root.className = "vl-view vl-timeline";
  root.innerHTML = `<div class="vl-bar"><button class="vl-fit">Follow</button><span class="vl-info"></span>
    <span class="vl-note"></span></div><canvas></canvas><div class="vl-tip"></div>`;
  el.appendChild(root);
  const canvas = root.querySelector("canvas"), info = root.querySelector(".vl-info"), tip = root.querySelector(".vl-tip");
  const note = root.querySelector(".vl-note");
  note.textContent = NOTE; note.title = NOTE;
  const ctx = canvas.getContext("2d");
  let hits = [], local = null, raf = 0;
  const LANES = ["connection", "VAD", "partials", "finals"];

  function schedule() { if (!raf) raf = requestAnimationFrame(() => { raf = 0; draw(); }); }
  store.views.add(schedule);
  function extent() {
    let end = store.state.audio || 0;
    for (const i of store.items) { end = Math.max(end, i.a || 0); if (i.w && i.w.length) end = Math.max(end, i.w[i.w.length - 1][2]); }
    return [0, end * 1.02 || 1];
  }
  const range = () => local || model.get("view_range") || extent();

  function draw() {
    const items = store.items, state = store.state;
    const dpr = window.devicePixelRatio || 1, W = canvas.clientWidth || 800, H = model.get("height");
    if (canvas.width !== Math.round(W * dpr) || canvas.height !== Math.round(H * dpr)) { canvas.width = Math.round(W * dpr); canvas.height = Math.round(H * dpr); }
    canvas.style.height = H + "px";
    const th = theme(root), left = 74, right = 6, axisH = 18, plotW = W - left - right, laneH = (H - axisH) / LANES.length;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0); ctx.clearRect(0, 0, W, H);
    const [a, z] = range(); const X = (t) => left + (t - a) / (z - a) * plotW;
    hits = [];
    ctx.font = "11px sans-serif"; ctx.textBaseline = "middle";
    LANES.forEach((name, k) => {
      ctx.fillStyle = th.fg2; ctx.fillText(name, 4, (k + 0.5) * laneH);
      ctx.strokeStyle = th.grid; ctx.beginPath(); ctx.moveTo(left, (k + 1) * laneH + 0.5); ctx.lineTo(W, (k + 1) * laneH + 0.5); ctx.stroke();
    });
    ctx.fillStyle = th.fg2; ctx.fillText("audio sent", 4, H - 8);
    const step = niceStep(z - a, plotW);
    for (let t = Math.ceil(a / step) * step; t <= z + 1e-9; t += step) {
      const x = Math.round(X(t)) + 0.5, label = fmt(t, step) + " s";
      ctx.strokeStyle = th.grid; ctx.beginPath(); ctx.moveTo(x, 0); ctx.lineTo(x, H - axisH); ctx.stroke();
      if (x + 3 + ctx.measureText(label).width <= W) { ctx.fillStyle = th.fg2; ctx.fillText(label, x + 3, H - 8); }
    }
    ctx.save(); ctx.beginPath(); ctx.rect(left, 0, plotW + right, H); ctx.clip();
    // audio sent so far
    ctx.fillStyle = th.accent; ctx.globalAlpha = 0.06; ctx.fillRect(X(0), 0, X(state.audio || 0) - X(0), H - axisH); ctx.globalAlpha = 1;
    const box = (x0, x1, lane, sub, nsub, color, alpha, text, item, textColor) => {
      const y = lane * laneH + 3 + sub * (laneH - 6) / nsub, h = (laneH - 6) / nsub - 2;
      ctx.globalAlpha = alpha; ctx.fillStyle = color; ctx.fillRect(x0, y, Math.max(x1 - x0, 2), h); ctx.globalAlpha = 1;
      if (text) { ctx.fillStyle = textColor || th.fg; fitText(ctx, text, Math.max(x0, left) + 3, y + h / 2, Math.min(x1, W) - Math.max(x0, left) - 5); }
      hits.push({ x0, x1: Math.max(x1, x0 + 3), y0: y, y1: y + h, item });
    };
    // Marks are drawn now; their labels are laid out afterwards in rows so that none overlaps another.
    const labels = [];
    const mark = (x, lane, color, label, item) => {
      ctx.strokeStyle = color; ctx.lineWidth = 2; ctx.beginPath(); ctx.moveTo(x, lane * laneH + 3); ctx.lineTo(x, (lane + 1) * laneH - 3); ctx.stroke(); ctx.lineWidth = 1;
      if (label) labels.push({ x, lane, color, label });
      hits.push({ x0: x - 4, x1: x + 4, y0: lane * laneH, y1: (lane + 1) * laneH, item });
    };
    let sub = 0, nextShown = new Array(items.length);
    for (let j = items.length - 1, next = null; j >= 0; j--) { nextShown[j] = next; if (items[j].k === "partial" || items[j].k === "final") next = items[j]; }
    const conn = items.filter((i) => i.k === "conn");
    items.forEach((it, idx) => {
      if (it.k === "partial") {
        const next = nextShown[idx], end = next ? next.a : state.audio;
        box(X(it.a), X(Math.max(end, it.a)), 2, sub, 2, th.fg2, 0.22, it.text, it); sub = 1 - sub;
      } else if (it.k === "final") {
        sub = 0;
        if (it.w && it.w.length) {
          box(X(it.w[0][1]), X(it.w[it.w.length - 1][2]), 3, 0, 2, th.accent, 0.9, it.text, it, "#fff");
          for (const w of it.w) box(X(w[1]), X(w[2]) - 1, 3, 1, 2, th.accent, 0.3, w[0], it);  // 1 px between words
        } else box(X(it.a) - 3, X(it.a) + 3, 3, 0, 2, th.accent, 0.9, it.text, it, "#fff");
        ctx.strokeStyle = th.accent; ctx.setLineDash([3, 3]); ctx.beginPath(); ctx.moveTo(X(it.a), 3 * laneH); ctx.lineTo(X(it.a), 4 * laneH); ctx.stroke(); ctx.setLineDash([]);
      } else if (it.k === "vad") {
        mark(X(it.at != null ? it.at : it.a), 1, it.on ? "#2e7d32" : "#c62828", it.on ? "speech ▶" : "■ stop", it);
      } else if (it.k === "conn") {
        const c = conn.indexOf(it), prev = conn[c - 1], next = conn[c + 1];
        if (it.what === "gap") box(X(it.at != null ? it.at : it.a), X(it.a) + 4, 0, 0, 1, th.warn, 0.5, "gap " + (it.code || ""), it);
        else if (it.what === "connect" && next && (next.what === "open" || next.what === "reject")) mark(X(it.a), 0, th.fg2, "", it);
        else {
          const ms = prev && prev.what === "connect" && it.what !== "connect" ? ` +${Math.round((it.t - prev.t) * 1000)} ms` : "";
          const bad = it.what === "reject" || (it.what === "close" && it.code !== 1000);
          const text = it.what === "open" && ms ? `connected ${it.code ?? ""}${ms}` : it.what + (it.code != null && it.what !== "connect" ? " " + it.code : "") + ms;
          mark(X(it.a), 0, bad ? "#c62828" : th.fg2, text, it);
        }
      } else if (it.k === "error") mark(X(it.a), 0, "#c62828", "error " + (it.code || ""), it);
      else if (it.k === "agent") mark(X(it.a), 1, "#6a1b9a", "agent " + it.what, it);
    });
    // label rows: right of the mark if it fits before the edge, else left of it; the first row with room
    const rowH = 13, rowsOf = Math.max(1, Math.min(3, Math.floor((laneH - 4) / rowH))), ends = {};
    labels.sort((p, q) => p.x - q.x);
    for (const l of labels) {
      const w = ctx.measureText(l.label).width;
      const x0 = l.x + 4 + w <= W - 2 ? l.x + 4 : l.x - 4 - w;
      const rows = ends[l.lane] || (ends[l.lane] = new Array(rowsOf).fill(-Infinity));
      const r = rows.findIndex((end) => end + 6 <= x0);
      if (r < 0) continue;  // no room: the mark stays, its tooltip tells
      rows[r] = x0 + w;
      ctx.fillStyle = l.color; ctx.fillText(l.label, x0, l.lane * laneH + 10 + r * rowH);
    }
    // diagnosis findings (the `findings` trait, see Timeline.mark): a dashed line across the lanes at the audio
    // sent by the finding's time, its code along the bottom (one row per overlap, up to three)
    const SEV = { error: "#b42318", warning: "#b54708", info: "#175cd3" }, fEnds = [-Infinity, -Infinity, -Infinity];
    for (const f of model.get("findings") || []) {
      if (f.a == null) continue;
      const x = X(f.a), color = SEV[f.severity] || th.warn;
      ctx.strokeStyle = color; ctx.lineWidth = 2; ctx.setLineDash([5, 3]);
      ctx.beginPath(); ctx.moveTo(x, 0); ctx.lineTo(x, H - axisH); ctx.stroke(); ctx.setLineDash([]); ctx.lineWidth = 1;
      const label = "⚑ " + f.code, w = ctx.measureText(label).width, x0 = x + 4 + w <= W - 2 ? x + 4 : x - 4 - w;
      const r = fEnds.findIndex((end) => end + 6 <= x0);
      if (r >= 0) { fEnds[r] = x0 + w; ctx.fillStyle = color; ctx.fillText(label, x0, H - axisH - 8 - r * 13); }
      hits.push({ x0: x - 4, x1: x + 4, y0: 0, y1: H - axisH,
        item: { k: "finding", what: f.code, t: f.t, a: f.a, reason: `${f.severity}: ${f.message || ""}` } });
    }
    ctx.restore();
    let nP = 0, nF = 0;
    for (const i of items) { if (i.k === "partial") nP++; else if (i.k === "final") nF++; }
    info.textContent = `${model.get("provider")} · ${state.done ? "done" : "live"} · audio sent ${(state.audio || 0).toFixed(2)} s · ${nP} partials · ${nF} finals`;
  }

  canvas.addEventListener("mousemove", (e) => {
    const b = canvas.getBoundingClientRect(), x = e.clientX - b.left, y = e.clientY - b.top;
    const h = hits.slice().reverse().find((h) => x >= h.x0 && x <= h.x1 && y >= h.y0 && y <= h.y1);
    if (!h) { tip.style.display = "none"; return; }
    const it = h.item;
    tip.textContent = `${it.k}${it.what ? " " + it.what : ""} · received ${it.t.toFixed(3)} s · audio sent ${it.a.toFixed(3)} s` +
      (it.text ? `\n“${it.text}”` : "") + (it.code != null || it.reason ? `\n${it.code != null ? "code " + it.code + " " : ""}${it.reason || ""}` : "") +
      (it.raw ? `\n${it.raw}` : "");
    tip.style.display = "block"; tip.style.left = Math.max(0, Math.min(x + 12, b.width - 300)) + "px"; tip.style.top = (y + 14) + "px";
  });
  canvas.addEventListener("mouseleave", () => { tip.style.display = "none"; });
  attachRange(model, canvas, { onLocal: (r) => { local = r; draw(); }, clamp: ([a, z]) => [Math.max(a, 0), Math.max(z, a + 0.05)], select: null, left: 74, right: 6 });
  root.querySelector(".vl-fit").onclick = () => { local = null; model.set("view_range", null); model.save_changes(); draw(); };
  const onRange = () => { local = null; draw(); };
  model.on("change:view_range", onRange);
  model.on("change:height", schedule);
  model.on("change:findings", schedule);
  const ro = new ResizeObserver(schedule); ro.observe(root);
  draw();
  return () => { ro.disconnect(); store.views.delete(schedule); model.off("change:view_range", onRange); model.off("change:height", schedule); model.off("change:findings", schedule); };
}

async function initialize({ model }) {
  return (await helpers(model)).initializeStore({ model });
}

export default { initialize, render };
