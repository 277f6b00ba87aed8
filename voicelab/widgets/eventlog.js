// EventLog view: every frame of a session as a table, with the session-state counters on top.
// Rows come from the model's store (snapshot_data trait + append messages, see _common.js); the store is
// trimmed to the limits in state.limits ([other rows, audio rows]); the counters cover the whole session.

let common = null;
function helpers(model) {
  if (!common) {
    const url = URL.createObjectURL(new Blob([model.get("_common")], { type: "text/javascript" }));
    common = import(url).finally(() => URL.revokeObjectURL(url));
  }
  return common;
}

const ARROW = { out: "→", in: "←", "": "·" };

// Keep at most `limits` rows of each class (audio chunks, everything else), oldest dropped first.
function trim(store) {
  const [maxOther, maxAudio] = (store.state && store.state.limits) || [1000, 200];
  let audio = 0, other = 0;
  for (const r of store.items) { if (r.k === "audio") audio++; else other++; }
  if (audio <= maxAudio && other <= maxOther) return;
  let dropAudio = Math.max(0, audio - maxAudio), dropOther = Math.max(0, other - maxOther);
  store.items = store.items.filter((r) => {
    if (r.k === "audio" && dropAudio > 0) { dropAudio--; return false; }
    if (r.k !== "audio" && dropOther > 0) { dropOther--; return false; }
    return true;
  });
}

function fmtBytes(n) {
  if (n == null) return "";
  return n < 10000 ? `${n} B` : n < 1e7 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1048576).toFixed(1)} MB`;
}

async function render({ model, el }) {
  const { storeOf } = await helpers(model);
  const store = storeOf(model);
  const root = document.createElement("div");
  root.className = "vl-view vl-eventlog";
  root.innerHTML = `<div class="vl-ev-counters"></div><div class="vl-ev-filters"></div>
    <div class="vl-ev-scroll"><table class="vl-ev-table"><thead><tr><th>t (s)</th><th></th><th>kind</th>
    <th>size</th><th class="vl-ev-sum">summary</th></tr></thead><tbody></tbody></table></div>`;
  el.appendChild(root);
  const counters = root.querySelector(".vl-ev-counters"), filters = root.querySelector(".vl-ev-filters");
  const scroll = root.querySelector(".vl-ev-scroll"), body = root.querySelector("tbody");
  let shown = 0, lastI = -1, raf = 0, follow = true;

  const hidden = () => new Set(model.get("hidden_kinds") || []);
  scroll.addEventListener("scroll", () => { follow = scroll.scrollTop + scroll.clientHeight >= scroll.scrollHeight - 4; });

  function counterBar() {
    const s = store.state || {};
    const codes = (s.close_codes || []).join(", ") || "–";
    const cells = [["chunks sent", s.chunks_sent ?? 0], ["audio sent", `${(s.audio_seconds_sent || 0).toFixed(2)} s · ${fmtBytes(s.bytes_sent || 0)}`],
      ["messages sent", s.messages_sent ?? 0], ["messages received", s.messages_received ?? 0], ["partials", s.partials ?? 0],
      ["finals", s.finals ?? 0], ["errors", s.errors ?? 0], ["reconnects", s.reconnects ?? 0], ["close code", codes],
      ["status", s.done ? "done" : "live"]];
    counters.innerHTML = "";
    for (const [name, value] of cells) {
      const c = document.createElement("span"); c.className = "vl-ev-counter"; c.dataset.name = name;
      c.innerHTML = `<b></b><small></small>`; c.querySelector("b").textContent = String(value); c.querySelector("small").textContent = name;
      counters.appendChild(c);
    }
  }

  function filterBar() {
    const kinds = (store.state && store.state.kinds) || {}, h = hidden();
    const names = Object.keys(kinds).sort((a, b) => kinds[b] - kinds[a]);
    const have = Array.from(filters.querySelectorAll("input")).map((i) => i.value).join("|");
    if (have === names.join("|")) {  // same kinds: update counts and ticks only
      for (const label of filters.querySelectorAll("label")) {
        const k = label.dataset.kind; label.querySelector("span").textContent = `${k} (${kinds[k]})`; label.querySelector("input").checked = !h.has(k);
      }
      return;
    }
    filters.innerHTML = "";
    for (const k of names) {
      const label = document.createElement("label"); label.dataset.kind = k;
      label.innerHTML = `<input type="checkbox"><span></span>`;
      const box = label.querySelector("input"); box.value = k; box.checked = !h.has(k);
      label.querySelector("span").textContent = `${k} (${kinds[k]})`;
      box.onchange = () => {
        const next = hidden(); if (box.checked) next.delete(k); else next.add(k);
        model.set("hidden_kinds", Array.from(next)); model.save_changes(); rebuild();
      };
      filters.appendChild(label);
    }
  }

  function rowEl(r) {
    const tr = document.createElement("tr");
    tr.className = `vl-ev-row vl-ev-${r.d || "local"}`; tr.dataset.kind = r.k; tr.dataset.i = r.i;
    const cells = [r.t.toFixed(3), ARROW[r.d] ?? "", r.k, fmtBytes(r.n), r.s || ""];
    cells.forEach((text, j) => { const td = document.createElement("td"); td.textContent = text; if (j === 4) td.className = "vl-ev-sum"; tr.appendChild(td); });
    if (r.j) {
      tr.classList.add("vl-ev-expandable"); tr.title = "click for the JSON";
      tr.onclick = () => {
        const next = tr.nextSibling;
        if (next && next.classList && next.classList.contains("vl-ev-json")) { next.remove(); return; }
        const jr = document.createElement("tr"); jr.className = "vl-ev-json";
        const td = document.createElement("td"); td.colSpan = 5; const pre = document.createElement("pre");
        let text = r.j; try { text = JSON.stringify(JSON.parse(r.j), null, 2); } catch (e) { /* cut short: as is */ }
        pre.textContent = text; td.appendChild(pre); jr.appendChild(td); tr.after(jr);
      };
    }
    return tr;
  }

  function olderMarker() {
    const s = store.state || {}, older = Math.max(0, (s.n_rows || 0) - store.items.length);
    let m = body.querySelector(".vl-ev-older");
    if (!older) { if (m) m.remove(); return; }
    if (!m) { m = document.createElement("tr"); m.className = "vl-ev-older"; m.innerHTML = `<td colspan="5"></td>`; body.prepend(m); }
    const [a, b] = s.limits || [1000, 200];
    m.firstChild.textContent = `${older} older rows not kept (the view keeps the last ${a} messages and events and the last ${b} audio chunks; the counters cover all)`;
  }

  function rebuild() {
    body.innerHTML = ""; shown = 0; lastI = -1;
    const h = hidden(), frag = document.createDocumentFragment();
    for (const r of store.items) { lastI = r.i; if (!h.has(r.k)) { frag.appendChild(rowEl(r)); shown++; } }
    body.appendChild(frag); olderMarker();
  }

  function update() {
    counterBar(); filterBar();
    const first = store.items.length ? store.items[0].i : Infinity;
    // rows trimmed from the store: remove them here too; a reload (snapshot) starts over
    const firstShown = body.querySelector("tr.vl-ev-row");
    if (firstShown && Number(firstShown.dataset.i) < first) {
      for (const tr of Array.from(body.querySelectorAll("tr.vl-ev-row"))) {
        if (Number(tr.dataset.i) >= first) break;
        const next = tr.nextSibling; if (next && next.classList && next.classList.contains("vl-ev-json")) next.remove();
        tr.remove(); shown--;
      }
    }
    if (store.items.length && store.items[store.items.length - 1].i < lastI) { rebuild(); return; }
    const h = hidden(), frag = document.createDocumentFragment();
    for (const r of store.items) {
      if (r.i <= lastI) continue;
      lastI = r.i; if (!h.has(r.k)) { frag.appendChild(rowEl(r)); shown++; }
    }
    body.appendChild(frag); olderMarker();
    if (follow) scroll.scrollTop = scroll.scrollHeight;
  }

  function schedule() { if (!raf) raf = requestAnimationFrame(() => { raf = 0; update(); }); }
  const onHidden = () => { filterBar(); rebuild(); };
  const onHeight = () => { scroll.style.maxHeight = model.get("height") + "px"; };
  store.views.add(schedule);
  model.on("change:hidden_kinds", onHidden);
  model.on("change:height", onHeight);
  onHeight(); counterBar(); filterBar(); rebuild();
  if (follow) scroll.scrollTop = scroll.scrollHeight;
  return () => { store.views.delete(schedule); model.off("change:hidden_kinds", onHidden); model.off("change:height", onHeight); };
}

async function initialize({ model }) {
  const { initializeStore, storeOf } = await helpers(model);
  const dispose = initializeStore({ model });
  const store = storeOf(model);
  const trimmer = () => trim(store);
  trim(store);
  store.views.add(trimmer);  // first in the set: every view sees the trimmed store
  return dispose;
}

export default { initialize, render };
