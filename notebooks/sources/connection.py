"""Cells of 02-connection.ipynb — Cannot connect: every connection failure reproduced locally and named by doctor."""

from __future__ import annotations

from nbformat.v4 import new_code_cell, new_markdown_cell

from .common import SETUP

NOTEBOOK = "02-connection.ipynb"

CELLS = [
    new_markdown_cell(
        "# Cannot connect\n\n"
        "*Smallest AI Pulse: \"Cannot Establish WebSocket Connection\" (connection fails immediately or times out), "
        "\"HTTP errors\" (401, 403, 429, 500), \"CORS Errors\". AssemblyAI Voice Agent: \"Firewall blocking WebSocket "
        "connection\", \"Token expired or invalid credentials\".*\n\n"
        "Every cause on those pages is reproduced here on this machine — a wrong scheme, a wrong path, a bad key, "
        "`Token` instead of `Bearer`, a refused port, a firewall black hole, a host that does not resolve, and the "
        "server's 401/403/429/500 — and `vl.doctor` names each one. `doctor` walks the connection the way a packet "
        "does and stops at the first step that fails:\n\n"
        "`url → dns → tcp → tls → upgrade → auth → session → close`\n\n"
        "No network and no API key are needed: the local emulator plays the server."
    ),
    new_code_cell(SETUP),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nserver = vl.serve(**LIGHT)\nserver"),
    new_markdown_cell(
        "## 1. A healthy connection, for reference\n\n"
        "Every step passes: the upgrade, the key in the documented form (`Authorization: Bearer <key>`), two "
        "seconds of speech with a transcript back, and a clean close (`close_stream` → last final → 1000). The key "
        "is never shown, in this checklist or anywhere else."
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "healthy = vl.doctor(server.url, provider='pulse', api_key=server.api_key)\n"
        "healthy"
    ),
    new_markdown_cell(
        "## 2. Reproduce every cause\n\n"
        "Each case below is the mistake a seed page names, made on purpose against local sockets:\n\n"
        "| case | how it is made here |\n|---|---|\n"
        "| `https://` URL | the emulator's URL with `https://` |\n"
        "| `ws://` to a `wss://`-only host | `ws://api.smallest.ai` (caught before any packet is sent) |\n"
        "| `wss://` to a plain port | TLS to the emulator, which speaks plain `ws://` |\n"
        "| wrong path | `/v1/listen` (another vendor's path) |\n"
        "| no key / bad key | no `api_key`; a made-up key |\n"
        "| `Token` instead of `Bearer` | `auth_header='Token <key>'`, the header your app sends |\n"
        "| refused port | a port nothing listens on |\n"
        "| firewall black hole | a listener whose accept queue is full: the kernel drops the SYN, exactly as a "
        "firewall that drops packets does |\n"
        "| proxy holding the upgrade | a listener that accepts TCP and never answers |\n"
        "| DNS | a name under `.invalid`, which never resolves |\n"
        "| 401 / 403 / 429 / 500 | the emulator's `vl_fault=reject:N` query parameter (real APIs ignore it) |\n"
        "| agent: bad key | the Voice Agent API upgrades first, then refuses the session (`UNAUTHORIZED`, 1008) |"
    ),
    new_code_cell(
        "import socket\n\n"
        "def free_port():\n"
        "    with socket.socket() as s:\n"
        "        s.bind(('127.0.0.1', 0))\n"
        "        return s.getsockname()[1]\n\n"
        "# a black hole: accept queue of one, filled, never accepted -> the next SYN is dropped\n"
        "hole = socket.socket(); hole.bind(('127.0.0.1', 0)); hole.listen(0)\n"
        "filler = socket.create_connection(hole.getsockname(), timeout=1)\n"
        "# a proxy that holds the upgrade: TCP is accepted by the kernel, nobody answers\n"
        "silent = socket.socket(); silent.bind(('127.0.0.1', 0)); silent.listen(4)\n\n"
        "key = server.api_key  # read, never displayed\n"
        "live = server.url_for('pulse')  # ws://127.0.0.1:PORT/waves/v1/stt/live?model=pulse&language=en\n"
        "CASES = {\n"
        "    'https:// URL': dict(url=server.url.replace('ws://', 'https://'), api_key=key),\n"
        "    'ws:// to a wss-only host': dict(url='ws://api.smallest.ai', api_key=key),\n"
        "    'wss:// to a plain port': dict(url=server.url.replace('ws://', 'wss://'), api_key=key),\n"
        "    'wrong path': dict(url=server.url + '/v1/listen', api_key=key),\n"
        "    'no key': dict(url=server.url),\n"
        "    'bad key': dict(url=server.url, api_key='sk_not_my_key_0000000000'),\n"
        "    'Token instead of Bearer': dict(url=server.url, auth_header='Token ' + key),\n"
        "    'refused port': dict(url=f'ws://127.0.0.1:{free_port()}', api_key=key),\n"
        "    'firewall black hole': dict(url='ws://127.0.0.1:%d' % hole.getsockname()[1], api_key=key),\n"
        "    'proxy holds the upgrade': dict(url='ws://127.0.0.1:%d' % silent.getsockname()[1], api_key=key),\n"
        "    'DNS (.invalid)': dict(url='wss://api.smallest.invalid', api_key=key),\n"
        "    'HTTP 401': dict(url=live + '&vl_fault=reject:401', api_key=key),\n"
        "    'HTTP 403': dict(url=live + '&vl_fault=reject:403', api_key=key),\n"
        "    'HTTP 429': dict(url=live + '&vl_fault=reject:429;retry_after:2', api_key=key),\n"
        "    'HTTP 500': dict(url=live + '&vl_fault=reject:500', api_key=key),\n"
        "    'agent: bad key': dict(url=server.url, api_key='not-my-key', provider='assemblyai-agent'),\n"
        "}\n"
        "reports = {}\n"
        "for case, kw in CASES.items():\n"
        "    kw = {'provider': 'pulse', 'timeout_seconds': 1.0, **kw}\n"
        "    reports[case] = vl.doctor(kw.pop('url'), **kw)\n"
        "filler.close(); hole.close(); silent.close()\n\n"
        "for case, report in reports.items():\n"
        "    step = report.failed_step\n"
        "    print(f\"{case:26} stops at {step.name:8} {step.finding.code}\")"
    ),
    new_markdown_cell(
        "## 3. See where each one stops\n\n"
        "One row per case, one column per step: green passed, red failed (with its code), grey not reached. Causes "
        "that look the same in a browser console (\"connection failed\") stop at different steps."
    ),
    new_code_cell(
        "from matplotlib.figure import Figure\n"
        "from matplotlib.patches import Rectangle\n"
        "from voicelab.diagnosis.doctor import STEPS\n\n"
        "def where_it_stops(reports):\n"
        "    colour = {'ok': '#2e7d32', 'failed': '#c62828', 'skipped': '#e0e0e0'}\n"
        "    fig = Figure(figsize=(10, 0.34 * len(reports) + 0.9), layout='constrained', dpi=110)\n"
        "    ax = fig.subplots()\n"
        "    for i, (case, report) in enumerate(reports.items()):\n"
        "        steps = {s.name: s for s in report.steps}\n"
        "        for j, name in enumerate(STEPS):\n"
        "            status = steps[name].status if name in steps else 'skipped'\n"
        "            ax.add_patch(Rectangle((j, i), 0.96, 0.86, color=colour[status]))\n"
        "            if status == 'failed':\n"
        "                ax.text(j + 0.48, i + 0.45, steps[name].finding.code, ha='center', va='center',\n"
        "                        color='white', fontsize=6.5, fontweight='bold')\n"
        "    ax.set_xlim(0, len(STEPS)); ax.set_ylim(len(reports), 0)\n"
        "    ax.set_xticks([j + 0.48 for j in range(len(STEPS))], STEPS)\n"
        "    ax.set_yticks([i + 0.43 for i in range(len(reports))], list(reports))\n"
        "    ax.xaxis.tick_top(); ax.tick_params(length=0)\n"
        "    for side in ax.spines.values():\n"
        "        side.set_visible(False)\n"
        "    ax.set_title('vl.doctor: the step where each connection fails', pad=22)\n"
        "    return fig\n\n"
        "where_it_stops({'healthy': healthy, **reports})"
    ),
    new_markdown_cell(
        "## 4. Name it: the checklists\n\n"
        "Each report says what was seen and the fix. `Token` instead of `Bearer`: doctor sends your header as is, "
        "and when it is refused tries the same key in the documented form — so it can tell a wrong *form* from a "
        "wrong *key*:"
    ),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nreports['Token instead of Bearer']"),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nreports['https:// URL']"),
    new_markdown_cell(
        "A firewall that drops packets and a proxy that holds the upgrade both look like \"times out\" to an "
        "application; doctor separates them (the TCP step, or the upgrade step):"
    ),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nreports['firewall black hole']"),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nreports['proxy holds the upgrade']"),
    new_markdown_cell(
        "The server's own refusals: 429 carries `Retry-After` in the evidence, and the Voice Agent API refuses a "
        "bad key *after* the upgrade, in its first message:"
    ),
    new_code_cell(
        "for case in ('HTTP 401', 'HTTP 403', 'HTTP 429', 'HTTP 500', 'agent: bad key', 'DNS (.invalid)'):\n"
        "    f = reports[case].failed_step.finding\n"
        "    print(f'{case}: [{f.code}]\\n    fix: {f.fix}\\n')"
    ),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nreports['HTTP 429']"),
    new_markdown_cell(
        "`vl.stream` says the same when it is refused, and does the right thing for each status: 400/401/403 fail "
        "at once (retrying cannot help), 429 waits for `Retry-After`, 5xx backs off with jitter."
    ),
    new_code_cell(
        "clip = vl.load(DATA / 'speech' / 's01_fox_16k.flac')\n"
        "try:\n"
        "    vl.stream(clip, provider='pulse', url=server.url, api_key='sk_not_my_key_0000000000').wait(30)\n"
        "except vl.AuthenticationError as exc:\n"
        "    print(type(exc).__name__, '-', exc)"
    ),
    new_markdown_cell(
        "## 5. Fix it, see it fixed\n\n"
        "The fixes the reports name — a `ws(s)://` URL, the provider's path, the key in `Authorization: Bearer "
        "<key>` — are what voicelab's client does by default; the same server now passes every step:"
    ),
    new_code_cell(
        "fixed = vl.doctor(server.url_for('pulse'), provider='pulse', api_key=server.api_key)\n"
        "print('all steps pass:', fixed.ok, '| failed step:', fixed.failed_step)\n"
        "agent = vl.doctor(server.url, provider='assemblyai-agent', api_key=server.api_key)\n"
        "print('agent, all steps pass:', agent.ok)"
    ),
    new_markdown_cell(
        "From a terminal the same check is `voicelab doctor URL --provider pulse --api-key-env VAR` "
        "(`--auth-scheme Token` to test your app's header form; `--json` for a support ticket); without a URL it "
        "checks the vendor's host — and on a machine with no network stops at `dns` with `dns_failure`."
    ),
    new_markdown_cell(
        "## 6. Monitoring connection state over a session\n\n"
        "*Pulse, \"Connection Drops Unexpectedly\" → \"Monitor Connection State\"; \"Debugging Tips\" → \"Enable "
        "Verbose Logging\", \"Monitor Session State\".* The seed polls `ws.readyState` every 5 s. A Recording has "
        "every connection event on one clock instead: each attempt, each upgrade, each close with its code, each "
        "gap. Here a server drops the connection (no close frame, 1006) 1.5 s into the session; the client "
        "reconnects and resends what no final covered. The event log shows every frame both ways, live."
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "flaky = vl.serve(**LIGHT, faults='drop_after_seconds:1.5')\n"
        "session = vl.stream(clip, provider='pulse', url=flaky.url, api_key=flaky.api_key)\n"
        "log = vl.widgets.EventLog(session)\n"
        "log"
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "session.wait(60)\n"
        "flaky.close()\n"
        "for e in session.recording.entries:\n"
        "    if e.kind in ('connect', 'handshake', 'close', 'gap'):\n"
        "        detail = {k: e.get(k) for k in ('attempt', 'status', 'code', 'reason', 'resent_chunks') if e.get(k) is not None}\n"
        "        print(f'{e.t:6.2f} s  {e.kind:9} {detail}')"
    ),
    new_code_cell(
        "stats = session.recording.stats\n"
        "print('dropped (1006) and reconnected:', stats.reconnects >= 1 and 1006 in stats.close_codes,\n"
        "      '| last close:', stats.close_codes[-1], '| finals > 0:', stats.finals > 0)"
    ),
    new_markdown_cell("The static twins, for a saved notebook or a bug report — the event log and the timeline with the gap:"),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nvl.plot.event_log(session.recording, max_rows=16)"),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nvl.plot.timeline(session.recording)"),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nvl.diagnose(session)"),
    new_markdown_cell(
        "## 7. In a browser: no custom headers\n\n"
        "*Pulse, \"CORS Errors\" → \"Handle Authentication\"; \"HTTP errors\".* A browser's `WebSocket` cannot set "
        "`Authorization`, so a page cannot send `Bearer <key>`. Two ways out:\n\n"
        "1. **A query parameter**: Pulse takes the key or a short-lived access token as `?token=` / `?api_key=` "
        "(`vl.stream(..., auth='token')`); better, mint a short-lived token on your backend "
        "(`use_token=True` does that per connection: Pulse `POST /waves/v1/auth/token`, AssemblyAI "
        "`GET /v1/token`) so the page never holds the key.\n"
        "2. **A backend proxy** that adds the header: `voicelab tap --provider pulse --upstream wss://api.smallest.ai "
        "--inject-auth` is one for development (loopback only, guarded by its own local token; docs/tap.md).\n\n"
        "The Recording never holds a credential: the query value is redacted."
    ),
    new_code_cell(
        "q = vl.stream(clip, provider='pulse', url=server.url, api_key=server.api_key, auth='token', speed=None).wait(60)\n"
        "t = vl.stream(vl.load(DATA / 'speech' / 's01_fox_24k.flac'), provider='assemblyai-agent', url=server.url,\n"
        "              api_key=server.api_key, use_token=True, speed=None).wait(60)\n"
        "for s in (q, t):\n"
        "    print(s.recording.of('connect')[0]['url'].replace(server.url, '<emulator>'))\n"
        "print('key in either recording:', any(server.api_key in e.to_json() for s in (q, t) for e in s.recording.entries))"
    ),
    new_markdown_cell(
        "In a browser a refused credential has no body to read: the Voice Agent API's `UNAUTHORIZED` + 1008 shows "
        "up as **1006** in the page. Run `vl.doctor` (or `voicelab doctor`) from a terminal with the same key to see "
        "the real answer."
    ),
    new_code_cell("server.close()"),
]
