// The dashboard's script (admin/dashboard.html), inlined into the page at build time.
'use strict';
(() => {
  const POLL_MS = 1000, TIMEOUT_MS = 5000, HISTORY = 60;
  const params = new URLSearchParams(location.search);
  const token = params.get('token');
  const expandAll = params.getAll('expand').includes('all');
  // Read once, then out of the address bar, so that the history, a bookmark or a shared
  // screen does not keep the token.
  if (token !== null) {
    params.delete('token');
    const rest = params.toString();
    history.replaceState(null, '', location.pathname + (rest ? `?${rest}` : '') + location.hash);
  }
  const $ = (id) => document.getElementById(id);

  // Builds an element; strings become text nodes, so nothing from the JSON is parsed as HTML.
  function h(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key === 'text') node.textContent = value;
      else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }
  const setText = (node, text) => { const s = String(text); if (node.textContent !== s) node.textContent = s; };

  const isNum = (v) => typeof v === 'number' && Number.isFinite(v);
  const int = (v) => (isNum(v) ? String(Math.round(v)) : '—');
  const rate = (v) => (!isNum(v) ? '—' : v === 0 ? '0' : v < 10 ? v.toFixed(1) : String(Math.round(v)));
  const micros = (v) => (!isNum(v) ? '—' : v < 1000 ? Math.round(v) + ' µs' : v < 1e6 ? (v / 1000).toFixed(1) + ' ms' : (v / 1e6).toFixed(2) + ' s');
  function duration(seconds) {
    if (!isNum(seconds)) return '—';
    const s = Math.floor(seconds), d = Math.floor(s / 86400), hh = Math.floor(s % 86400 / 3600);
    const m = Math.floor(s % 3600 / 60), ss = s % 60, pad = (n) => String(n).padStart(2, '0');
    if (d) return `${d}d ${pad(hh)}h`;
    if (hh) return `${hh}h ${pad(m)}m`;
    if (m) return `${m}m ${pad(ss)}s`;
    return seconds < 10 ? `${seconds.toFixed(1)}s` : `${ss}s`;
  }

  // Sparkline of the last HISTORY samples, newest at the right edge.
  function spark(canvas, values, color) {
    const dpr = window.devicePixelRatio || 1, w = canvas.clientWidth || canvas.width, hgt = canvas.clientHeight || canvas.height;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(hgt * dpr)) {
      canvas.width = Math.round(w * dpr); canvas.height = Math.round(hgt * dpr);
    }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, hgt);
    ctx.strokeStyle = color; ctx.globalAlpha = 0.25; ctx.lineWidth = 1;
    ctx.beginPath(); ctx.moveTo(0, hgt - 0.5); ctx.lineTo(w, hgt - 0.5); ctx.stroke();
    if (values.length < 2) { ctx.globalAlpha = 1; return; }
    const max = Math.max(...values, 1e-9), step = w / (HISTORY - 1), x0 = w - (values.length - 1) * step;
    const y = (v) => hgt - 2 - (v / max) * (hgt - 4);
    ctx.beginPath();
    values.forEach((v, i) => (i ? ctx.lineTo(x0 + i * step, y(v)) : ctx.moveTo(x0, y(v))));
    ctx.globalAlpha = 1; ctx.lineWidth = 1.5; ctx.lineJoin = 'round'; ctx.stroke();
    ctx.lineTo(w, hgt); ctx.lineTo(x0, hgt); ctx.closePath();
    ctx.fillStyle = color; ctx.globalAlpha = 0.15; ctx.fill();
    ctx.globalAlpha = 1; ctx.fillStyle = color;
    ctx.beginPath(); ctx.arc(w - 1.5, y(values[values.length - 1]), 1.8, 0, Math.PI * 2); ctx.fill();
  }
  const cssVar = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#2563eb';
  const pushSample = (list, v) => { list.push(v); if (list.length > HISTORY) list.shift(); };

  // Rates: counter difference / elapsed time. The elapsed time is the difference of the
  // server's own uptime when it moves, else the page's clock. A new pid or a counter that went
  // down (vhostd restarted) starts the baseline again.
  let previous = null;   // {pid, uptime, at}
  const front = { accepted: null, total: null, acceptedHist: [], totalHist: [] };
  const sites = new Map(); // name -> view
  const expanded = new Set(params.getAll('expand'));
  let polls = 0, lastOk = 0, failures = 0;

  function diffRate(before, now, dt) {
    if (!isNum(before) || !isNum(now) || !(dt > 0) || now < before) return null;
    return (now - before) / dt;
  }

  function makeSiteView(name) {
    const view = { name, reqHist: [], connHist: [], prev: null, cells: {} };
    const c = view.cells;
    const cell = (field, cls) => (c[field] = h('td', { class: cls || 'num', 'data-field': field }));
    const rateCell = (field, title) => {
      c[field] = h('span', { class: 'val num', 'data-field': field, text: '—' });
      c[field + '_spark'] = h('canvas', { width: 76, height: 18, title });
      return h('td', { class: 'num' }, h('div', { class: 'rate' }, c[field], c[field + '_spark']));
    };
    view.toggle = h('button', { type: 'button', 'aria-expanded': 'false', title: 'workers', text: '▶' });
    c.name = h('div', { class: 'sitename' });
    c.hosts = h('div', { class: 'hosts' });
    c.state = h('span', { class: 'badge', 'data-field': 'state' });
    view.row = h('tr', { class: 'site', 'data-site': name },
      h('td', { class: 'toggle' }, view.toggle),
      h('td', { class: 'sitecell' }, c.name, c.hosts),
      h('td', {}, c.state),
      rateCell('req_rate', 'requests/s, last 60 polls'),
      rateCell('conn_rate', 'connections/s, last 60 polls'),
      cell('requests'), cell('connections'), cell('handed_off'), cell('answered_503'), cell('queue_length'),
      cell('active'), cell('handoff'),
      (c.workers = h('td', { class: 'wrap' }, h('div', { class: 'chips' }))),
      (c.restarts = h('td', { class: 'wrap' }, h('div', { class: 'chips' }))));
    view.workerBody = h('tbody');
    view.detail = h('tr', { class: 'detail', 'data-site-workers': name, hidden: true },
      h('td', { colspan: 14 },
        h('table', {},
          h('thead', {}, h('tr', {}, ...['pid', 'slot', 'gen', 'state', 'retiring', 'uptime', 'RSS MiB', 'CPU s', 'active conns', 'requests', 'websockets']
            .map((t, i) => h('th', { class: i === 3 || i === 4 ? '' : 'num', text: t })))),
          view.workerBody)));
    const flip = () => {
      if (expanded.has(name)) expanded.delete(name); else expanded.add(name);
      applyExpanded(view);
      if (view.last) renderWorkers(view, view.last);
    };
    view.row.addEventListener('click', () => { if (!String(window.getSelection() || '')) flip(); });
    c.name.append(name, (c.defaultTag = h('span', { class: 'tag', text: 'default', hidden: true })));
    c.name.title = name;
    return view;
  }

  function applyExpanded(view) {
    const open = expanded.has(view.name);
    view.row.classList.toggle('open', open);
    view.toggle.setAttribute('aria-expanded', String(open));
    view.detail.hidden = !open || view.row.hidden;
  }

  function chipsInto(container, entries) {
    const box = container.firstChild;
    box.replaceChildren(...entries.map(([label, value, cls]) => h('span', { class: 'chip ' + (cls || '') }, label + ' ', h('b', { class: 'num', text: value }))));
    if (!entries.length) box.append(h('span', { class: 'muted', text: '—' }));
  }

  const workerStateClass = { ready: 'ok', starting: 'info', draining: 'warn', stopping: 'bad' };

  function renderWorkers(view, site) {
    if (!expanded.has(view.name)) return;
    const workers = Array.isArray(site.workers) ? site.workers : [];
    if (!workers.length) {
      view.workerBody.replaceChildren(h('tr', {}, h('td', { colspan: 11, class: 'muted', text: 'no workers' })));
      return;
    }
    view.workerBody.replaceChildren(...workers.map((w) => h('tr', { 'data-worker': int(w.pid) },
      h('td', { class: 'num mono', text: int(w.pid) }),
      h('td', { class: 'num', text: int(w.slot) }),
      h('td', { class: 'num', text: int(w.generation) }),
      h('td', {}, h('span', { class: 'badge ' + (workerStateClass[w.state] || 'idle'), text: String(w.state ?? '—') })),
      h('td', { class: w.retiring ? '' : 'muted', text: w.retiring ? String(w.retiring) : '—' }),
      h('td', { class: 'num', text: duration(w.uptime_seconds) }),
      h('td', { class: 'num', text: isNum(w.rss_bytes) ? (w.rss_bytes / 1048576).toFixed(1) : '—' }),
      h('td', { class: 'num', text: isNum(w.cpu_seconds) ? w.cpu_seconds.toFixed(2) : '—' }),
      h('td', { class: 'num', text: int(w.active_connections) }),
      h('td', { class: 'num', text: int(w.requests) }),
      h('td', { class: 'num', text: int(w.websockets) }))));
  }

  function siteState(site) {
    const by = site.workers_by_state || {};
    const total = Object.values(by).reduce((a, b) => a + (isNum(b) ? b : 0), 0);
    if (site.quarantined) {
      const left = isNum(site.quarantine_seconds_left) ? ` ${Math.ceil(site.quarantine_seconds_left)}s` : '';
      return ['bad', 'quarantined' + left, 'quarantined'];
    }
    if (isNum(by.ready) && by.ready > 0) return ['ok', 'ok', 'ok'];
    if (site.min_workers === 0 && total === 0) return ['idle', 'idle', 'idle'];
    return ['warn', 'no ready worker', 'no_ready_worker'];
  }

  function renderSite(view, site, dt) {
    const c = view.cells;
    view.last = site;
    const hosts = Array.isArray(site.hosts) ? site.hosts.map(String) : [];
    setText(c.hosts, hosts.length ? hosts.join(', ') : site.default ? 'any other host' : '—');
    c.hosts.title = hosts.join('\n');
    c.defaultTag.hidden = !site.default;

    const [cls, label, state] = siteState(site);
    c.state.className = 'badge ' + cls;
    c.state.dataset.state = state;
    setText(c.state, label);

    const reqRate = view.prev ? diffRate(view.prev.requests, site.requests, dt) : null;
    const connRate = view.prev ? diffRate(view.prev.connections, site.connections, dt) : null;
    if (view.prev && (site.requests < view.prev.requests || site.connections < view.prev.connections)) {
      view.reqHist.length = 0; view.connHist.length = 0;  // counters went back: a new start
    }
    if (reqRate !== null) pushSample(view.reqHist, reqRate);
    if (connRate !== null) pushSample(view.connHist, connRate);
    view.prev = { requests: site.requests, connections: site.connections };
    view.reqRate = reqRate ?? 0;
    setText(c.req_rate, rate(reqRate));
    setText(c.conn_rate, rate(connRate));
    spark(c.req_rate_spark, view.reqHist, cssVar('--accent'));
    spark(c.conn_rate_spark, view.connHist, cssVar('--accent2'));

    const answered503 = site.answered && isNum(site.answered['503']) ? site.answered['503'] : 0;
    setText(c.requests, int(site.requests));
    setText(c.connections, int(site.connections));
    setText(c.handed_off, int(site.handed_off));
    setText(c.answered_503, int(answered503));
    c.answered_503.classList.toggle('hot', answered503 > 0);
    setText(c.queue_length, int(site.queue_length));
    c.queue_length.classList.toggle('hot', isNum(site.queue_length) && site.queue_length > 0);
    setText(c.active, isNum(site.websockets) && site.websockets > 0 ? `${int(site.active_connections)} · ws ${int(site.websockets)}` : int(site.active_connections));
    const lat = site.handoff_latency_us || {};
    const bothMicros = isNum(lat.p50) && isNum(lat.p99) && lat.p99 < 1000;
    setText(c.handoff, !lat.count ? '—' : bothMicros ? `${Math.round(lat.p50)} / ${Math.round(lat.p99)} µs` : `${micros(lat.p50)} / ${micros(lat.p99)}`);
    c.handoff.title = lat.count ? `${lat.count} handoffs; p90 ${micros(lat.p90)}` : 'no handoff yet';

    const by = site.workers_by_state || {};
    const workerChips = Object.entries(by).filter(([, n]) => isNum(n) && n > 0).map(([st, n]) => [st, String(n), workerStateClass[st] || '']);
    if (!workerChips.length) workerChips.push(['none', '0', 'zero']);
    if (isNum(site.min_workers) && isNum(site.max_workers) && site.min_workers !== site.max_workers) {
      workerChips.push(['pool', `${site.min_workers}–${site.max_workers}`, 'zero']);
    }
    c.workers.title = isNum(site.min_workers) ? `min_workers ${site.min_workers}, max_workers ${site.max_workers}` : '';
    chipsInto(c.workers, workerChips);
    const restarts = Object.entries(site.restarts || {}).filter(([, n]) => isNum(n) && n > 0)
      .map(([reason, n]) => [reason.replace(/_/g, ' '), String(n), ['crash', 'hung', 'start_failure', 'channel_lost'].includes(reason) ? 'bad' : 'info']);
    chipsInto(c.restarts, restarts);
    renderWorkers(view, site);
  }

  function applyFilter() {
    const q = $('filter').value.trim().toLowerCase();
    let shown = 0;
    for (const view of sites.values()) {
      const hosts = view.last && Array.isArray(view.last.hosts) ? view.last.hosts.join(' ') : '';
      view.row.hidden = !!q && !(view.name + ' ' + hosts).toLowerCase().includes(q);
      if (!view.row.hidden) shown++;
      applyExpanded(view);
    }
    $('no-sites').hidden = shown > 0;
    setText($('no-sites'), sites.size ? 'no site matches the filter' : 'no sites');
  }

  function render(data) {
    const server = data.server || {}, fr = data.front || {}, list = Array.isArray(data.sites) ? data.sites : [];
    const now = performance.now();
    const restarted = !!previous && ((isNum(server.pid) && server.pid !== previous.pid) ||
      (isNum(server.uptime_seconds) && isNum(previous.uptime) && server.uptime_seconds < previous.uptime));
    if (restarted) { for (const view of sites.values()) { view.prev = null; view.reqHist.length = 0; view.connHist.length = 0; } front.accepted = front.total = null; front.acceptedHist.length = front.totalHist.length = 0; }
    let dt = 0;
    if (previous && !restarted) {
      const serverDt = isNum(server.uptime_seconds) && isNum(previous.uptime) ? server.uptime_seconds - previous.uptime : 0;
      dt = serverDt > 0.05 ? serverDt : (now - previous.at) / 1000;
    }
    previous = { pid: server.pid, uptime: server.uptime_seconds, at: now };

    setText($('version'), server.version ? 'v' + server.version : '');
    setText($('pid'), int(server.pid));
    setText($('uptime'), duration(server.uptime_seconds));
    setText($('reloads'), int(server.reloads));
    setText($('threads'), int(server.threads));
    setText($('config'), server.config ?? '—');
    $('config').title = String(server.config ?? '');

    const acceptedRate = diffRate(front.accepted, fr.accepted, dt);
    if (acceptedRate !== null) pushSample(front.acceptedHist, acceptedRate);
    front.accepted = fr.accepted;
    setText($('accepted'), int(fr.accepted));
    setText($('accepted-rate'), rate(acceptedRate));
    spark($('accepted-spark'), front.acceptedHist, cssVar('--accent2'));
    setText($('in-front'), int(fr.in_front));
    const answered = Object.entries(fr.answered || {}).sort(([a], [b]) => a.localeCompare(b));
    $('answered').replaceChildren(...answered.map(([code, n]) =>
      h('span', { class: 'chip ' + (!n ? 'zero' : code === '404' || code === '421' ? 'warn' : 'bad'), 'data-answered': code }, code + ' ', h('b', { class: 'num', text: int(n) }))));
    if (!answered.length) $('answered').append(h('span', { class: 'muted', text: '—' }));

    // Sites: keep the rows (and what is expanded); add new ones, drop the ones a reload removed.
    const seen = new Set();
    const tbody = $('site-rows');
    let totalRequests = 0, counts = { ok: 0, quarantined: 0, no_ready_worker: 0, idle: 0 };
    let position = 0;
    list.forEach((site) => {
      const name = String(site && site.name !== undefined ? site.name : '');
      if (!site || seen.has(name)) return;
      seen.add(name);
      const index = position++;
      let view = sites.get(name);
      if (!view) {
        view = makeSiteView(name); sites.set(name, view);
        if (expandAll) expanded.add(name);
      }
      renderSite(view, site, dt);
      if (isNum(site.requests)) totalRequests += site.requests;
      counts[siteState(site)[2]]++;
      // Keep the file order: move rows only when they are out of place.
      const at = tbody.children[index * 2];
      if (at !== view.row) tbody.insertBefore(view.row, at || null);
      if (view.row.nextSibling !== view.detail) tbody.insertBefore(view.detail, view.row.nextSibling);
    });
    for (const [name, view] of sites) {
      if (!seen.has(name)) { view.row.remove(); view.detail.remove(); sites.delete(name); expanded.delete(name); }
    }
    const totalRate = diffRate(front.total, totalRequests, dt);
    if (totalRate !== null) pushSample(front.totalHist, totalRate);
    front.total = totalRequests;
    setText($('total-requests'), int(totalRequests));
    setText($('total-rate'), rate(totalRate));
    spark($('total-spark'), front.totalHist, cssVar('--accent'));
    setText($('site-count'), String(sites.size));
    const summary = [`${counts.ok} ok`];
    if (counts.no_ready_worker) summary.push(`${counts.no_ready_worker} without a ready worker`);
    if (counts.quarantined) summary.push(`${counts.quarantined} quarantined`);
    if (counts.idle) summary.push(`${counts.idle} idle`);
    setText($('site-summary'), summary.join(' · '));
    document.title = `vhostd · ${sites.size} site${sites.size === 1 ? '' : 's'}`;
    applyFilter();
  }

  function showError(message) {
    failures++;
    document.body.dataset.state = 'error';
    const banner = $('banner');
    const age = lastOk ? ` — showing data from ${Math.round((Date.now() - lastOk) / 1000)}s ago` : '';
    setText(banner, `Cannot read status: ${message}${age}`);
    banner.hidden = false;
    setText($('live'), failures > 1 ? `failing (${failures} polls)` : 'failing');
  }

  async function poll() {
    const started = performance.now();
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
    try {
      const headers = { Accept: 'application/json' };
      if (token) headers.Authorization = 'Bearer ' + token;
      const response = await fetch('status', { headers, cache: 'no-store', signal: abort.signal });
      if (!response.ok) {
        let hint = '';
        if (response.status === 401) hint = token ? ' (the token was refused)' : ' (open this page with ?token=… in the URL)';
        throw new Error(`HTTP ${response.status} ${response.statusText || ''}`.trim() + hint);
      }
      const data = await response.json();
      if (!data || typeof data !== 'object') throw new Error('the answer is not a JSON object');
      render(data);
      polls++; failures = 0; lastOk = Date.now();
      document.body.dataset.polls = String(polls);
      document.body.dataset.state = 'ok';
      $('banner').hidden = true;
      setText($('live'), 'live · ' + new Date().toLocaleTimeString());
    } catch (error) {
      showError(error && error.name === 'AbortError' ? `no answer within ${TIMEOUT_MS / 1000}s` : (error && error.message) || String(error));
    } finally {
      clearTimeout(timer);
      setTimeout(poll, Math.max(100, POLL_MS - (performance.now() - started)));
    }
  }

  $('filter').addEventListener('input', applyFilter);
  $('expand-all').addEventListener('click', () => {
    const all = [...sites.keys()].every((n) => expanded.has(n));
    for (const view of sites.values()) { if (all) expanded.delete(view.name); else expanded.add(view.name); applyExpanded(view); if (view.last) renderWorkers(view, view.last); }
    setText($('expand-all'), all ? 'expand all' : 'collapse all');
  });
  poll();
})();
