// voicelab Recorder widget (anywidget ESM). The Python side is voicelab/widgets/recorder.py.
//
// One capture engine per model (built in `initialize`), any number of views (each `render`).
// Messages to the kernel (model.send):
//   {type: "start", context_rate, target_rate, dtype: "int16", byteorder: "little", channels: 1,
//    chunk_frames, track_settings: {echoCancellation, autoGainControl, noiseSuppression, sampleRate, ...}, label}
//   {type: "chunk", seq, frames}  + one binary buffer: int16 little-endian mono PCM at target_rate
//   {type: "done", frames, reason}          ("stop" | "limit" | "ended": why capture stopped)
//   {type: "error", name, message}          (name: NotAllowedError | NotFoundError | InsecureContextError | ...)
// Messages from the kernel: {type: "start"} and {type: "stop"} (what the button does).

const ERRORS = {
  NotAllowedError: {
    title: "Microphone permission denied",
    fix: "Allow microphone access for this page (the microphone icon in the address bar, or the browser's " +
      "site settings), then press Record again.",
  },
  InsecureContextError: {
    title: "Microphone unavailable: the page is not a secure context",
    fix: "Open JupyterLab over HTTPS, or on http://localhost or http://127.0.0.1. Browsers hide " +
      "navigator.mediaDevices on plain http:// addresses.",
  },
  NotFoundError: {
    title: "No microphone found",
    fix: "Check that a microphone is connected and enabled in the system's sound settings, then press Record again.",
  },
  NotReadableError: {
    title: "The microphone could not be opened",
    fix: "Another application may be using it, or the operating system blocked it; close that application or " +
      "check the system's privacy settings.",
  },
};
const ALIASES = { PermissionDeniedError: "NotAllowedError", SecurityError: "NotAllowedError",
  DevicesNotFoundError: "NotFoundError", TrackStartError: "NotReadableError" };
const SETTINGS = ["echoCancellation", "autoGainControl", "noiseSuppression", "sampleRate", "channelCount"];
const FLOOR_DB = -60;

function describe(name, message) {
  const known = ERRORS[name];
  return known ? { name, message, ...known }
    : { name, message, title: `Recording failed (${name})`, fix: "See the message below; press Record to try again." };
}

function createEngine(model) {
  const listeners = new Set();
  let run = null; // the capture in progress: {stream, ctx, node, url, seq, frames}
  let workletUrl = null;

  const emit = (ev) => { for (const fn of listeners) fn(ev); };
  const setState = (changes) => {
    for (const [k, v] of Object.entries(changes)) model.set(k, v);
    model.save_changes();
  };

  function cleanup() {
    if (!run) return;
    const r = run;
    run = null;
    try { r.node && r.node.port.close(); } catch (_) { /* already closed */ }
    try { r.source && r.source.disconnect(); } catch (_) { /* already disconnected */ }
    if (r.stream) for (const t of r.stream.getTracks()) t.stop();
    if (r.ctx && r.ctx.state !== "closed") r.ctx.close().catch(() => {});
  }

  function fail(name, message) {
    name = ALIASES[name] || name;
    cleanup();
    model.send({ type: "error", name, message });
    setState({ state: "error", error: describe(name, message) });
    emit({ type: "reset" });
  }

  async function start() {
    const st = model.get("state");
    if (st === "requesting" || st === "recording" || st === "stopping") return;
    setState({ state: "requesting", error: {}, context_rate: 0, track_settings: {} });
    emit({ type: "time", seconds: 0 });
    emit({ type: "stats", chunks: 0, bytes: 0 });
    const md = typeof navigator !== "undefined" ? navigator.mediaDevices : undefined;
    if (!window.isSecureContext || !md || !md.getUserMedia || typeof AudioWorkletNode === "undefined") {
      fail("InsecureContextError", `${location.origin} is not a secure context (window.isSecureContext=` +
        `${window.isSecureContext}); navigator.mediaDevices is ${md ? "present" : "undefined"}`);
      return;
    }
    const ec = model.get("echo_cancellation");
    const targetRate = model.get("target_rate");
    const chunkFrames = Math.max(1, Math.round(model.get("chunk_seconds") * targetRate));
    const maxSeconds = model.get("max_seconds");
    const r = { seq: 0, frames: 0, reason: "stop" };
    run = r;
    try {
      r.stream = await md.getUserMedia({
        audio: { echoCancellation: ec, autoGainControl: ec, noiseSuppression: ec, channelCount: { ideal: 1 } },
        video: false,
      });
      if (run !== r) { for (const t of r.stream.getTracks()) t.stop(); return; } // stopped while asking
      r.ctx = new AudioContext(); // the browser's own rate: resampling happens in the worklet
      if (r.ctx.state === "suspended") await r.ctx.resume();
      if (!workletUrl) {
        workletUrl = URL.createObjectURL(new Blob([model.get("_worklet")], { type: "text/javascript" }));
      }
      await r.ctx.audioWorklet.addModule(workletUrl);
      r.source = r.ctx.createMediaStreamSource(r.stream);
      r.node = new AudioWorkletNode(r.ctx, "voicelab-recorder", {
        numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [1],
        channelCount: 1, channelCountMode: "explicit", channelInterpretation: "speakers",
        processorOptions: { targetRate, chunkFrames, maxFrames: maxSeconds ? Math.round(maxSeconds * targetRate) : 0 },
      });
      const mute = r.ctx.createGain();
      mute.gain.value = 0; // keeps the node pulled by the graph without playing the microphone back
      r.source.connect(r.node).connect(mute).connect(r.ctx.destination);
    } catch (err) {
      if (run === r) fail(err && err.name ? err.name : "Error", String(err && err.message || err));
      return;
    }
    const track = r.stream.getAudioTracks()[0];
    const all = track.getSettings ? track.getSettings() : {};
    const settings = {};
    for (const k of SETTINGS) if (k in all) settings[k] = all[k];
    track.onended = () => { if (run === r) { r.reason = "ended"; stop(); } };
    r.node.port.onmessage = (e) => {
      const m = e.data;
      if (m.type === "chunk") {
        const frames = m.pcm.byteLength / 2;
        model.send({ type: "chunk", seq: r.seq++, frames }, undefined, [m.pcm]);
        r.frames += frames;
        r.bytes = (r.bytes || 0) + frames * 2;
        emit({ type: "time", seconds: r.frames / targetRate });
        emit({ type: "stats", chunks: r.seq, bytes: r.bytes });
      } else if (m.type === "level") {
        emit({ type: "level", rms: m.rms, peak: m.peak });
      } else if (m.type === "limit") {
        r.reason = "limit";
        stop();
      } else if (m.type === "flushed") {
        if (run !== r) return;
        model.send({ type: "done", frames: r.frames, reason: r.reason });
        cleanup();
        setState({ state: "done" });
        emit({ type: "reset" });
      }
    };
    model.send({
      type: "start", context_rate: r.ctx.sampleRate, target_rate: targetRate, dtype: "int16", byteorder: "little",
      channels: 1, chunk_frames: chunkFrames, track_settings: settings, label: track.label || "",
    });
    setState({ state: "recording", context_rate: r.ctx.sampleRate, track_settings: settings });
  }

  function stop() {
    if (!run) return;
    if (!run.node) { // still asking for permission: give up quietly
      cleanup();
      setState({ state: "idle" });
      return;
    }
    if (model.get("state") !== "stopping") setState({ state: "stopping" });
    run.node.port.postMessage({ cmd: "flush" });
  }

  const onCustom = (msg) => {
    if (msg && msg.type === "start") start();
    else if (msg && msg.type === "stop") stop();
  };
  model.on("msg:custom", onCustom);
  return {
    start, stop, listeners,
    recording: () => run !== null,
    dispose() {
      model.off("msg:custom", onCustom);
      cleanup();
      if (workletUrl) URL.revokeObjectURL(workletUrl);
    },
  };
}

// anywidget hands initialize() and each render() a different proxy of the same model, so the engine is
// found again by the model's `_uid` trait (a random id the kernel assigns).
const engines = new Map();

function h(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

const fmtRate = (hz) => (hz ? `${Number(hz).toLocaleString("en-US")} Hz` : "—");
const STATE_TEXT = { idle: "ready", requesting: "waiting for permission", recording: "recording",
  stopping: "finishing", done: "recorded", error: "error" };

function engineOf(model) {
  const uid = model.get("_uid");
  let engine = engines.get(uid);
  if (!engine) {
    engine = createEngine(model);
    engines.set(uid, engine);
  }
  return engine;
}

function initialize({ model }) {
  engineOf(model);
  return () => {
    const uid = model.get("_uid");
    const engine = engines.get(uid);
    engines.delete(uid);
    if (engine) engine.dispose();
  };
}

function render({ model, el }) {
  const engine = engineOf(model);
  const root = h("div", "vl-rec");
  el.appendChild(root);

  const head = h("div", "vl-rec-head");
  const title = h("span", "vl-rec-title", "Microphone");
  const badge = h("span", "vl-rec-state");
  head.append(title, badge);

  const main = h("div", "vl-rec-main");
  const button = h("button", "vl-rec-button");
  button.type = "button";
  const icon = h("span", "vl-rec-icon");
  const label = h("span", "vl-rec-label", "Record");
  button.append(icon, label);
  const meter = h("div", "vl-rec-meter");
  meter.title = "input level before resampling, dBFS (bar: RMS, tick: peak)";
  const bar = h("div", "vl-rec-meter-bar");
  const fill = h("div", "vl-rec-meter-fill");
  const peakTick = h("div", "vl-rec-meter-peak");
  bar.append(fill, peakTick);
  const scale = h("div", "vl-rec-meter-scale");
  for (const db of [-60, -40, -20, -10, 0]) {
    const t = h("span", "", String(db));
    t.style.left = `${(100 * (db - FLOOR_DB)) / -FLOOR_DB}%`;
    scale.appendChild(t);
  }
  meter.append(bar, scale);
  const readout = h("div", "vl-rec-readout");
  const time = h("span", "vl-rec-time", "0.0 s");
  const db = h("span", "vl-rec-db", "— dBFS");
  const stats = h("span", "vl-rec-stats");
  readout.append(time, db, stats);
  main.append(button, meter, readout);

  const facts = h("dl", "vl-rec-facts");
  const fact = (name) => {
    facts.append(h("dt", "", name));
    const dd = h("dd");
    facts.append(dd);
    return dd;
  };
  const ctxDd = fact("AudioContext");
  const sentDd = fact("Sent to kernel");
  const sentMain = h("span");
  const sentNote = h("span", "vl-rec-muted");
  sentNote.classList.add("vl-rec-line");
  sentDd.append(sentMain, sentNote);
  const trackDd = fact("Track");

  const errBox = h("div", "vl-rec-error");
  const errTitle = h("div", "vl-rec-error-title");
  const errFix = h("div", "vl-rec-error-fix");
  const errRaw = h("code", "vl-rec-error-raw");
  errBox.append(errTitle, errFix, errRaw);

  root.append(head, main, facts, errBox);

  let shownRms = 0, heldPeak = 0, heldAt = 0;
  const toPct = (v) => {
    const d = v > 0 ? 20 * Math.log10(v) : -Infinity;
    return Math.max(0, Math.min(100, (100 * (d - FLOOR_DB)) / -FLOOR_DB));
  };
  const showLevel = (rms, peak) => {
    const pct = toPct(rms);
    fill.style.width = `${pct}%`;
    const zone = peak >= 0.99 ? "clip" : rms > 0.3 ? "hot" : "ok";
    fill.dataset.zone = zone;
    peakTick.style.left = `calc(${toPct(heldPeak)}% - 1px)`;
    peakTick.style.opacity = heldPeak > 0 ? "1" : "0";
    const d = rms > 0 ? 20 * Math.log10(rms) : -Infinity;
    db.textContent = d < FLOOR_DB ? `below ${FLOOR_DB} dBFS` : `${d.toFixed(0)} dBFS${zone === "clip" ? " · clipping" : ""}`;
    db.dataset.zone = zone;
  };
  const onEngine = (ev) => {
    if (ev.type === "time") {
      time.textContent = `${ev.seconds.toFixed(1)} s`;
    } else if (ev.type === "stats") {
      stats.textContent = ev.chunks ? `${ev.chunks} chunk${ev.chunks === 1 ? "" : "s"} · ${(ev.bytes / 1024).toFixed(1)} kB` : "";
    } else if (ev.type === "level") {
      shownRms = Math.max(ev.rms, shownRms * 0.6); // fast attack, quick release
      const now = performance.now();
      if (ev.peak >= heldPeak || now - heldAt > 1200) { heldPeak = ev.peak; heldAt = now; }
      showLevel(shownRms, ev.peak);
    } else if (ev.type === "reset") {
      shownRms = 0; heldPeak = 0;
      showLevel(0, 0);
      db.textContent = "— dBFS";
    }
  };
  engine.listeners.add(onEngine);

  const chip = (name, value) => {
    const c = h("span", "vl-rec-chip");
    const on = value === true;
    c.dataset.on = String(on);
    c.textContent = typeof value === "boolean" ? `${name} ${on ? "on" : "off"}` : `${name} ${value}`;
    return c;
  };

  const update = () => {
    const state = model.get("state") || "idle";
    root.dataset.state = state;
    badge.dataset.state = state;
    badge.textContent = STATE_TEXT[state] || state;
    const busy = state === "recording" || state === "stopping";
    label.textContent = state === "recording" ? "Stop" : state === "stopping" ? "Finishing…"
      : state === "requesting" ? "Waiting…" : state === "done" || state === "error" ? "Record again" : "Record";
    button.disabled = state === "stopping" || state === "requesting";
    button.setAttribute("aria-pressed", String(busy));
    const rate = model.get("context_rate");
    ctxDd.textContent = rate ? `${fmtRate(rate)} (the browser's choice)` : "— (opens when recording starts)";
    const target = model.get("target_rate");
    const chunk = model.get("chunk_seconds");
    sentMain.textContent = `int16 little-endian · mono · ${fmtRate(target)} · ${chunk.toFixed(2)} s chunks`;
    sentNote.textContent = rate && rate !== target ? `resampled from ${fmtRate(rate)} in the AudioWorklet` : "";
    const ts = model.get("track_settings") || {};
    trackDd.replaceChildren();
    if (Object.keys(ts).length === 0) {
      const ec = model.get("echo_cancellation");
      trackDd.append(h("span", "vl-rec-muted", `requested: echo cancellation, auto gain, noise suppression ${ec ? "on" : "off"}`));
    } else {
      for (const k of ["echoCancellation", "autoGainControl", "noiseSuppression"]) if (k in ts) trackDd.append(chip(k, ts[k]));
      if ("sampleRate" in ts) trackDd.append(chip("sampleRate", fmtRate(ts.sampleRate)));
      if ("channelCount" in ts) trackDd.append(chip("channelCount", ts.channelCount));
    }
    const err = model.get("error") || {};
    errBox.hidden = !err.name;
    if (err.name) {
      errTitle.textContent = err.title || err.name;
      errFix.textContent = err.fix || "";
      errRaw.textContent = `${err.name}: ${err.message || ""}`;
    }
    if (state !== "recording" && state !== "stopping") onEngine({ type: "reset" });
  };
  const names = ["state", "context_rate", "track_settings", "error", "target_rate", "chunk_seconds", "echo_cancellation"];
  for (const n of names) model.on(`change:${n}`, update);
  update();

  button.addEventListener("click", () => {
    if (engine.recording()) engine.stop();
    else engine.start();
  });

  return () => {
    engine.listeners.delete(onEngine);
    for (const n of names) model.off(`change:${n}`, update);
  };
}

export default { initialize, render };
