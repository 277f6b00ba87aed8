// Waveform view: draws the min/max envelope level Python sends for the visible range.
// Wheel zooms, drag pans, shift-drag selects, click sets the playhead, Play asks Python for PCM.

const GUTTER = 44;  // px left of the plot, the same as the Spectrogram's, so the two line up in a VBox

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
  root.className = "vl-view vl-waveform";
  root.innerHTML = `<div class="vl-bar"><button class="vl-play">▶ Play</button><button class="vl-fit">Fit</button>
    <button class="vl-clear">Clear selection</button><span class="vl-info"></span></div><canvas></canvas>`;
  el.appendChild(root);
  const canvas = root.querySelector("canvas"), info = root.querySelector(".vl-info");
  const playBtn = root.querySelector(".vl-play");
  const ctx = canvas.getContext("2d");
  let local = null, sel = null, audio = null;
  const duration = () => model.get("duration");
  const clamp = ([a, z]) => {
    const d = duration(), minSpan = 32 / model.get("samplerate");
    let span = Math.min(Math.max(z - a, minSpan), d);
    a = Math.min(Math.max(a, 0), d - span);
    return [a, a + span];
  };

  function draw() {
    const dpr = window.devicePixelRatio || 1, W = canvas.clientWidth || 800, H = model.get("height");
    if (canvas.width !== Math.round(W * dpr)) { canvas.width = Math.round(W * dpr); canvas.height = Math.round(H * dpr); }
    canvas.style.height = H + "px";
    const th = theme(root);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, W, H);
    const [a, z] = local || model.get("view_range");
    const axisH = 18, plotH = H - axisH, mid = plotH / 2, left = GUTTER, plotW = W - left;
    const X = (t) => left + (t - a) / (z - a) * plotW, Y = (v) => mid - v / 32767 * (mid - 2);
    // grid + axes: amplitude in full scale (1 = int16 32767) on the left, seconds below
    const step = niceStep(z - a, plotW);
    ctx.strokeStyle = th.grid; ctx.fillStyle = th.fg2; ctx.lineWidth = 1; ctx.font = "11px sans-serif";
    ctx.textAlign = "right";
    for (const v of [1, 0.5, 0, -0.5, -1]) {
      const y = Math.round(Y(v * 32767)) + 0.5;
      ctx.beginPath(); ctx.moveTo(left - 4, y); ctx.lineTo(v === 0 ? W : left, y); ctx.stroke();
      ctx.fillText(v === 0 ? "0" : (v > 0 ? "+" : "−") + Math.abs(v), left - 6, Math.min(Math.max(y + 4, 9), plotH));
    }
    ctx.textAlign = "start";
    for (let t = Math.ceil(a / step) * step; t <= z + 1e-9; t += step) {
      const x = Math.round(X(t)) + 0.5, label = fmt(t, step) + " s";
      ctx.beginPath(); ctx.moveTo(x, 0); ctx.lineTo(x, plotH); ctx.stroke();
      if (x + 3 + ctx.measureText(label).width <= W) ctx.fillText(label, x + 3, H - 5);
    }
    ctx.save(); ctx.beginPath(); ctx.rect(left, 0, plotW, H); ctx.clip();
    // selection
    const s = sel || model.get("selection");
    if (s) { ctx.fillStyle = th.accent; ctx.globalAlpha = 0.18; ctx.fillRect(X(Math.min(...s)), 0, Math.abs(X(s[1]) - X(s[0])), plotH); ctx.globalAlpha = 1; }
    // envelope
    const buf = model.get("envelope");
    const dv = buf instanceof DataView ? buf : new DataView(buf.buffer || buf);
    const n = dv.byteLength / 4, t0 = model.get("envelope_t0"), dt = model.get("envelope_step");
    ctx.fillStyle = th.accent; ctx.strokeStyle = th.accent;
    const pxPerBin = dt / (z - a) * plotW;
    if (pxPerBin > 2 && n > 1) {        // zoomed in: raw samples as a line
      ctx.beginPath();
      for (let i = 0; i < n; i++) { const x = X(t0 + (i + 0.5) * dt), y = Y(dv.getInt16(4 * i, true)); i ? ctx.lineTo(x, y) : ctx.moveTo(x, y); }
      ctx.stroke();
    } else {
      for (let i = 0; i < n; i++) {
        const x = X(t0 + i * dt); if (x > W || x + pxPerBin < left) continue;
        const lo = Y(dv.getInt16(4 * i, true)), hi = Y(dv.getInt16(4 * i + 2, true));
        ctx.fillRect(x, hi, Math.max(pxPerBin, 1), Math.max(lo - hi, 1));
      }
    }
    // playhead
    const ph = X(model.get("playhead"));
    ctx.strokeStyle = th.warn; ctx.lineWidth = 1.5; ctx.beginPath(); ctx.moveTo(ph, 0); ctx.lineTo(ph, plotH); ctx.stroke();
    ctx.lineWidth = 1; ctx.restore();
    const selText = s ? `  selection ${Math.min(...s).toFixed(3)}–${Math.max(...s).toFixed(3)} s` : "";
    info.textContent = `${model.get("title") || "clip"} · ${model.get("samplerate")} Hz · ${duration().toFixed(2)} s · view ${a.toFixed(2)}–${z.toFixed(2)} s${selText}`;
  }

  attachRange(model, canvas, {
    onLocal: (r) => { local = r; draw(); }, clamp, left: GUTTER,
    select: {
      update: (t1, t2) => { sel = [Math.max(0, Math.min(t1, t2)), Math.min(duration(), Math.max(t1, t2))]; draw(); },
      done: () => { model.set("selection", sel); model.save_changes(); sel = null; },
      click: (t) => { model.set("playhead", Math.max(0, Math.min(t, duration()))); model.save_changes(); },
    },
  });

  function stop() { if (audio) { try { audio.src.stop(); } catch (e) { /* already stopped */ } cancelAnimationFrame(audio.raf); audio = null; } playBtn.textContent = "▶ Play"; }
  playBtn.onclick = () => {
    if (audio) { stop(); return; }
    const s = model.get("selection"), [a, z] = model.get("view_range"), ph = model.get("playhead");
    const start = s ? Math.min(...s) : (ph >= a && ph < z ? ph : a), end = s ? Math.max(...s) : z;
    model.send({ type: "play", start, end });
    playBtn.textContent = "… loading";
  };
  root.querySelector(".vl-fit").onclick = () => { model.set("view_range", [0, duration()]); model.save_changes(); };
  root.querySelector(".vl-clear").onclick = () => { model.set("selection", null); model.save_changes(); };

  const onMsg = (msg, buffers) => {
    if (!msg || msg.type !== "pcm" || !buffers || !buffers.length) return;
    const b = buffers[0], dv = b instanceof DataView ? b : new DataView(b.buffer || b);
    const n = dv.byteLength / 2; if (!n) { stop(); return; }
    const ac = new (window.AudioContext || window.webkitAudioContext)();
    const ab = ac.createBuffer(1, n, msg.samplerate), ch = ab.getChannelData(0);
    for (let i = 0; i < n; i++) ch[i] = dv.getInt16(2 * i, true) / 32768;
    const src = ac.createBufferSource(); src.buffer = ab; src.connect(ac.destination);
    const t0 = ac.currentTime; src.start();
    audio = { src, raf: 0 };
    playBtn.textContent = "❚❚ Pause";
    const tick = () => {
      if (!audio) return;
      model.set("playhead", msg.start + (ac.currentTime - t0)); draw();
      audio.raf = requestAnimationFrame(tick);
    };
    src.onended = () => { model.save_changes(); stop(); ac.close(); };
    tick();
  };
  model.on("msg:custom", onMsg);
  const redraw = () => { local = null; draw(); };
  for (const k of ["envelope", "selection", "playhead", "height"]) model.on(`change:${k}`, k === "envelope" ? redraw : draw);
  const ro = new ResizeObserver(() => {
    const w = Math.round(canvas.clientWidth);
    if (w > 0 && w !== model.get("width")) { model.set("width", w); model.save_changes(); }
    draw();
  });
  ro.observe(root);
  draw();
  return () => { ro.disconnect(); stop(); model.off("msg:custom", onMsg); };
}

export default { render };
