// Spectrogram view: paints the uint8 dB columns Python sends through a 256-entry colormap.

const GUTTER = 44;  // px left of the plot, the same as the Waveform's, so the two line up in a VBox

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
  const { attachRange, fmt, niceStep, theme } = await helpers(model);
  const root = document.createElement("div");
  root.className = "vl-view vl-spectrogram";
  root.innerHTML = `<div class="vl-bar"><span class="vl-info"></span></div><canvas></canvas>`;
  el.appendChild(root);
  const canvas = root.querySelector("canvas"), info = root.querySelector(".vl-info");
  const ctx = canvas.getContext("2d");
  const off = document.createElement("canvas"), octx = off.getContext("2d");
  let local = null, painted = null;
  const bytes = (v) => v instanceof DataView ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength) : new Uint8Array(v.buffer || v);
  const clamp = ([a, z]) => {
    const d = model.get("duration"); let span = Math.min(Math.max(z - a, 0.01), d);
    a = Math.min(Math.max(a, 0), d - span); return [a, a + span];
  };

  function paint() {  // image bytes -> offscreen canvas, one pixel per (column, bin)
    const cols = model.get("image_cols"), bins = model.get("image_bins");
    if (!cols || !bins) { painted = null; return; }
    const img = bytes(model.get("image")), cmap = bytes(model.get("colormap"));
    const nyq = model.get("samplerate") / 2, rows = Math.max(1, Math.min(bins, Math.round(bins * model.get("max_hz") / nyq)));
    off.width = cols; off.height = rows;
    const out = octx.createImageData(cols, rows), px = out.data;
    for (let c = 0; c < cols; c++) {
      for (let r = 0; r < rows; r++) {
        const v = img[c * bins + r], o = ((rows - 1 - r) * cols + c) * 4;
        px[o] = cmap[3 * v]; px[o + 1] = cmap[3 * v + 1]; px[o + 2] = cmap[3 * v + 2]; px[o + 3] = 255;
      }
    }
    octx.putImageData(out, 0, 0);
    painted = { t0: model.get("image_t0"), dt: model.get("image_step"), cols, rows };
  }

  function draw() {
    const dpr = window.devicePixelRatio || 1, W = canvas.clientWidth || 800, H = model.get("height");
    if (canvas.width !== Math.round(W * dpr)) { canvas.width = Math.round(W * dpr); canvas.height = Math.round(H * dpr); }
    canvas.style.height = H + "px";
    const th = theme(root), axisH = 18, left = GUTTER, plotW = W - left, plotH = H - axisH;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0); ctx.clearRect(0, 0, W, H);
    const [a, z] = local || model.get("view_range");
    const X = (t) => left + (t - a) / (z - a) * plotW;
    if (painted) {
      ctx.imageSmoothingEnabled = painted.dt / (z - a) * plotW < 2;
      const x0 = X(painted.t0 - painted.dt / 2), x1 = X(painted.t0 + (painted.cols - 0.5) * painted.dt);
      ctx.save(); ctx.beginPath(); ctx.rect(left, 0, plotW, plotH); ctx.clip();
      ctx.drawImage(off, x0, 0, x1 - x0, plotH); ctx.restore();
    }
    ctx.fillStyle = th.fg2; ctx.strokeStyle = th.grid; ctx.font = "11px sans-serif";
    const step = niceStep(z - a, plotW);
    for (let t = Math.ceil(a / step) * step; t <= z; t += step) { const x = Math.round(X(t)) + 0.5; ctx.fillText(fmt(t, step) + " s", x + 3, H - 5); ctx.beginPath(); ctx.moveTo(x, plotH); ctx.lineTo(x, plotH + 4); ctx.stroke(); }
    const maxHz = model.get("max_hz"), fstep = niceStep(maxHz, plotH * 90 / 36);  // a label every ~36 px
    ctx.textAlign = "right";
    for (let f = fstep; f <= maxHz + 1e-6; f += fstep) {
      const y = plotH - f / maxHz * plotH; if (y < 22) continue;  // keep clear of the unit at the top
      ctx.fillText(f >= 1000 ? String(+(f / 1000).toFixed(1)) : String(f), left - 6, y + 4);
      ctx.beginPath(); ctx.moveTo(left - 4, Math.round(y) + 0.5); ctx.lineTo(left, Math.round(y) + 0.5); ctx.stroke();
    }
    ctx.fillText("0", left - 6, plotH - 2);
    ctx.fillText(fstep >= 1000 ? "kHz" : "Hz", left - 6, 10);
    ctx.textAlign = "start";
    const ph = X(model.get("playhead"));
    if (ph >= left) { ctx.strokeStyle = th.warn; ctx.beginPath(); ctx.moveTo(ph, 0); ctx.lineTo(ph, plotH); ctx.stroke(); }
    info.textContent = `STFT ${model.get("n_fft")} / hop ${model.get("hop")} samples · ${model.get("samplerate")} Hz · dB re full-scale sine, floor ${model.get("db_floor")} dB · view ${a.toFixed(2)}–${z.toFixed(2)} s`;
  }

  attachRange(model, canvas, { onLocal: (r) => { local = r; draw(); }, clamp, select: null, left: GUTTER });
  const repaint = () => { paint(); local = null; draw(); };
  model.on("change:image", repaint);
  model.on("change:colormap", repaint);
  model.on("change:max_hz", repaint);
  model.on("change:playhead", draw);
  model.on("change:view_range", () => { local = null; draw(); });
  const ro = new ResizeObserver(() => {
    const w = Math.round(canvas.clientWidth);
    if (w > 0 && w !== model.get("width")) { model.set("width", w); model.save_changes(); }
    draw();
  });
  ro.observe(root);
  paint(); draw();
  return () => ro.disconnect();
}

export default { render };
