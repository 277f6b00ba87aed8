// Findings view: the rows of the last diagnosis (the `findings` and `summary` traits, replaced on each run by
// the kernel; saved with the notebook's widget state). Click a time to select that finding (`selected`); a
// Timeline linked in Python zooms to it.

const SEVERITY = { error: "error", warning: "warning", info: "info" };

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "vl-view vl-findings";
  root.innerHTML = `<div class="vl-fd-head"><span class="vl-fd-status"></span><span class="vl-fd-info"></span></div>
    <div class="vl-fd-scroll"><table class="vl-fd-table"><thead><tr><th>t (s)</th><th>severity</th><th>code</th>
    <th class="vl-fd-text">what, and the fix</th></tr></thead><tbody></tbody></table></div>`;
  el.appendChild(root);
  const status = root.querySelector(".vl-fd-status"), info = root.querySelector(".vl-fd-info");
  const scroll = root.querySelector(".vl-fd-scroll"), body = root.querySelector("tbody");

  function cell(tr, cls, text) {
    const td = document.createElement("td"); td.className = cls; if (text != null) td.textContent = text; tr.appendChild(td); return td;
  }

  function row(f) {
    const tr = document.createElement("tr");
    tr.className = `vl-fd-row vl-fd-${SEVERITY[f.severity] || "info"}`;
    tr.dataset.code = f.code; tr.dataset.severity = f.severity;
    if (f.code === model.get("selected")) tr.classList.add("vl-fd-selected");
    const tcell = cell(tr, "vl-fd-t");
    if (f.t != null) {
      const a = document.createElement("a");
      a.href = "#"; a.textContent = f.t.toFixed(2);
      a.title = `${f.t.toFixed(3)} s on the Recording clock` + (f.a != null ? `, ${f.a.toFixed(2)} s of audio sent (the Timeline's x)` : "");
      a.onclick = (e) => { e.preventDefault(); model.set("selected", f.code); model.save_changes(); update(); };
      tcell.appendChild(a);
    } else tcell.textContent = "–";
    cell(tr, "vl-fd-sev", f.severity);
    cell(tr, "vl-fd-code").appendChild(Object.assign(document.createElement("code"), { textContent: f.code }));
    const text = cell(tr, "vl-fd-text");
    text.appendChild(Object.assign(document.createElement("div"), { className: "vl-fd-msg", textContent: f.message }));
    if (f.symptom) text.appendChild(Object.assign(document.createElement("div"), { className: "vl-fd-symptom", textContent: "causes: " + f.symptom }));
    const fix = Object.assign(document.createElement("div"), { className: "vl-fd-fix", textContent: "fix: " });
    fix.appendChild(Object.assign(document.createElement("code"), { textContent: f.fix }));
    text.appendChild(fix);
    return tr;
  }

  function update() {
    const rows = model.get("findings") || [], s = model.get("summary") || {}, done = model.get("status") === "done";
    status.textContent = done ? "final diagnosis" : "live · diagnosis so far";
    status.dataset.state = done ? "done" : "live";
    const counts = ["error", "warning", "info"].filter((k) => s[k]).map((k) => `${s[k]} ${k}${s[k] > 1 ? "s" : ""}`);
    info.textContent = `${model.get("provider")} · ${counts.join(", ") || "no findings"} · ${(s.t || 0).toFixed(2)} s, ` +
      `${s.entries || 0} entries · run ${s.runs || 0} (${s.cost_ms ?? 0} ms)`;
    body.innerHTML = "";
    if (!rows.length) {
      const tr = document.createElement("tr"); tr.className = "vl-fd-none";
      cell(tr, "", done ? "No findings: the session looks healthy." : "No findings so far.").colSpan = 4;
      body.appendChild(tr);
      return;
    }
    const frag = document.createDocumentFragment();
    for (const f of rows) frag.appendChild(row(f));
    body.appendChild(frag);
  }

  const onHeight = () => { scroll.style.maxHeight = model.get("height") + "px"; };
  const names = ["change:findings", "change:summary", "change:status", "change:selected"];
  for (const n of names) model.on(n, update);
  model.on("change:height", onHeight);
  onHeight(); update();
  return () => { for (const n of names) model.off(n, update); model.off("change:height", onHeight); };
}

export default { render };
