// The live half of the status page. The server renders complete HTML; this script keeps it
// current without reloading: it listens to the `status` events of `events` (the same JSON
// as `api/status`), falls back to polling `api/status` every 5 s when the stream fails or
// EventSource is missing, and ticks every "N s ago" once a second. It mirrors render.rs:
// same elements, same classes, same words. Every text is set with textContent; nothing
// from the server ever goes through innerHTML. The element builders, `plural`, `span` and
// `fetchJson` come from service_kit's page prelude, which the page writes ahead of this.
(() => {
  'use strict';

  // service_kit's page prelude, written ahead of this script.
  const { SVG_NS, el, svgEl, plural, span, fetchJson } = pagePrelude;
  const POLL_MS = 5000;
  const SSE_RETRY_MS = 15000;
  const SLOTS = 60; // check::RECENT_SAMPLES (check/state.rs)
  const W = 300;
  const H = 56;
  const PAD = 4;
  const MIN_SCALE_MS = 10;
  const FAVICON = { healthy: '%232e9e44', degraded: '%23d4a017', unhealthy: '%23d0312d' };

  const body = document.body;
  const banner = document.getElementById('banner');
  const main = document.getElementById('services');
  const conn = document.getElementById('conn');

  let updates = 0;
  let lastTimestamp = body.dataset.rendered || '';
  let clockOffset = 0; // server time minus browser time, when they disagree by > 2 s
  let pollTimer = null;
  let retryTimer = null;
  let stream = null;

  // ---- small builders -------------------------------------------------------------------

  function now() {
    return Date.now() + clockOffset;
  }

  function secondsSince(at) {
    const t = Date.parse(at);
    return Number.isNaN(t) ? 0 : (now() - t) / 1000;
  }

  function relTime(className, at, mode) {
    const node = el('time', className);
    node.setAttribute('datetime', at);
    node.title = at;
    node.dataset.rel = mode;
    node.textContent = mode === 'ago' ? span(secondsSince(at)) + ' ago' : span(secondsSince(at));
    return node;
  }

  function isLate(service) {
    if (!service.last_checked) return false;
    return secondsSince(service.last_checked) > 2 * service.interval_secs + 10;
  }

  // ---- banner ---------------------------------------------------------------------------

  function countsOf(view) {
    const counts = { up: 0, degraded: 0, down: 0, unknown: 0 };
    for (const s of view.services) {
      if (Object.prototype.hasOwnProperty.call(counts, s.status)) counts[s.status] += 1;
    }
    return counts;
  }

  function bannerOf(view, counts) {
    if (!view.ready && counts.down === 0) {
      return ['starting', 'starting', 'Waiting for the first round of checks'];
    }
    if (view.status === 'healthy') {
      if (view.services.length === 0) return ['healthy', 'healthy', 'No endpoints configured'];
      return ['healthy', 'healthy', 'All ' + plural(counts.up, 'service') + ' up'];
    }
    if (view.status === 'degraded') {
      return ['degraded', 'degraded', plural(counts.degraded, 'service') + ' degraded'];
    }
    return ['unhealthy', 'unhealthy', plural(counts.down, 'service') + ' down'];
  }

  function renderBanner(view) {
    const counts = countsOf(view);
    const [cls, word, sentence] = bannerOf(view, counts);
    banner.className = 'banner overall-' + cls;
    banner.dataset.status = cls;
    document.getElementById('title').textContent = view.title;
    document.getElementById('overall-word').textContent = word;
    document.getElementById('overall-text').textContent = sentence;
    const list = document.getElementById('counts');
    const items = [];
    for (const status of ['up', 'degraded', 'down', 'unknown']) {
      if (status === 'unknown' && counts.unknown === 0) continue;
      const li = el('li', 'count count-' + status);
      li.append(el('b', null, counts[status]), ' ' + status);
      items.push(li);
    }
    list.replaceChildren(...items);
    let title = view.title;
    if (counts.down > 0) title = '(' + counts.down + ' down) ' + title;
    else if (counts.degraded > 0) title = '(' + counts.degraded + ' degraded) ' + title;
    document.title = title;
    const favicon = document.getElementById('favicon');
    if (favicon) {
      favicon.href = "data:image/svg+xml,%3Csvg xmlns='" + SVG_NS + "' viewBox='0 0 16 16'%3E%3Ccircle cx='8' cy='8' r='7' fill='"
        + (FAVICON[cls] || '%238a8f98') + "'/%3E%3C/svg%3E";
    }
    const updated = document.querySelector('time.updated');
    if (updated) updated.replaceWith(relTime('updated', view.timestamp, 'ago'));
  }

  // ---- cards ----------------------------------------------------------------------------

  function fact(label, className, content) {
    const div = el('div', 'fact');
    const dd = el('dd', className);
    if (typeof content === 'string') dd.textContent = content;
    else dd.append(content);
    div.append(el('dt', null, label), dd);
    return div;
  }

  function uptimeClass(p) {
    if (p >= 99) return 'uptime uptime-good';
    if (p >= 95) return 'uptime uptime-warn';
    return 'uptime uptime-bad';
  }

  function certText(days) {
    if (days >= 0) return plural(days, 'day') + ' left';
    return 'expired ' + plural(-days, 'day') + ' ago';
  }

  // The tooltip of a maintenance badge: the window over the service that ends last.
  function maintenanceTitle(name, windows) {
    let last = null;
    for (const w of windows || []) {
      if ((w.services || []).includes(name) && (last === null || String(w.until) >= String(last.until))) last = w;
    }
    if (last === null) return 'maintenance window';
    return 'maintenance window until ' + last.until + (last.reason ? ': ' + last.reason : '');
  }

  // Whether a deploy touched the service (a deploy naming none touched them all).
  function deployTouches(deploy, name) {
    const services = deploy.services || [];
    return services.length === 0 || services.includes(name);
  }

  // render.rs's marker_x: between the samples around it, at the newest when newer, nowhere
  // when older than the oldest.
  function markerX(samples, at, xOf, step) {
    if (samples.length === 0 || at < samples[0].at) return null;
    const last = samples.length - 1;
    if (at >= samples[last].at) return xOf(last);
    for (let i = 0; i < last; i += 1) {
      const a = samples[i].at;
      const b = samples[i + 1].at;
      if (at >= a && at < b) return xOf(i) + ((at - a) / (b - a)) * step;
    }
    return null;
  }

  function sparkline(s, deploys) {
    const samples = (s.history || []).slice(-SLOTS);
    const figure = el('figure', 'spark');
    const svg = svgEl('svg', {
      class: 'spark-svg',
      viewBox: '0 0 ' + W + ' ' + H,
      role: 'img',
      'aria-label': 'Response times of the last ' + samples.length + ' checks',
    });
    const maxMs = Math.max(0, ...samples.map((p) => p.ms));
    const scale = Math.max(MIN_SCALE_MS, maxMs);
    const step = (W - 2 * PAD) / (SLOTS - 1);
    const point = (i, ms) => [
      W - PAD - (samples.length - 1 - i) * step,
      H - PAD - (ms / scale) * (H - 2 * PAD),
    ];
    svg.append(svgEl('line', { class: 'spark-base', x1: PAD, y1: H - PAD, x2: W - PAD, y2: H - PAD }));
    for (const deploy of deploys || []) {
      if (!deployTouches(deploy, s.name)) continue;
      const at = Date.parse(deploy.started_at);
      if (Number.isNaN(at)) continue;
      const x = markerX(samples, at / 1000, (i) => point(i, 0)[0], step);
      if (x === null) continue;
      const state = String(deploy.state);
      const marker = svgEl('line', {
        class: 'deploy deploy-' + state.replace(/[^a-z_]/g, ''),
        x1: x.toFixed(1),
        y1: PAD / 2,
        x2: x.toFixed(1),
        y2: H - PAD,
      });
      const tip = svgEl('title', {});
      tip.textContent = 'deploy: job ' + deploy.job + ' (' + state + ')';
      marker.append(tip);
      svg.append(marker);
    }
    if (samples.length > 1) {
      const points = samples.map((p, i) => point(i, p.ms).map((v) => v.toFixed(1)).join(',')).join(' ');
      svg.append(svgEl('polyline', { class: 'spark-line', points: points }));
    }
    samples.forEach((p, i) => {
      const [x, y] = point(i, p.ms);
      const dot = svgEl('circle', {
        class: 'pt pt-' + p.status,
        cx: x.toFixed(1),
        cy: y.toFixed(1),
        r: p.status === 'up' ? 1.8 : 3,
      });
      const tip = svgEl('title', {});
      tip.textContent = new Date(p.at * 1000).toLocaleTimeString() + ' · ' + p.ms + ' ms · ' + p.status;
      dot.append(tip);
      svg.append(dot);
    });
    figure.append(svg);
    let caption = 'no checks yet';
    if (samples.length > 0) {
      const total = samples.reduce((sum, p) => sum + p.ms, 0);
      caption = 'last ' + plural(samples.length, 'check') + ' · avg ' + Math.floor(total / samples.length)
        + ' ms · max ' + maxMs + ' ms';
    }
    figure.append(el('figcaption', 'spark-caption', caption));
    return figure;
  }

  function renderCard(s, view) {
    const status = String(s.status);
    const card = el('article', 'card status-' + status);
    card.dataset.name = s.name;
    card.dataset.status = status;

    const head = el('header', 'card-head');
    const dot = el('span', 'dot');
    dot.setAttribute('aria-hidden', 'true');
    head.append(dot, el('h2', 'name', s.name), el('span', 'badge', status));
    if (s.discovered) {
      const found = el('span', 'found', 'discovered');
      found.title = "found among the Compose project's containers";
      head.append(found);
    }
    if (s.maintenance) {
      const maint = el('span', 'maint', 'maintenance');
      maint.title = maintenanceTitle(s.name, view.maintenance);
      head.append(maint);
    }
    card.append(head);

    const target = el('p', 'target');
    target.append(el('span', 'kind', s.type), ' ', el('code', 'url', s.target));
    card.append(target);

    const facts = el('dl', 'facts');
    facts.append(fact('Latency', 'latency', s.response_time_ms == null ? '–' : s.response_time_ms + ' ms'));
    if (s.uptime_24h == null) facts.append(fact('Uptime 24 h', 'uptime', '–'));
    else facts.append(fact('Uptime 24 h', uptimeClass(s.uptime_24h), s.uptime_24h.toFixed(2) + ' %'));
    facts.append(fact('Checked', null, s.last_checked
      ? relTime(isLate(s) ? 'ago late' : 'ago', s.last_checked, 'ago')
      : el('span', 'ago', 'not yet')));
    if (s.http_status != null) facts.append(fact('HTTP', 'http', String(s.http_status)));
    if (s.cert_days_left != null) {
      facts.append(fact('Certificate', s.cert_days_left < 14 ? 'cert cert-warn' : 'cert', certText(s.cert_days_left)));
    }
    card.append(facts);
    card.append(sparkline(s, view.deploys));

    if (status === 'down') {
      card.append(el('p', 'message message-error', s.error || 'failing'));
    } else if (status === 'degraded') {
      card.append(el('p', 'message message-detail', s.detail || s.error || 'slow'));
    } else if (s.http_status == null && s.detail) {
      card.append(el('p', 'message message-note', s.detail));
    }
    if (s.status_since && (status === 'down' || status === 'degraded')) {
      const since = el('p', 'since', status + ' for ');
      since.append(relTime('for', s.status_since, 'for'));
      if (s.consecutive_failures > 0) since.append(' · ' + plural(s.consecutive_failures, 'failure') + ' in a row');
      card.append(since);
    }
    if (s.last_error && status !== 'down') {
      const last = el('p', 'last-error', 'Last error ');
      last.append(relTime('at', s.last_error.at, 'ago'), ': ', el('span', 'last-error-text', s.last_error.message));
      card.append(last);
    }
    return card;
  }

  // The cards grouped by Compose project (in order of first appearance) under headings, as
  // the server draws them; no headings when no service has a project.
  function groupedCards(view) {
    if (view.services.every((s) => !s.project)) return view.services.map((s) => renderCard(s, view));
    const groups = new Map();
    for (const s of view.services) {
      const key = s.project || '';
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(s);
    }
    const nodes = [];
    for (const [project, members] of groups) {
      if (project === '') {
        nodes.push(el('h2', 'group', 'Other checks'));
      } else {
        const heading = el('h2', 'group', 'Compose project ');
        heading.append(el('span', 'group-name', project));
        nodes.push(heading);
      }
      for (const s of members) nodes.push(renderCard(s, view));
    }
    return nodes;
  }

  // ---- applying a status document -------------------------------------------------------

  function syncClock(timestamp) {
    const server = Date.parse(timestamp);
    if (Number.isNaN(server)) return;
    const offset = server - Date.now();
    clockOffset = Math.abs(offset) > 2000 ? offset : 0;
  }

  function apply(view, how) {
    if (!view || typeof view !== 'object' || !Array.isArray(view.services)) return;
    // Events and polls may cross; never go back to an older document.
    if (lastTimestamp && String(view.timestamp) < lastTimestamp) return;
    lastTimestamp = String(view.timestamp);
    syncClock(view.timestamp);
    renderBanner(view);
    if (view.services.length === 0) {
      const empty = el('p', 'empty', 'No endpoints are configured: add some under ');
      empty.append(el('code', null, '[checks] endpoints'), '.');
      main.replaceChildren(empty);
    } else {
      main.replaceChildren(...groupedCards(view));
    }
    updates += 1;
    body.dataset.updates = String(updates);
    body.dataset.source = how;
    body.dataset.rendered = lastTimestamp;
  }

  function tick() {
    for (const node of document.querySelectorAll('time[data-rel]')) {
      const seconds = secondsSince(node.getAttribute('datetime'));
      node.textContent = node.dataset.rel === 'ago' ? span(seconds) + ' ago' : span(seconds);
    }
  }

  // ---- connection: event stream first, polling as the fallback --------------------------

  const CONN_TEXT = {
    connecting: 'connecting…',
    live: 'live',
    reconnecting: 'reconnecting…',
    polling: 'polling every 5 s',
    offline: 'offline, retrying…',
  };

  function setConn(state) {
    body.dataset.conn = state;
    conn.className = 'conn conn-' + state;
    conn.textContent = CONN_TEXT[state] || state;
  }

  function poll() {
    fetchJson('api/status')
      .then((view) => {
        apply(view, 'poll');
        if (pollTimer !== null && !stream) setConn('polling');
      })
      .catch(() => {
        if (pollTimer !== null) setConn('offline');
      });
  }

  function startPolling() {
    if (pollTimer !== null) return;
    poll();
    pollTimer = setInterval(poll, POLL_MS);
  }

  function stopPolling() {
    if (pollTimer === null) return;
    clearInterval(pollTimer);
    pollTimer = null;
  }

  function openStream() {
    retryTimer = null;
    if (typeof window.EventSource !== 'function') {
      setConn('polling');
      startPolling();
      return;
    }
    setConn('connecting');
    const es = new EventSource('events');
    stream = es;
    es.addEventListener('status', (event) => {
      let view;
      try {
        view = JSON.parse(event.data);
      } catch (err) {
        return;
      }
      apply(view, 'sse');
      setConn('live');
      stopPolling();
    });
    es.onopen = () => {
      setConn('live');
      stopPolling();
    };
    es.onerror = () => {
      setConn('reconnecting');
      startPolling();
      // The browser retries by itself unless the server refused the stream; then we do.
      if (es.readyState === EventSource.CLOSED) {
        es.close();
        stream = null;
        if (retryTimer === null) retryTimer = setTimeout(openStream, SSE_RETRY_MS);
      }
    };
  }

  setInterval(tick, 1000);
  openStream();
})();
