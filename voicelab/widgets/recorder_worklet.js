// voicelab Recorder: AudioWorklet processor (runs on the audio thread).
//
// Input: the microphone at the AudioContext's own rate (`sampleRate`, whatever the browser negotiated:
// 44 100 Hz headless, 48 000 Hz on most hardware; Safari ignores a requested rate anyway).
// Output to the main thread, by postMessage:
//   {type: "chunk", pcm: ArrayBuffer}   int16 little-endian mono at targetRate, chunkFrames frames each
//   {type: "level", rms, peak}          linear 0..1, about 25 per second, taken before resampling
//   {type: "flushed", frames}           after {cmd: "flush"}: the last (short) chunk has been posted
//   {type: "limit"}                     maxFrames output frames were produced; the main thread should stop
// Resampling happens here, with a Kaiser-windowed sinc low-pass, so the rate sent to the kernel never
// depends on what the browser chose for the AudioContext.

const TAPS_PER_SIDE = 16; // zero crossings of the sinc kept on each side, at the output's cut-off

function besselI0(x) {
  let sum = 1, term = 1;
  for (let k = 1; k < 30; k++) {
    term *= (x / (2 * k)) * (x / (2 * k));
    sum += term;
    if (term < 1e-12 * sum) break;
  }
  return sum;
}

class VoicelabRecorder extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const o = options.processorOptions || {};
    this.inRate = sampleRate;
    this.outRate = o.targetRate || sampleRate;
    this.chunkFrames = Math.max(1, o.chunkFrames || Math.round(this.outRate / 10));
    this.maxFrames = o.maxFrames || 0; // 0: no limit
    this.step = this.inRate / this.outRate; // input samples per output sample
    this.passthrough = this.inRate === this.outRate;
    // Low-pass at 0.95 of the lower Nyquist, in cycles per input sample * 2 (1 = input Nyquist).
    this.fc = Math.min(1, this.outRate / this.inRate) * (this.passthrough ? 1 : 0.95);
    this.half = Math.ceil(TAPS_PER_SIDE / this.fc); // half-width in input samples
    this.beta = 8.0;
    this.i0beta = besselI0(this.beta);
    this.res = 256; // kernel table points per input sample
    this.table = new Float32Array(this.half * this.res + 2);
    for (let i = 0; i < this.table.length; i++) this.table[i] = this.exactKernel(i / this.res);
    this.cap = Infinity; // most output frames to produce (set by flush)
    this.buf = new Float32Array(1 << 16); // input history; buf[0] is absolute input index this.base
    this.len = 0;
    this.base = 0;
    this.t = 0; // absolute input position of the next output sample
    this.inTotal = 0;
    this.out = new Int16Array(this.chunkFrames);
    this.outLen = 0;
    this.outTotal = 0;
    this.levelEvery = Math.round(this.inRate / 25);
    this.levelCount = 0;
    this.sumSq = 0;
    this.peak = 0;
    this.stopped = false;
    this.port.onmessage = (e) => { if (e.data && e.data.cmd === "flush") this.flush(); };
  }

  kernel(d) { // table lookup with linear interpolation; the kernel is even
    const p = Math.abs(d) * this.res;
    const i = Math.floor(p);
    if (i >= this.table.length - 1) return 0;
    const f = p - i;
    return this.table[i] * (1 - f) + this.table[i + 1] * f;
  }

  exactKernel(d) { // Kaiser-windowed sinc at distance d (input samples)
    const x = d / this.half;
    if (x <= -1 || x >= 1) return 0;
    const a = Math.PI * this.fc * d;
    const sinc = a === 0 ? 1 : Math.sin(a) / a;
    return this.fc * sinc * besselI0(this.beta * Math.sqrt(1 - x * x)) / this.i0beta;
  }

  append(samples) {
    if (this.len + samples.length > this.buf.length) {
      const bigger = new Float32Array(Math.max(this.buf.length * 2, this.len + samples.length));
      bigger.set(this.buf.subarray(0, this.len));
      this.buf = bigger;
    }
    this.buf.set(samples, this.len);
    this.len += samples.length;
    this.inTotal += samples.length;
  }

  emit(value) {
    if (this.stopped) return;
    const v = Math.max(-1, Math.min(1, value));
    this.out[this.outLen++] = v < 0 ? Math.round(v * 32768) : Math.round(v * 32767);
    this.outTotal++;
    if (this.outLen === this.chunkFrames) this.postChunk();
    if (this.maxFrames && this.outTotal >= this.maxFrames) {
      this.postChunk();
      this.stopped = true;
      this.port.postMessage({ type: "limit", frames: this.outTotal });
    }
  }

  postChunk() {
    if (this.outLen === 0) return;
    const pcm = this.out.slice(0, this.outLen).buffer; // Int16Array is little-endian on every browser platform
    this.port.postMessage({ type: "chunk", pcm }, [pcm]);
    this.outLen = 0;
  }

  // Produce every output sample whose filter window lies inside the input seen so far (`end` = last index + 1).
  resample(end) {
    if (this.passthrough) {
      for (let i = Math.round(this.t) - this.base; i < end - this.base; i++) this.emit(this.buf[i]);
      this.t = end;
    } else {
      while (this.t + this.half < end && this.outTotal < this.cap && !this.stopped) {
        const centre = Math.floor(this.t);
        let acc = 0;
        for (let n = centre - this.half + 1; n <= centre + this.half; n++) {
          const idx = n - this.base;
          if (idx >= 0) acc += this.buf[idx] * this.kernel(this.t - n);
        }
        this.emit(acc);
        this.t += this.step;
      }
    }
    // keep only the history the next window needs
    const keepFrom = Math.max(0, Math.floor(this.t) - this.half - 1 - this.base);
    if (keepFrom > 4096) {
      this.buf.copyWithin(0, keepFrom, this.len);
      this.len -= keepFrom;
      this.base += keepFrom;
    }
  }

  flush() {
    if (!this.passthrough && !this.stopped) {
      // pad with silence so the last real input samples get their outputs, but no more than they are worth
      this.cap = Math.floor(this.inTotal / this.step);
      this.append(new Float32Array(this.half + 2));
      this.resample(this.base + this.len);
    }
    this.postChunk();
    this.stopped = true;
    this.port.postMessage({ type: "flushed", frames: this.outTotal });
  }

  process(inputs) {
    if (this.stopped) return false;
    const input = inputs[0];
    if (!input || input.length === 0 || !input[0]) return true;
    const n = input[0].length;
    let mono = input[0];
    if (input.length > 1) { // downmix, should the track be stereo
      mono = new Float32Array(n);
      for (const ch of input) for (let i = 0; i < n; i++) mono[i] += ch[i] / input.length;
    }
    for (let i = 0; i < n; i++) {
      const s = mono[i];
      this.sumSq += s * s;
      const a = Math.abs(s);
      if (a > this.peak) this.peak = a;
    }
    this.levelCount += n;
    if (this.levelCount >= this.levelEvery) {
      this.port.postMessage({ type: "level", rms: Math.sqrt(this.sumSq / this.levelCount), peak: this.peak });
      this.levelCount = 0; this.sumSq = 0; this.peak = 0;
    }
    this.append(mono);
    this.resample(this.base + this.len);
    return true;
  }
}

registerProcessor("voicelab-recorder", VoicelabRecorder);
