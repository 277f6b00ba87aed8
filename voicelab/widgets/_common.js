// Shared helpers of the four views (no build step): Python sends this file as the `_common` trait, and each
// view's module imports it once from a blob URL (see `helpers` at the top of waveform.js).

function theme(el) {
  const s = getComputedStyle(el);
  const v = (name, dflt) => (s.getPropertyValue(name) || "").trim() || dflt;
  return { fg: v("--jp-ui-font-color1", "#222"), fg2: v("--jp-ui-font-color2", "#666"),
    grid: v("--jp-border-color2", "#ddd"), bg: v("--jp-layout-color0", "#fff"),
    accent: v("--jp-brand-color1", "#1976d2"), warn: v("--jp-warn-color1", "#f57c00") };
}

function niceStep(span, px) {
  const raw = span / Math.max(px / 90, 1);
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

function fmt(t, step) {
  const d = step >= 1 ? 0 : Math.min(3, Math.ceil(-Math.log10(step)));
  return t.toFixed(d);
}

// Zoom/pan/select on a canvas whose x axis shows model's view_range between `left` and `right` px of
// gutter; setRange is throttled.
function attachRange(model, canvas, { onLocal, clamp, select, left = 0, right = 0 }) {
  let pending = null, timer = null, drag = null;
  const flush = () => { timer = null; if (pending) { model.set("view_range", pending); model.save_changes(); pending = null; } };
  const setRange = (r) => { pending = r; onLocal(r); if (!timer) timer = setTimeout(flush, 60); };
  const cur = () => pending || model.get("view_range");
  const plotW = (b) => Math.max(b.width - left - right, 1);
  const tAt = (e) => { const b = canvas.getBoundingClientRect(); const [a, z] = cur(); return a + (e.clientX - b.left - left) / plotW(b) * (z - a); };
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    const [a, z] = cur(); const t = tAt(e); const k = Math.exp(e.deltaY * 0.0015);
    setRange(clamp([t - (t - a) * k, t + (z - t) * k]));
  }, { passive: false });
  canvas.addEventListener("pointerdown", (e) => {
    canvas.setPointerCapture(e.pointerId);
    drag = { x: e.clientX, t: tAt(e), range: cur(), select: e.shiftKey && select, moved: false };
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!drag) return;
    if (Math.abs(e.clientX - drag.x) > 3) drag.moved = true;
    if (!drag.moved) return;
    if (drag.select) { select.update(drag.t, tAt(e)); return; }
    const b = canvas.getBoundingClientRect(); const [a, z] = drag.range;
    const dt = -(e.clientX - drag.x) / plotW(b) * (z - a);
    setRange(clamp([a + dt, z + dt]));
  });
  canvas.addEventListener("pointerup", (e) => {
    if (drag && !drag.moved && select) select.click(tAt(e));
    if (drag && drag.select && drag.moved) select.done();
    drag = null;
  });
  return { cur };
}


// One store per session-view model: seeded from the `snapshot_data` trait (it comes with the model, so no
// kernel round trip), extended in order by "append" messages. `initialize` creates it, so appends that
// arrive before any view renders still count; every view of the model draws from it. anywidget hands
// initialize() and each render() a different proxy of the same model, so it is found again by `_uid`.
const stores = new Map();

function storeOf(model) {
  const uid = model.get("_uid");
  let s = stores.get(uid);
  if (!s) { s = createStore(model); stores.set(uid, s); }
  return s;
}

function createStore(model) {
  const s = { items: [], points: [], rev: -1, state: {}, asked: false, views: new Set() };
  const notify = () => { for (const f of s.views) f(); };
  const load = (snap) => {
    if (!snap || typeof snap.rev !== "number" || snap.rev < s.rev) return false;
    s.items = (snap.items || []).slice(); s.points = (snap.points || []).slice();
    s.rev = snap.rev; s.state = snap.state || {}; s.asked = false;
    return true;
  };
  load(model.get("snapshot_data"));
  const onMsg = (msg) => {
    if (!msg) return;
    if (msg.type === "snapshot") { if (load(msg)) notify(); return; }
    if (msg.type !== "append" || msg.rev <= s.rev) return;     // older than what the store holds
    if (msg.rev !== s.rev + 1) {                               // an append went missing: ask once
      if (!s.asked) { s.asked = true; model.send({ type: "snapshot?" }); }
      return;
    }
    for (const it of msg.items || []) s.items.push(it);
    for (const p of msg.points || []) s.points.push(p);
    s.rev = msg.rev; s.state = msg.state || s.state; notify();
  };
  const onTrait = () => { if (load(model.get("snapshot_data"))) notify(); };
  model.on("msg:custom", onMsg);
  model.on("change:snapshot_data", onTrait);
  s.dispose = () => { model.off("msg:custom", onMsg); model.off("change:snapshot_data", onTrait); };
  return s;
}

function initializeStore({ model }) {
  storeOf(model);
  return () => {
    const uid = model.get("_uid"), s = stores.get(uid);
    stores.delete(uid);
    if (s) s.dispose();
  };
}

// Draw `text` at (x, y) if it fits in `room` px; else its longest prefix that does, with an ellipsis
// (nothing when not even two characters fit). Returns the width drawn.
function fitText(ctx, text, x, y, room) {
  if (!text || room < 8) return 0;
  let w = ctx.measureText(text).width;
  if (w <= room) { ctx.fillText(text, x, y); return w; }
  let lo = 0, hi = text.length;
  while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (ctx.measureText(text.slice(0, mid) + "…").width <= room) lo = mid; else hi = mid - 1; }
  if (lo < 2) return 0;
  const t = text.slice(0, lo).trimEnd() + "…";
  ctx.fillText(t, x, y);
  return ctx.measureText(t).width;
}

export { attachRange, fitText, fmt, initializeStore, niceStep, storeOf, theme };
