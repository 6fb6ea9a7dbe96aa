// The live half of the log watcher's page. The server renders complete HTML; this script
// keeps it current without reloading:
// - the tail follows `logs/stream` (server-sent events, same filter parameters as `logs`);
//   whenever the stream (re)opens it re-queries `logs`, so nothing committed in between is
//   missed, and events that arrive while that answer is on its way are merged without
//   duplicates;
// - the filters live in the URL (bookmarkable); changing one re-queries and re-opens the
//   stream;
// - "following" appends new events at the bottom and keeps the newest in view; pausing (or
//   scrolling up) holds them back behind a "N new events" button;
// - the header, legend and chart are refreshed from `summary`, `summary/series` and `api/sources`;
//   with deploy markers on (`data-deploys`), the chart's markers from `api/deploys` (the
//   filtered service's deploys), whose failure keeps the markers drawn last.
// It mirrors render.rs and chart.rs: same elements, same classes, same words, same chart
// geometry.
// Every text from logs and deploys is set with textContent / createTextNode; nothing the
// server sends ever goes through innerHTML. The element builders, `plural`, `span` and `fetchJson` come
// from service_kit's page prelude, which the page writes ahead of this.
(() => {
  'use strict';

  // service_kit's page prelude, written ahead of this script.
  const { el, svgEl, plural, span, fetchJson } = pagePrelude;
  const LEVELS = ['trace', 'debug', 'info', 'warning', 'error', 'critical'];
  const LABELS = { trace: 'TRACE', debug: 'DEBUG', info: 'INFO', warning: 'WARNING', error: 'ERROR', critical: 'CRITICAL' };
  const MAX_ROWS = 1000;
  const STATS_MS = 5000;
  const SSE_RETRY_MS = 5000;
  const TEXT_DEBOUNCE_MS = 300;
  // chart.rs: the chart's geometry (the SVG is stretched; labels are HTML beside it).
  const W = 960;
  const H = 120;
  const SEG_MIN = 2;
  const BAR_FILL = 0.75;
  const MARKER_HIT = 8;
  const SERVICE_COLOURS = 8;

  const body = document.body;
  const WINDOW = Number(body.dataset.window) || 3600;
  const STEP = Number(body.dataset.step) || 60;
  const LIMIT = Number(body.dataset.limit) || 300;
  const DEPLOYS = body.dataset.deploys === 'on';

  const tail = document.getElementById('tail');
  const rows = document.getElementById('events');
  const form = document.getElementById('filters');
  const serviceSelect = document.getElementById('f-service');
  const levelSelect = document.getElementById('f-level');
  const textInput = document.getElementById('f-q');
  const followButton = document.getElementById('follow');
  const newButton = document.getElementById('new-events');
  const conn = document.getElementById('conn');
  const deploysNote = document.getElementById('deploys-note');

  let filters = readFilters();
  let following = true;
  let held = []; // events that arrived while paused
  let stream = null;
  let generation = 0; // bumps on every (re)query, so late answers of old filters are dropped
  let retryTimer = null;
  let statsSoon = null;
  let textTimer = null;
  let updates = 0;
  let loads = 0;
  let lastUpdate = body.dataset.rendered || new Date().toISOString();
  let connState = 'static';
  let deploys = []; // the chart's markers, as `api/deploys` last gave them

  // ---- small builders -------------------------------------------------------------------

  function serviceClass(name) {
    let hash = 0;
    for (let i = 0; i < name.length; i += 1) hash = (Math.imul(hash, 31) + name.charCodeAt(i)) >>> 0;
    return 'svc-' + (hash % SERVICE_COLOURS);
  }

  function countOf(counts, level) {
    return (counts && Number(counts[level])) || 0;
  }

  function shownLevels() {
    const min = LEVELS.indexOf(filters.level);
    return LEVELS.slice().reverse().filter((level) => min < 0 || LEVELS.indexOf(level) >= min);
  }

  // ---- filters and the URL --------------------------------------------------------------

  function readFilters() {
    const params = new URLSearchParams(location.search);
    // The server has parsed the level (aliases such as `warn` included) and selected it.
    const chosen = [...levelSelect.options].find((option) => option.defaultSelected);
    return {
      service: (params.get('service') || '').trim(),
      level: chosen ? chosen.value : '',
      q: params.get('q') || '',
    };
  }

  function filterParams() {
    const params = new URLSearchParams();
    if (filters.service) params.set('service', filters.service);
    if (filters.level) params.set('level', filters.level);
    if (filters.q) params.set('q', filters.q);
    return params;
  }

  function withFilters(path, extra) {
    const params = filterParams();
    for (const [key, value] of Object.entries(extra || {})) params.set(key, value);
    const query = params.toString();
    return query ? path + '?' + query : path;
  }

  function applyFilters() {
    const next = { service: serviceSelect.value, level: levelSelect.value, q: textInput.value };
    if (next.service === filters.service && next.level === filters.level && next.q === filters.q) return;
    filters = next;
    const query = filterParams().toString();
    history.replaceState(null, '', query ? '?' + query : location.pathname);
    const error = form.querySelector('.filter-error');
    if (error) error.remove();
    held = [];
    showHeld();
    openStream();
    refreshStats();
  }

  // ---- the tail -------------------------------------------------------------------------

  function eventTime(at) {
    const today = new Date().toISOString().slice(0, 10);
    const date = String(at).slice(0, 10);
    const time = String(at).slice(11, 19);
    return date === today ? time : date + ' ' + time;
  }

  function eventRow(ev) {
    const level = LEVELS.includes(ev.level) ? ev.level : 'info';
    const message = String(ev.message);
    const tr = el('tr', 'ev ev-' + level + (message.includes('\n') ? ' multi' : ''));
    const timeCell = el('td', 'ev-time');
    const time = el('time', null, eventTime(ev.timestamp));
    time.setAttribute('datetime', ev.timestamp);
    time.title = ev.timestamp;
    timeCell.append(time);
    const levelCell = el('td', 'ev-level');
    levelCell.append(el('span', 'lvl lvl-' + level, LABELS[level]));
    const messageCell = el('td', 'ev-msg');
    messageCell.append(el('pre', 'msg', message));
    tr.append(timeCell, el('td', 'ev-service ' + serviceClass(String(ev.service)), ev.service), levelCell, messageCell);
    return tr;
  }

  function emptyRow() {
    const tr = el('tr', 'none');
    const td = el('td', null, filters.service || filters.level || filters.q ? 'No events match these filters.' : 'No events yet.');
    td.colSpan = 4;
    tr.append(td);
    return tr;
  }

  function eventCount() {
    return rows.querySelectorAll('tr.ev').length;
  }

  function showCount() {
    document.getElementById('shown').textContent = plural(eventCount(), 'event');
    body.dataset.events = String(eventCount());
  }

  function atBottom() {
    // column-reverse: 0 is the bottom, scrolling up goes negative.
    return tail.scrollTop > -8;
  }

  function toBottom() {
    tail.scrollTop = 0;
  }

  function renderEvents(events) {
    rows.replaceChildren(...(events.length ? events.map(eventRow) : [emptyRow()]));
    showCount();
    if (following) toBottom();
  }

  function appendEvents(events, fresh) {
    if (events.length === 0) return;
    const none = rows.querySelector('tr.none');
    if (none) none.remove();
    const fragment = document.createDocumentFragment();
    for (const ev of events) {
      const tr = eventRow(ev);
      if (fresh) tr.classList.add('fresh');
      fragment.append(tr);
    }
    rows.append(fragment);
    let extra = rows.children.length - MAX_ROWS;
    while (extra > 0) {
      rows.firstElementChild.remove();
      extra -= 1;
    }
    showCount();
    if (following) toBottom();
    touch();
  }

  function showHeld() {
    newButton.hidden = held.length === 0;
    newButton.textContent = '↓ ' + plural(held.length, 'new event') + ' · follow';
    setConn(connState);
  }

  function setFollowing(on) {
    following = on;
    followButton.setAttribute('aria-pressed', String(on));
    followButton.textContent = on ? 'following' : 'paused';
    body.dataset.following = String(on);
    if (on) {
      const waiting = held;
      held = [];
      appendEvents(waiting, true);
      toBottom();
    }
    showHeld();
  }

  function arrived(ev) {
    if (following) appendEvents([ev], true);
    else {
      held.push(ev);
      if (held.length > MAX_ROWS) held.shift();
      showHeld();
    }
    refreshStatsSoon();
  }

  // ---- the stream and the query behind it -----------------------------------------------

  const CONN_TEXT = {
    connecting: 'connecting…',
    live: 'live',
    reconnecting: 'reconnecting…',
    offline: 'offline, retrying…',
  };

  function setConn(state) {
    connState = state;
    const shown = state === 'live' && !following ? 'paused' : state;
    body.dataset.conn = state;
    conn.className = 'conn conn-' + shown;
    conn.textContent = shown === 'paused' ? 'paused' : CONN_TEXT[state] || state;
  }

  function keyOf(ev) {
    return [ev.timestamp, ev.service, ev.level, ev.message].join('\u0000');
  }

  // Loads `logs` for the current filters; `pending` holds stream events that came in
  // meanwhile: those the answer already has are dropped, the rest follow it.
  function load(mine, pending) {
    fetchJson(withFilters('logs', { limit: String(LIMIT) }))
      .then((answer) => {
        if (mine !== generation) return;
        const events = Array.isArray(answer.events) ? answer.events : [];
        const seen = new Map();
        for (const ev of events) seen.set(keyOf(ev), (seen.get(keyOf(ev)) || 0) + 1);
        const later = pending.list.filter((ev) => {
          const n = seen.get(keyOf(ev)) || 0;
          if (n > 0) {
            seen.set(keyOf(ev), n - 1);
            return false;
          }
          return true;
        });
        pending.done = true;
        held = [];
        renderEvents(events.slice(-MAX_ROWS));
        for (const ev of later) arrived(ev);
        showHeld();
        loads += 1;
        body.dataset.loads = String(loads);
        touch();
      })
      .catch(() => {
        if (mine === generation) setConn('offline');
      });
  }

  function openStream() {
    generation += 1;
    const mine = generation;
    if (stream) stream.close();
    stream = null;
    if (retryTimer !== null) clearTimeout(retryTimer);
    retryTimer = null;
    if (typeof window.EventSource !== 'function') {
      // No live stream: re-query every few seconds instead.
      load(mine, { list: [], done: false });
      retryTimer = setTimeout(openStream, SSE_RETRY_MS);
      return;
    }
    setConn('connecting');
    const es = new EventSource(withFilters('logs/stream'));
    stream = es;
    let pending = { list: [], done: true };
    es.onopen = () => {
      if (mine !== generation) return;
      setConn('live');
      // Everything committed from now on comes over the stream; the query fills in the rest.
      pending = { list: [], done: false };
      load(mine, pending);
    };
    es.addEventListener('log', (message) => {
      if (mine !== generation) return;
      let ev;
      try {
        ev = JSON.parse(message.data);
      } catch (err) {
        return;
      }
      if (!pending.done) pending.list.push(ev);
      else arrived(ev);
    });
    es.addEventListener('lagged', () => {
      // The server skipped events for this slow stream: the query has them.
      if (mine !== generation) return;
      pending = { list: [], done: false };
      load(mine, pending);
    });
    es.onerror = () => {
      if (mine !== generation) return;
      setConn('reconnecting');
      // The browser retries by itself unless the server refused the stream; then we do.
      if (es.readyState === EventSource.CLOSED) {
        es.close();
        stream = null;
        retryTimer = setTimeout(openStream, SSE_RETRY_MS);
      }
    };
  }

  // ---- header, legend, chart ------------------------------------------------------------

  function renderCounts(counts) {
    const items = [];
    for (const level of ['critical', 'error', 'warning']) {
      const n = countOf(counts, level);
      const text = level === 'critical' ? n + ' critical' : plural(n, level);
      const li = el('li', 'count count-' + level + (n === 0 ? ' zero' : ''));
      li.append(el('b', null, text.slice(0, text.indexOf(' '))), ' ' + text.slice(text.indexOf(' ') + 1));
      items.push(li);
    }
    document.getElementById('counts').replaceChildren(...items);
    const bad = countOf(counts, 'error') + countOf(counts, 'critical');
    document.title = bad > 0 ? '(' + plural(bad, 'error') + ') Log watcher' : 'Log watcher';
  }

  function renderTotals(counts) {
    const items = shownLevels().map((level) => {
      const li = el('li', 'total total-' + level);
      li.append(el('span', 'swatch'), level + ' ', el('b', null, countOf(counts, level)));
      return li;
    });
    document.getElementById('totals').replaceChildren(...items);
  }

  function niceCeiling(n) {
    if (n <= 1) return 1;
    let p = 1;
    while (p * 10 < n) p *= 10;
    for (const m of [1, 2, 5, 10]) if (m * p >= n) return m * p;
    return 10 * p;
  }

  // chart.rs `deploy_class`: a few fixed classes, never the peer's text itself.
  function deployClass(state) {
    switch (state) {
      case 'succeeded': return 'deploy-succeeded';
      case 'failed': case 'rollback_failed': case 'interrupted': return 'deploy-failed';
      case 'rolled_back': return 'deploy-rolled-back';
      case 'running': case 'queued': return 'deploy-running';
      default: return 'deploy-other';
    }
  }

  // chart.rs `deploy_tip`.
  function deployTip(deploy, started) {
    const services = Array.isArray(deploy.services) && deploy.services.length
      ? 'services: ' + deploy.services.map(String).join(', ')
      : 'no services named';
    return 'deploy: job ' + deploy.job + ' of hook ' + deploy.hook + ' (' + deploy.state + ')\nstarted '
      + new Date(started).toISOString().slice(11, 19) + ' UTC · ' + services;
  }

  // chart.rs `markers`: a line where each deploy within the buckets started, over the bars.
  function deployMarkers(buckets, stepSecs) {
    const marks = svgEl('g', { class: 'deploys' });
    const first = buckets.length ? Date.parse(buckets[0].start) : NaN;
    const spanMs = buckets.length * stepSecs * 1000;
    if (Number.isNaN(first) || !(spanMs > 0)) return marks;
    for (const deploy of deploys) {
      const started = Date.parse(deploy.started_at);
      const offset = started - first;
      if (Number.isNaN(started) || offset < 0 || offset >= spanMs) continue;
      const x = (offset / spanMs) * W;
      const g = svgEl('g', { class: 'deploy ' + deployClass(String(deploy.state)) });
      const tip = svgEl('title', {});
      tip.textContent = deployTip(deploy, started);
      g.append(
        tip,
        svgEl('rect', { class: 'deploy-hit', x: (x - MARKER_HIT / 2).toFixed(1), y: 0, width: MARKER_HIT, height: H }),
        svgEl('line', { class: 'deploy-line', x1: x.toFixed(1), y1: 0, x2: x.toFixed(1), y2: H }),
      );
      marks.append(g);
    }
    return marks;
  }

  // render.rs `deploys_note`.
  function renderDeploysNote(error) {
    deploysNote.hidden = !error;
    deploysNote.textContent = error ? 'Deploy markers may be out of date: ' + error : '';
  }

  function renderChart(series) {
    const buckets = Array.isArray(series.buckets) ? series.buckets : [];
    const levels = shownLevels();
    const totals = buckets.map((b) => levels.reduce((sum, level) => sum + countOf(b.counts, level), 0));
    const scale = niceCeiling(Math.max(0, ...totals));
    const yLabels = el('div', 'chart-y');
    yLabels.append(el('span', 'ylabel', scale), el('span', 'ylabel', '0'));
    const svg = svgEl('svg', {
      class: 'chart-svg',
      viewBox: '0 0 ' + W + ' ' + H,
      preserveAspectRatio: 'none',
      role: 'img',
      'aria-label': 'Lines read per minute over the last hour, by level',
    });
    svg.append(
      svgEl('line', { class: 'grid', x1: 0, y1: 0.5, x2: W, y2: 0.5 }),
      svgEl('line', { class: 'grid', x1: 0, y1: H / 2, x2: W, y2: H / 2 }),
      svgEl('line', { class: 'axis', x1: 0, y1: H - 0.5, x2: W, y2: H - 0.5 }),
    );
    const bars = svgEl('g', { class: 'bars' });
    const slot = W / Math.max(1, buckets.length);
    const width = slot * BAR_FILL;
    buckets.forEach((bucket, i) => {
      const x = i * slot + (slot - width) / 2;
      const parts = levels.filter((level) => countOf(bucket.counts, level) > 0)
        .map((level) => countOf(bucket.counts, level) + ' ' + level);
      const g = svgEl('g', { class: 'bar' });
      const tip = svgEl('title', {});
      tip.textContent = String(bucket.start).slice(11, 16) + ' UTC: ' + (parts.length ? parts.join(', ') : 'no lines');
      g.append(tip, svgEl('rect', { class: 'hit', x: x.toFixed(1), y: 0, width: width.toFixed(1), height: H }));
      let y = H;
      for (const level of levels) {
        const n = countOf(bucket.counts, level);
        if (n === 0) continue;
        const h = Math.min(Math.max((n / scale) * H, SEG_MIN), y);
        y -= h;
        g.append(svgEl('rect', {
          class: 'seg seg-' + level,
          x: x.toFixed(1),
          y: y.toFixed(1),
          width: width.toFixed(1),
          height: h.toFixed(1),
        }));
      }
      bars.append(g);
    });
    svg.append(bars, deployMarkers(buckets, Number(series.step_secs) || STEP));
    const xLabels = el('div', 'chart-x');
    const windowSecs = Number(series.window_secs) || WINDOW;
    for (let k = 0; k <= 4; k += 1) {
      const secs = Math.floor((windowSecs * (4 - k)) / 4);
      xLabels.append(el('span', 'xlabel x' + k, secs === 0 ? 'now' : span(secs) + ' ago'));
    }
    document.getElementById('chart').replaceChildren(yLabels, svg, xLabels);
  }

  function renderSources(sources) {
    const details = document.getElementById('sources');
    const failing = sources.filter((s) => s.error).length;
    const waiting = sources.filter((s) => !s.error && !s.open).length;
    const total = sources.length;
    let cls = 'ok';
    let text = plural(total, 'source') + ' open';
    if (total === 0) {
      cls = 'none';
      text = 'no sources';
    } else if (failing > 0) {
      cls = 'bad';
      text = failing + ' of ' + total + ' failing';
    } else if (waiting > 0) {
      cls = 'warn';
      text = waiting + ' of ' + total + ' waiting';
    }
    // Only the class, the summary text and the list change, so an open list stays open.
    details.className = 'sources sources-' + cls;
    document.getElementById('sources-text').textContent = text;
    const items = sources.map((s) => {
      const state = s.error ? 'failing' : s.open ? 'open' : 'waiting';
      const li = el('li', 'source source-' + state);
      // render.rs: the Docker engine's own entry has no service; a container shows its name.
      const name = s.service ? String(s.service) : 'docker engine';
      li.append(
        el('span', 'source-service ' + serviceClass(name), name), ' ',
        el('code', 'source-path', s.container || s.path), ' ',
        el('span', 'source-state', state),
      );
      if (s.error) li.append(' ', el('span', 'source-error', s.error));
      return li;
    });
    details.querySelector('.source-list').replaceChildren(...items);
  }

  function renderServices(names) {
    const all = new Set([...serviceSelect.options].map((o) => o.value).filter((v) => v));
    for (const name of names) if (name) all.add(String(name));
    if (filters.service) all.add(filters.service);
    const sorted = [...all].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const current = [...serviceSelect.options].map((o) => o.value).filter((v) => v);
    if (sorted.join('\u0000') === current.join('\u0000')) return; // keep an open select undisturbed
    const options = [el('option', null, 'all services')];
    options[0].value = '';
    for (const name of sorted) {
      const option = el('option', null, name);
      option.value = name;
      if (name === filters.service) option.selected = true;
      options.push(option);
    }
    serviceSelect.replaceChildren(...options);
    serviceSelect.value = filters.service;
  }

  function refreshStats() {
    const mine = generation;
    const seriesUrl = 'summary/series?' + new URLSearchParams(Object.assign(
      { window: String(WINDOW), step: String(STEP) },
      filters.service ? { service: filters.service } : {},
    )).toString();
    const deploysUrl = filters.service
      ? 'api/deploys?' + new URLSearchParams({ service: filters.service }).toString()
      : 'api/deploys';
    return Promise.all([
      fetchJson('summary?window=' + WINDOW),
      fetchJson(seriesUrl),
      fetchJson('api/sources'),
      // Markers are a garnish: when they cannot be read, the chart keeps the last ones.
      DEPLOYS ? fetchJson(deploysUrl).catch(() => null) : Promise.resolve(null),
    ])
      .then(([summary, series, sourceList, marks]) => {
        if (mine !== generation) return;
        if (marks) {
          deploys = Array.isArray(marks.deploys) ? marks.deploys : [];
          renderDeploysNote(marks.error ? String(marks.error) : '');
        }
        const counts = filters.service ? (summary.services || {})[filters.service] || {} : summary.totals;
        const sources = Array.isArray(sourceList.sources) ? sourceList.sources : [];
        renderServices([...Object.keys(summary.services || {}), ...sources.map((s) => s.service)]);
        renderCounts(counts);
        renderTotals(counts);
        renderChart(series);
        renderSources(sources);
        updates += 1;
        body.dataset.updates = String(updates);
        touch();
      })
      .catch(() => {
        if (connState !== 'live') setConn('offline');
      });
  }

  // A burst of events refreshes the counts once, a second later.
  function refreshStatsSoon() {
    if (statsSoon !== null) return;
    statsSoon = setTimeout(() => {
      statsSoon = null;
      refreshStats();
    }, 1000);
  }

  // ---- "updated N s ago" ----------------------------------------------------------------

  function touch() {
    lastUpdate = new Date().toISOString();
    const node = document.querySelector('time.updated');
    node.setAttribute('datetime', lastUpdate.slice(0, 19) + 'Z');
    node.title = lastUpdate.slice(0, 19) + 'Z';
    tick();
  }

  function tick() {
    const node = document.querySelector('time.updated');
    const at = Date.parse(node.getAttribute('datetime'));
    node.textContent = span(Number.isNaN(at) ? 0 : (Date.now() - at) / 1000) + ' ago';
  }

  // ---- wiring ---------------------------------------------------------------------------

  document.documentElement.classList.add('js');
  followButton.hidden = false;
  followButton.addEventListener('click', () => setFollowing(!following));
  newButton.addEventListener('click', () => setFollowing(true));
  tail.addEventListener('scroll', () => {
    // Scrolling up to read pauses; scrolling back to the newest line follows again.
    if (following && !atBottom()) setFollowing(false);
    else if (!following && atBottom() && held.length === 0) setFollowing(true);
  }, { passive: true });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    applyFilters();
  });
  serviceSelect.addEventListener('change', applyFilters);
  levelSelect.addEventListener('change', applyFilters);
  textInput.addEventListener('input', () => {
    clearTimeout(textTimer);
    textTimer = setTimeout(applyFilters, TEXT_DEBOUNCE_MS);
  });
  // What the URL says, even where the browser restored other form values on a reload.
  levelSelect.value = filters.level;
  serviceSelect.value = filters.service;
  textInput.value = filters.q;
  body.dataset.following = 'true';

  setInterval(tick, 1000);
  setInterval(refreshStats, STATS_MS);
  openStream();
  refreshStats();
})();
