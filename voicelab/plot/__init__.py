"""Static matplotlib twins of the widgets, for docs, nbval, PNG export and kernels without a frontend.

Each function returns a `matplotlib.figure.Figure` (no pyplot state, nothing shown), the same view
the widget draws: `waveform(clip)`, `spectrogram(clip)`, `timeline(recording)`, `latency(recording)`,
`event_log(recording)`; and `compare(good, *broken)`, a good clip next to broken readings of it.
Pass ``dark=True`` for a dark background. This package never imports anywidget.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from voicelab.audio.clip import Clip
from voicelab.plot.model import (
    DB_FLOOR,
    Envelope,
    SessionLog,
    SpectrogramImage,
    ViewError,
    check_clip,
)
from voicelab.recording.log import Recording

__all__ = ["ViewError", "compare", "event_log", "latency", "spectrogram", "timeline", "waveform"]

_LIGHT = {"fg": "#222222", "fg2": "#666666", "grid": "#dddddd", "bg": "#ffffff", "accent": "#1565c0",
          "partial": "#8d8d8d", "start": "#2e7d32", "stop": "#c62828", "warn": "#ef6c00", "agent": "#6a1b9a"}
_DARK = {"fg": "#e6e6e6", "fg2": "#a8a8a8", "grid": "#3a3a3a", "bg": "#1e1e1e", "accent": "#64b5f6",
         "partial": "#9e9e9e", "start": "#81c784", "stop": "#ef5350", "warn": "#ffb74d", "agent": "#ce93d8"}


@contextlib.contextmanager
def _style(dark: bool) -> Iterator[dict[str, str]]:
    import matplotlib as mpl

    c = _DARK if dark else _LIGHT
    rc: dict[str, Any] = {"figure.facecolor": c["bg"], "axes.facecolor": c["bg"], "savefig.facecolor": c["bg"],
          "axes.edgecolor": c["fg2"], "axes.labelcolor": c["fg"], "text.color": c["fg"],
          "xtick.color": c["fg2"], "ytick.color": c["fg2"], "grid.color": c["grid"], "axes.grid": False,
          "axes.spines.top": False, "axes.spines.right": False, "font.size": 9, "axes.titlesize": 10,
          "axes.titleweight": "bold", "axes.titlelocation": "left", "legend.frameon": False,
          "legend.fontsize": 8}
    with mpl.rc_context(rc):  # type: ignore[arg-type]  # matplotlib types rc as a dict of Literal keys
        yield c


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained", dpi=110)


def _range(view_range: tuple[float, float] | None, duration: float) -> tuple[float, float]:
    if view_range is None:
        return 0.0, duration
    a, b = (float(v) for v in view_range)
    if not b > a:
        raise ViewError(f"view_range must be (start, end) seconds with end > start, got {view_range!r}")
    return a, b


def _title(clip: Clip) -> str:
    name = str(clip.provenance.name or "clip").rsplit("/", 1)[-1]
    layout = "mono" if clip.channels == 1 else f"{clip.channels} ch"
    return f"{name} — {clip.samplerate} Hz {layout}, {clip.duration:.2f} s"


def waveform(clip: Clip, *, view_range: tuple[float, float] | None = None,
             selection: tuple[float, float] | None = None, width: float = 9.0, height: float = 2.4,
             dark: bool = False) -> Any:
    """The min/max envelope of a Clip (the `voicelab.widgets.Waveform` view).

    Args:
        clip: The audio.
        view_range: ``(start, end)`` seconds shown; default the whole clip.
        selection: ``(start, end)`` seconds to shade, if any.
        width: Figure width, inches.
        height: Figure height, inches.
        dark: Dark background.

    Returns:
        A matplotlib Figure.
    """
    clip = check_clip(clip, what="waveform(clip)")
    a, b = _range(view_range, clip.duration)
    env = Envelope(clip)
    t0, step, mins, maxs = env.window(a, b, max_bins=int(width * 110 * 2))
    with _style(dark) as c:
        fig = _figure(width, height)
        ax = fig.add_subplot()
        t = t0 + np.arange(len(mins)) * step
        if step * clip.samplerate <= 1:
            ax.plot(t, mins, color=c["accent"], lw=0.8)
        else:
            ax.fill_between(t, mins, maxs, step="post", color=c["accent"], lw=0, label="min/max per bin")
        if selection is not None:
            s0, s1 = sorted(selection)
            ax.axvspan(s0, s1, color=c["warn"], alpha=0.18, lw=0, label=f"selection {s0:.2f}–{s1:.2f} s")
            ax.legend(loc="upper right")
        peak = float(np.max(np.abs(clip.samples))) if clip.frames else 0.0
        lim = max(min(1.05, max(peak * 1.15, 0.05)), 0.05)
        ax.set(xlim=(a, b), ylim=(-lim, lim), xlabel="time (s)", ylabel="amplitude (full scale = 1)")
        ax.axhline(0, color=c["grid"], lw=0.6, zorder=0)
        ax.set_title(_title(clip))
        return fig


def spectrogram(clip: Clip, *, view_range: tuple[float, float] | None = None, n_fft: int | None = None,
                hop: int | None = None, max_hz: float | None = None, cmap: str = "magma",
                width: float = 9.0, height: float = 3.0, dark: bool = False) -> Any:
    """The dB spectrogram of a Clip (the `voicelab.widgets.Spectrogram` view).

    Args:
        clip: The audio (channels are averaged).
        view_range: ``(start, end)`` seconds shown; default the whole clip.
        n_fft: Frame length in samples (default about 32 ms).
        hop: Frame step in samples.
        max_hz: Highest frequency shown, Hz (default Nyquist).
        cmap: A matplotlib colormap name.
        width: Figure width, inches.
        height: Figure height, inches.
        dark: Dark background.

    Returns:
        A matplotlib Figure.
    """
    clip = check_clip(clip, what="spectrogram(clip)")
    a, b = _range(view_range, clip.duration)
    spec = SpectrogramImage(clip, n_fft=n_fft, hop=hop)
    t0, step, img = spec.window(a, b, max_cols=int(width * 110))
    nyq = clip.samplerate / 2
    top = min(float(max_hz or nyq), nyq)
    rows = max(1, int(round(img.shape[1] * top / nyq))) if img.ndim == 2 else 1
    db = DB_FLOOR + img[:, :rows].T.astype(np.float32) * (-DB_FLOOR / 255.0)
    with _style(dark):
        fig = _figure(width, height)
        ax = fig.add_subplot()
        extent = (t0 - step / 2, t0 + (db.shape[1] - 0.5) * step, 0, rows * clip.samplerate / spec.n_fft)
        im = ax.imshow(db, origin="lower", aspect="auto", extent=extent, cmap=cmap, vmin=DB_FLOOR, vmax=0,
                       interpolation="nearest")
        ax.set(xlim=(a, b), ylim=(0, top), xlabel="time (s)", ylabel="frequency (Hz)")
        ax.set_title(f"{_title(clip)} — STFT {spec.n_fft}/{spec.hop} samples, Hann")
        bar = fig.colorbar(im, ax=ax, pad=0.01, fraction=0.04)
        bar.set_label("dB re full-scale sine")
        return fig


def compare(good: Clip, *broken: Clip, labels: Sequence[str] | None = None,
            view_range: tuple[float, float] | None = None, max_hz: float | None = None, cmap: str = "magma",
            width: float | None = None, height: float = 4.4, dark: bool = False) -> Any:
    """A good clip next to broken versions of it: one column per clip, waveform above spectrogram.

    ``compare(good, broken)`` gives a 2×2 grid; each further broken clip adds a column. So that the
    panels can be compared by eye, all of them share one time axis (audio read at too low a rate is
    visibly longer), the waveforms share a fixed full-scale amplitude axis (quiet, clipped or
    offset audio looks it; ±1 is dashed), and the spectrograms share one frequency axis and one dB
    colour scale. Each column's title is its label over its sample rate, layout and duration. The
    spectrograms are thumbnails: cells of about 2×2 pixels (max-pooled) in 4 dB steps; use
    `spectrogram` for full detail.

    Args:
        good: The reference audio, drawn in the first column.
        *broken: One or more clips to set against it.
        labels: A title per clip, ``good`` first; default each clip's file name.
        view_range: ``(start, end)`` seconds shown; default 0 to the end of the longest clip.
        max_hz: Highest frequency shown, Hz; default the lowest Nyquist frequency of the clips,
            so every spectrogram covers the same band.
        cmap: A matplotlib colormap name.
        width: Figure width, inches; default grows with the number of clips (2×2: 7.8, at most 12).
        height: Figure height, inches.
        dark: Dark background.

    Returns:
        A matplotlib Figure: the waveform axes in the top row, the spectrogram axes in the bottom
        row (``fig.axes`` lists them in that order), then one colorbar.

    Raises:
        ViewError: No broken clip was given, a clip is not a voicelab Clip, ``labels`` does not
            hold one string per clip, or ``max_hz`` is not a positive number.
    """
    if not broken:
        raise ViewError("compare(good, *broken) needs at least one clip to set against the good one, "
                        "e.g. vl.plot.compare(good, broken)")
    clips = [check_clip(good, what="compare(good)")]
    clips += [check_clip(c, what=f"compare(broken #{n})") for n, c in enumerate(broken, start=1)]
    if labels is None:
        names = [str(c.provenance.name or "clip").rsplit("/", 1)[-1] for c in clips]
    elif isinstance(labels, str) or len(labels) != len(clips) or not all(isinstance(x, str) for x in labels):
        raise ViewError(f"compare labels must be {len(clips)} strings, one per clip (good first), got {labels!r}")
    else:
        names = list(labels)
    top = min(c.samplerate / 2 for c in clips)
    if max_hz is not None:
        if isinstance(max_hz, bool) or not isinstance(max_hz, (int, float)) or not 0 < max_hz < float("inf"):
            raise ViewError(f"compare max_hz must be a positive number of Hz, got {max_hz!r}")
        top = float(max_hz)
    a, b = _range(view_range, max(max(c.duration for c in clips), 1e-3))
    if view_range is None:  # a margin, so that what happens at 0 s is not hidden under the axis
        a = -0.015 * b
    cols = len(clips)
    fig_w = float(width) if width is not None else min(3.0 * cols + 1.8, 12.0)
    with _style(dark) as c:
        fig = _figure(fig_w, height)
        grid = fig.add_gridspec(2, cols, height_ratios=[1.0, 1.35])
        waves = [fig.add_subplot(grid[0, n]) for n in range(cols)]
        specs = [fig.add_subplot(grid[1, n]) for n in range(cols)]
        px = fig_w * 110 / cols
        image = None
        for n, (clip, name) in enumerate(zip(clips, names, strict=True)):
            ax = waves[n]
            t0, step, mins, maxs = Envelope(clip).window(a, b, max_bins=int(px * 2))
            t = t0 + np.arange(len(mins)) * step
            if step * clip.samplerate <= 1:
                ax.plot(t, mins, color=c["accent"], lw=0.8)
            else:
                # an edge, so that constant stretches (silence, a DC offset) still show as a line
                ax.fill_between(t, mins, maxs, step="post", color=c["accent"], lw=0.6)
            for y in (-1.0, 1.0):
                ax.axhline(y, color=c["fg2"], lw=0.6, ls="--", zorder=0)
            ax.axhline(0, color=c["fg2"], lw=0.5, ls=":", zorder=0)
            ax.set(xlim=(a, b), ylim=(-1.12, 1.12))
            layout = "mono" if clip.channels == 1 else f"{clip.channels} ch"
            ax.set_title(f"{name}\n{clip.samplerate} Hz {layout}, {clip.duration:.2f} s")
            spec = SpectrogramImage(clip)
            # cells of about 2×2 pixels (max-pooled, so narrow lines survive) in 4 dB steps: the panels are
            # small, and so is the PNG that a saved notebook keeps
            s0, sstep, img = spec.window(a, b, max_cols=max(int(px / 2), 1))
            nyq = clip.samplerate / 2
            rows = max(1, int(round(img.shape[1] * min(top, nyq) / nyq))) if img.ndim == 2 else 1
            part = img[:, :rows]
            group = max(1, -(-rows // max(int(height * 110 * 0.55 / 2), 1)))
            if group > 1 and part.shape[0]:
                part = np.maximum.reduceat(part, np.arange(0, rows, group), axis=1)
            db = np.round((DB_FLOOR + part.T.astype(np.float32) * (-DB_FLOOR / 255.0)) / 4) * 4
            extent = (s0 - sstep / 2, s0 + (db.shape[1] - 0.5) * sstep,
                      0, db.shape[0] * group * clip.samplerate / spec.n_fft)
            ax = specs[n]
            image = ax.imshow(db, origin="lower", aspect="auto", extent=extent, cmap=cmap, vmin=DB_FLOOR, vmax=0,
                              interpolation="nearest")
            ax.set(xlim=(a, b), ylim=(0, top), xlabel="time (s)")
            if n:
                waves[n].tick_params(labelleft=False)
                ax.tick_params(labelleft=False)
        waves[0].set_ylabel("amplitude (full scale = 1)")
        specs[0].set_ylabel("frequency (Hz)")
        bar = fig.colorbar(image, ax=specs, pad=0.01, fraction=0.03, aspect=12)
        bar.set_label("dB re full-scale sine")
        return fig


def _recording(source: Any, what: str) -> Recording:
    if isinstance(source, Recording):
        return source
    rec = getattr(source, "recording", None)
    if isinstance(rec, Recording):
        return rec
    raise ViewError(f"{what} needs a voicelab Recording or Stream, got {type(source).__name__}; "
                    "pass session.recording or Recording.load(path)")


def timeline(recording: Recording, *, view_range: tuple[float, float] | None = None, width: float = 10.0,
             height: float = 3.4, dark: bool = False) -> Any:
    """Partials, finals with word boxes, VAD and connection events on audio time (the `Timeline` view).

    Partials and finals are placed at the audio cursor (audio seconds sent) when they arrived;
    a partial spans from its arrival to the next transcript message that replaced it. Word boxes
    use the provider's word times. Dashed lines join a final's last word to where it arrived.

    Args:
        recording: A Recording (or a Stream).
        view_range: ``(start, end)`` audio seconds shown; default everything.
        width: Figure width, inches.
        height: Figure height, inches.
        dark: Dark background.

    Returns:
        A matplotlib Figure.
    """
    rec = _recording(recording, "timeline(recording)")
    log = SessionLog.of(rec)
    items = log.items
    texts = [i for i in items if i["k"] in ("partial", "final")]
    ends = [log.cursor.sent] + [w[2] for i in texts for w in i["w"]] + [i["a"] for i in items]
    xmax = max(ends) * 1.02 if max(ends) > 0 else 1.0
    a, b = _range(view_range, xmax)
    lanes = {"connection": 3, "VAD": 2, "partials": 1, "finals": 0}
    with _style(dark) as c:
        fig = _figure(width, height)
        ax = fig.add_subplot()
        ax.axvspan(0, log.cursor.sent, color=c["accent"], alpha=0.05, lw=0)
        for y in range(1, 4):
            ax.axhline(y - 0.5, color=c["grid"], lw=0.6)
        sub = conn_row = 0
        for n, it in enumerate(items):
            k = it["k"]
            if k == "partial":
                nxt = next((j for j in items[n + 1:] if j["k"] in ("partial", "final")), None)
                end = max(nxt["a"] if nxt else log.cursor.sent, it["a"] + 0.02)
                y0 = 0.55 + 0.2 * sub
                ax.broken_barh([(it["a"], end - it["a"])], (y0, 0.18), color=c["partial"], alpha=0.35, lw=0)
                sub = 1 - sub
            elif k == "final":
                sub = 0
                if it["w"]:
                    s0, s1 = it["w"][0][1], it["w"][-1][2]
                    ax.broken_barh([(s0, s1 - s0)], (0.08, 0.18), color=c["accent"], lw=0)
                    ax.broken_barh([(w[1], w[2] - w[1]) for w in it["w"]], (-0.3, 0.32),
                                   facecolor=c["accent"], alpha=0.25, edgecolor=c["accent"], lw=0.6)
                    pt_per_s = ax.get_position().width * fig.get_figwidth() * 72 / (b - a)
                    for w in it["w"]:  # a word's label only where it fits in its box (6.5 pt: ~3.8 pt a char)
                        if a <= w[1] <= b and (w[2] - w[1]) * pt_per_s >= 3.8 * len(w[0]) + 2:
                            ax.text((w[1] + w[2]) / 2, -0.14, w[0], ha="center", va="center", fontsize=6.5,
                                    color=c["fg"], clip_on=True)
                    ax.plot([s1, it["a"]], [0.17, 0.17], color=c["accent"], lw=0.8, ls=":")
                ax.plot([it["a"]], [0.17], marker="v", color=c["accent"], ms=5)
            elif k == "vad":
                x = it["at"] if it["at"] is not None else it["a"]
                ax.plot([x, x], [1.6, 2.4], color=c["start"] if it["on"] else c["stop"], lw=1.6)
            elif k == "conn":
                if it["what"] == "gap":
                    x0 = it.get("at") if it.get("at") is not None else it["a"]
                    ax.broken_barh([(x0, max(it["a"] - x0, 0.05))], (2.6, 0.8), color=c["warn"], alpha=0.6, lw=0)
                    ax.text(x0, 3.42, f"gap {it['code'] or ''}", fontsize=7, color=c["warn"], clip_on=True)
                else:
                    bad = it["what"] in ("reject",) or (it["what"] == "close" and it["code"] not in (1000, None))
                    col = c["stop"] if bad else c["fg2"]
                    ax.plot([it["a"], it["a"]], [2.6, 3.4], color=col, lw=1.4)
                    code = f" {it['code']}" if it["code"] is not None and it["what"] != "connect" else ""
                    label = it["what"] + code
                    right = it["a"] > a + 0.8 * (b - a)
                    conn_row = (conn_row + 1) % 3
                    ax.text(it["a"] + (-1 if right else 1) * 0.004 * (b - a), 2.68 + 0.26 * conn_row, label,
                            fontsize=7, color=col, clip_on=True, ha="right" if right else "left", va="bottom")
            elif k == "error":
                ax.plot([it["a"]], [3.0], marker="x", color=c["stop"], ms=7)
            elif k == "agent":
                ax.plot([it["a"]], [2.0], marker="s", color=c["agent"], ms=4)
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch
        handles = [Patch(color=c["partial"], alpha=0.35, label="partial (arrival → replaced)"),
                   Patch(color=c["accent"], label="final (first → last word)"),
                   Patch(facecolor=c["accent"], alpha=0.25, edgecolor=c["accent"], label="word (provider times)"),
                   Line2D([], [], color=c["accent"], marker="v", ls=":", label="final arrived (audio cursor)"),
                   Line2D([], [], color=c["start"], label="speech started"),
                   Line2D([], [], color=c["stop"], label="speech stopped / bad close")]
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=3)
        ax.set_yticks(list(lanes.values()), list(lanes.keys()))
        ax.tick_params(axis="y", length=0)
        ax.set(xlim=(a, b), ylim=(-0.4, 3.75), xlabel="audio time (s)")
        st = rec.stats
        ax.set_title(f"{rec.provider} session — {st.audio_seconds_sent:.2f} s audio sent, {st.partials} partials, "
                     f"{st.finals} finals, closes {list(st.close_codes) or '-'}")
        return fig


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v * 1000:.0f}"


def latency(recording: Recording, *, reference: Any = None, width: float = 9.0, height: float = 4.2,
            dark: bool = False) -> Any:
    """Audio-cursor lag per message, first partial and final latency over session time (the `LatencyChart`).

    P50/P95/P99 and n come from `voicelab.recording.metrics.compute_metrics`, each labelled with its
    definition and speech-end source.

    Args:
        recording: A Recording (or a Stream).
        reference: Reference word/sentence times, as for `compute_metrics` (speech end then comes from it).
        width: Figure width, inches.
        height: Figure height, inches.
        dark: Dark background.

    Returns:
        A matplotlib Figure.
    """
    from voicelab.recording.metrics import compute_metrics

    rec = _recording(recording, "latency(recording)")
    log = SessionLog.of(rec)
    report = compute_metrics(rec, reference=reference)
    pts = log.latency
    with _style(dark) as c:
        fig = _figure(width, height)
        ax = fig.add_subplot()
        ax.grid(True, axis="y", lw=0.6)
        series = (("lag", "audio_cursor_lag", "o", c["accent"]), ("first_partial", "first_partial", "D", c["start"]),
                  ("final", "final_latency", "^", c["stop"]))
        for key, name, marker, color in series:
            sel = [p for p in pts if p["k"] == key]
            m = report[name]
            label = (f"{name}: {m.start} → {m.end}" + (f" [{m.source}]" if m.source else "") +
                     f"\nP50 {_ms(m.p50)} · P95 {_ms(m.p95)} · P99 {_ms(m.p99)} ms · n {m.n}")
            ax.plot([p["t"] for p in sel], [p["v"] * 1000 for p in sel], marker=marker, color=color,
                    ls="-" if key == "lag" else "none", lw=0.8, ms=5, label=label)
            if m.p50 is not None and key != "first_partial":
                ax.axhline(m.p50 * 1000, color=color, lw=0.6, ls="--", alpha=0.7)
        ax.axhline(0, color=c["fg2"], lw=0.6)
        tmax = max([log.last_t] + [p["t"] for p in pts]) or 1.0
        ax.set(xlim=(0, tmax * 1.02), xlabel="session time (s, Recording clock)", ylabel="latency (ms)")
        fig.legend(loc="outside lower left", ncol=1, handlelength=1.5)
        ax.set_title(f"{rec.provider} latency — dashed lines: P50")
        return fig


def event_log(recording: Recording, *, hidden_kinds: tuple[str, ...] = ("audio",), max_rows: int = 40,
              width: float = 10.0, dark: bool = False) -> Any:
    """Every frame of a session on the Recording clock, the counters, and the first rows (the `EventLog`).

    Top: one mark per frame against session time, in three lanes (sent, received, local events), every
    kind (audio chunks included) coloured by kind. Title: the session-state counters (chunks sent,
    messages received, partials, finals, errors, reconnects, close codes). Below: the first ``max_rows``
    rows whose kind is not in ``hidden_kinds`` — time, direction, kind, size and summary, as the widget
    lists them (its JSON is the Recording's).

    Args:
        recording: A Recording (or a Stream).
        hidden_kinds: Kinds left out of the table (audio chunks by default; they are still counted and drawn).
        max_rows: Rows listed.
        width: Figure width, inches.
        dark: Dark background.

    Returns:
        A matplotlib Figure.
    """
    from voicelab.plot.frames import FrameLog

    rec = _recording(recording, "event_log(recording)")
    log = FrameLog.of(rec, max_rows=max(max_rows, 1), max_audio_rows=1)
    everything = FrameLog(provider=rec.provider, max_rows=10**9, max_audio_rows=10**9)
    rows = everything.feed(rec.entries)
    listed = [r for r in rows if r["k"] not in hidden_kinds][:max_rows]
    s = log.state()
    lanes = {"out": 2, "in": 1, "": 0}
    kinds = sorted(s["kinds"], key=lambda k: -s["kinds"][k])
    height = 1.9 + 0.125 * (len(listed) + 2)
    with _style(dark) as c:
        import matplotlib as mpl

        cmap = mpl.colormaps["tab10"]
        fig = _figure(width, height)
        top, bottom = fig.subfigures(2, 1, height_ratios=[1.7, height - 1.7])
        ax = top.add_subplot()
        for n, k in enumerate(kinds):
            sel = [r for r in rows if r["k"] == k]
            ax.plot([r["t"] for r in sel], [lanes[r["d"]] + (0.18 if k == "audio" else 0) for r in sel], "|",
                    ms=9 if k != "audio" else 5, color=c["fg2"] if k == "audio" else cmap(n % 10),
                    alpha=0.5 if k == "audio" else 1.0, label=f"{k} ({s['kinds'][k]})")
        ax.set_yticks([2, 1, 0], ["sent →", "received ←", "local"])
        ax.set(ylim=(-0.5, 2.6), xlabel="session time (s, Recording clock)")
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), ncol=1 + len(kinds) // 8, fontsize=7)
        codes = ", ".join(map(str, s["close_codes"])) or "-"
        ax.set_title(f"{rec.provider} — {s['chunks_sent']} chunks sent ({s['audio_seconds_sent']:.2f} s, "
                     f"{s['bytes_sent']} B), {s['messages_sent']} messages sent, {s['messages_received']} received, "
                     f"{s['partials']} partials, {s['finals']} finals, {s['errors']} errors, "
                     f"{s['reconnects']} reconnects, close {codes}")
        arrow = {"out": "→", "in": "←", "": "·"}
        lines = [f"{'t (s)':>9}    {'kind':<18}{'size':>8}  summary"]
        for r in listed:
            size = "" if r["n"] is None else f"{r['n']} B"
            lines.append(f"{r['t']:9.3f} {arrow[r['d']]}  {r['k'][:18]:<18}{size:>8}  {r['s'][:90]}")
        more = len([r for r in rows if r["k"] not in hidden_kinds]) - len(listed)
        hid = ", ".join(f"{k} ({s['kinds'][k]})" for k in hidden_kinds if k in s["kinds"])
        lines.append(f"… {more} more rows" * (more > 0) + (f"   hidden: {hid}" if hid else ""))
        bottom.text(0.01, 0.98, "\n".join(lines), family="monospace", fontsize=7, va="top", ha="left", color=c["fg"])
        return fig
