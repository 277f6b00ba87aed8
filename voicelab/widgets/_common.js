// Shared helpers, prepended to each view's module by Python (no build step, no imports).

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

// Zoom/pan/select on a canvas whose x axis shows model's view_range; setRange is throttled.
function attachRange(model, canvas, { onLocal, clamp, select }) {
  let pending = null, timer = null, drag = null;
  const flush = () => { timer = null; if (pending) { model.set("view_range", pending); model.save_changes(); pending = null; } };
  const setRange = (r) => { pending = r; onLocal(r); if (!timer) timer = setTimeout(flush, 60); };
  const cur = () => pending || model.get("view_range");
  const tAt = (e) => { const b = canvas.getBoundingClientRect(); const [a, z] = cur(); return a + (e.clientX - b.left) / b.width * (z - a); };
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
    const dt = -(e.clientX - drag.x) / b.width * (z - a);
    setRange(clamp([a + dt, z + dt]));
  });
  canvas.addEventListener("pointerup", (e) => {
    if (drag && !drag.moved && select) select.click(tAt(e));
    if (drag && drag.select && drag.moved) select.done();
    drag = null;
  });
  return { cur };
}

