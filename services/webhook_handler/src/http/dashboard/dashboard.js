// The live half of the webhook handler's page. The server renders complete HTML; this script
// keeps it current without reloading:
// - every 2 s it polls `hooks`, `deliveries` and `jobs` (same origin: the page's own auth
//   applies) and redraws the three tables, the counts and the title;
// - the output panel shows one job: the one a link asked for (`?job=ID`, kept in the URL),
//   else the newest running job, else the newest job. A running job's output follows
//   `jobs/ID/stream` (event `output` {"text"}, then `end` {"state"}); an ended one's is
//   loaded from `jobs/ID/log`;
// - every "N s ago" ticks once a second.
// It mirrors render.rs: same elements, same classes, same words. Every text is set with
// textContent; nothing the server sends ever goes through innerHTML. The element builders,
// `plural`, `span` and `fetchJson` come from service_kit's page prelude, which the page
// writes ahead of this.
(() => {
  'use strict';

  // service_kit's page prelude, written ahead of this script.
  const { el, plural, span, fetchJson } = pagePrelude;
  const POLL_MS = 2000;
  const SSE_RETRY_MS = 3000;
  const MAX_OUTPUT = 1000000; // characters of output kept on the page

  const body = document.body;
  const JOB_LIMIT = Number(body.dataset.jobs) || 50;
  const DELIVERY_LIMIT = Number(body.dataset.deliveries) || 50;

  const conn = document.getElementById('conn');
  const panel = document.getElementById('output-panel');
  const outputJob = document.getElementById('output-job');
  const output = document.getElementById('output');
  const outputBox = document.getElementById('output-box');
  const rawLink = document.getElementById('output-raw');
  const stepsList = document.getElementById('steps');
  const followLink = document.getElementById('output-follow');

  let pinned = readPinned();
  // The job the output panel shows, its state as last seen, and how its output came.
  let shown = { id: Number(panel.dataset.job) || null, state: panel.dataset.state || 'none', job: null };
  let stream = null;
  let streamRetry = null;
  let lastJobs = [];
  let lastAnswers = ['', '', ''];
  let updates = 0;
  let polling = false;

  // ---- words, the same as render.rs ------------------------------------------------------

  function label(name) {
    return String(name).replace(/_/g, ' ');
  }

  function isFinal(state) {
    return state !== 'queued' && state !== 'running';
  }

  function clock(at) {
    const text = String(at);
    if (text.length < 19) return text;
    const today = new Date().toISOString().slice(0, 10);
    const date = text.slice(0, 10);
    const time = text.slice(11, 19);
    return date === today ? time : date + ' ' + time;
  }

  function secondsSince(at) {
    const t = Date.parse(at);
    return Number.isNaN(t) ? 0 : (Date.now() - t) / 1000;
  }

  function relText(at, mode) {
    return mode === 'ago' ? span(secondsSince(at)) + ' ago' : span(secondsSince(at));
  }

  function durationText(ms) {
    if (ms < 1000) return ms + ' ms';
    if (ms < 60000) return Math.floor(ms / 1000) + '.' + Math.floor((ms % 1000) / 100) + ' s';
    if (ms < 3600000) return Math.floor(ms / 60000) + ' min ' + Math.floor((ms % 60000) / 1000) + ' s';
    return Math.floor(ms / 3600000) + ' h ' + Math.floor((ms % 3600000) / 60000) + ' min';
  }

  function retriesText(n) {
    if (n === 0) return 'no retries';
    return n === 1 ? '1 retry' : n + ' retries';
  }

  function shortCommit(commit) {
    return Array.from(String(commit)).slice(0, 7).join('');
  }

  function shortRef(ref) {
    const text = String(ref);
    return text.startsWith('refs/heads/') ? text.slice('refs/heads/'.length) : text;
  }

  function strings(list) {
    return Array.isArray(list) ? list.filter((item) => typeof item === 'string') : [];
  }

  function filtersText(filters) {
    const f = filters || {};
    const parts = [];
    for (const key of ['events', 'repos', 'branches']) {
      const list = strings(f[key]);
      if (list.length) parts.push(key + ' ' + list.join(', '));
    }
    if (Array.isArray(f.action_events)) parts.push('runs on ' + strings(f.action_events).join(', '));
    return parts.length ? parts.join(' · ') : 'all deliveries';
  }

  function triggerText(job) {
    let text = job.retry_of ? job.trigger + ' of #' + job.retry_of : String(job.trigger);
    if (job.attempts > 1) text += ' · ' + job.attempts + ' attempts';
    return text;
  }

  // ---- small builders --------------------------------------------------------------------

  function cell(className, ...children) {
    const td = el('td', className);
    td.append(...children);
    return td;
  }

  function clockTime(at) {
    const node = el('time', null, clock(at));
    node.setAttribute('datetime', at);
    node.title = at;
    return node;
  }

  function relTime(className, at, mode) {
    const node = el('time', className, relText(at, mode));
    node.setAttribute('datetime', at);
    node.title = at;
    node.dataset.rel = mode;
    return node;
  }

  function jobLink(id) {
    const a = el('a', 'job-link', '#' + id);
    a.href = '?job=' + id + '#output-panel';
    a.dataset.job = String(id);
    return a;
  }

  function badge(kind, name) {
    return el('span', 'badge ' + kind + '-' + name, label(name));
  }

  function noneRow(columns, text) {
    const tr = el('tr', 'none');
    const td = el('td', null, text);
    td.colSpan = columns;
    tr.append(td);
    return tr;
  }

  // ---- the tables ------------------------------------------------------------------------

  function hookRow(hook) {
    const tr = el('tr', 'hook');
    tr.dataset.id = hook.id;
    const provider = cell('h-provider', String(hook.provider) + ' ', el('span', 'sub', hook.verify));
    const networks = strings(hook.allowed_ips);
    if (networks.length) provider.append(' ', el('span', 'sub', 'from ' + networks.join(', ')));
    const notify = strings(hook.notify);
    const job = cell('h-job');
    for (const [slot, id] of [['running', hook.running], ['waiting', hook.waiting]]) {
      if (id === null || id === undefined) continue;
      const holder = el('span', 'slot slot-' + slot, slot + ' ');
      holder.append(jobLink(id));
      job.append(holder, ' ');
    }
    if ((hook.running === null || hook.running === undefined) && (hook.waiting === null || hook.waiting === undefined)) {
      job.append(el('span', 'slot slot-idle', 'idle'));
    }
    const last = cell('h-last');
    const delivery = hook.last_delivery;
    if (delivery && typeof delivery === 'object') {
      last.append(badge('outcome', delivery.outcome), ' ', relTime('ago', delivery.received_at, 'ago'));
      if (typeof delivery.reason === 'string') last.append(el('span', 'why', delivery.reason));
    } else {
      last.append(el('span', 'sub', 'none yet'));
    }
    tr.append(
      cell('h-id', el('b', 'hook-id', hook.id), ' ', el('code', 'hook-path', 'POST ' + hook.path)),
      provider,
      cell('h-filters', filtersText(hook.filters)),
      cell('h-action', el('code', 'argv', hook.action), ' ',
        el('span', 'sub', 'timeout ' + (Number(hook.timeout_secs) || 0) + ' s · ' + retriesText(Number(hook.retries) || 0))),
      cell('h-notify', notify.length ? notify.join(', ') : '–'),
      job,
      last,
    );
    return tr;
  }

  function repoCell(job) {
    const td = cell('j-repo', el('span', 'repo', job.repo === undefined || job.repo === null ? '–' : job.repo));
    if (typeof job.commit === 'string') td.append(el('span', 'commit', '@' + shortCommit(job.commit)));
    const name = typeof job.branch === 'string' ? job.branch : job.tag;
    if (typeof name === 'string') td.append(' ', el('span', 'branch', '(' + name + ')'));
    return td;
  }

  function jobRow(job) {
    const state = String(job.state);
    const tr = el('tr', 'job job-' + state + (job.id === shown.id ? ' shown' : ''));
    tr.dataset.id = String(job.id);
    let duration;
    if (typeof job.duration_ms === 'number') duration = cell('j-duration', durationText(job.duration_ms));
    else if (state === 'running' && job.started_at) duration = cell('j-duration', relTime('elapsed', job.started_at, 'for'));
    else duration = cell('j-duration', '–');
    tr.append(
      cell('j-id', jobLink(job.id)),
      cell('j-hook', job.hook),
      cell('j-state', badge('state', state)),
      repoCell(job),
      cell('j-trigger', triggerText(job)),
      cell('j-created', clockTime(job.created_at)),
      duration,
      cell('j-exit', typeof job.exit_code === 'number' ? String(job.exit_code) : '–'),
      cell('j-reason', typeof job.reason === 'string' ? job.reason : ''),
    );
    return tr;
  }

  function deliveryRow(d) {
    const outcome = String(d.outcome);
    const tr = el('tr', 'delivery outcome-' + outcome);
    const repo = cell('d-repo');
    const hasRepo = typeof d.repo === 'string';
    const hasRef = typeof d.ref === 'string';
    if (!hasRepo && !hasRef) repo.append('–');
    else {
      repo.append(el('span', 'repo', hasRepo ? d.repo : '–'));
      if (hasRef) repo.append(' ', el('span', 'branch', '(' + shortRef(d.ref) + ')'));
    }
    tr.append(
      cell('d-time', clockTime(d.received_at)),
      cell('d-hook', d.hook),
      cell('d-outcome', badge('outcome', outcome)),
      cell('d-why', typeof d.reason === 'string' ? d.reason : ''),
      cell('d-event', typeof d.event === 'string' ? d.event : '–'),
      repo,
      cell('d-remote', el('code', null, d.remote)),
      cell('d-job', typeof d.job_id === 'number' ? jobLink(d.job_id) : '–'),
    );
    return tr;
  }

  function renderHooks(hooks) {
    document.getElementById('hooks').replaceChildren(
      ...(hooks.length ? hooks.map(hookRow) : [noneRow(7, 'No hooks are configured.')]));
    document.getElementById('hook-count').textContent = plural(hooks.length, 'hook');
  }

  function renderJobs(jobs) {
    document.getElementById('jobs').replaceChildren(
      ...(jobs.length ? jobs.map(jobRow) : [noneRow(9, 'No jobs yet.')]));
    const count = (states) => jobs.filter((j) => states.includes(j.state)).length;
    const counts = [['running', count(['running'])], ['queued', count(['queued'])], ['failed', count(['failed', 'rollback_failed'])]];
    document.getElementById('counts').replaceChildren(...counts.map(([word, n]) => {
      const li = el('li', 'count count-' + word + (n === 0 ? ' zero' : ''));
      li.append(el('b', null, n), ' ' + word);
      return li;
    }));
    document.title = counts[0][1] > 0 ? '(' + counts[0][1] + ' running) Webhook handler' : 'Webhook handler';
  }

  function renderDeliveries(deliveries) {
    document.getElementById('deliveries').replaceChildren(
      ...(deliveries.length ? deliveries.map(deliveryRow) : [noneRow(8, 'No deliveries yet.')]));
  }

  function markShownRow() {
    for (const tr of document.querySelectorAll('#jobs tr.job')) {
      tr.classList.toggle('shown', Number(tr.dataset.id) === shown.id);
    }
  }

  // ---- the output panel ------------------------------------------------------------------

  function readPinned() {
    const id = Number((new URLSearchParams(location.search).get('job') || '').trim());
    return Number.isInteger(id) && id > 0 ? id : null;
  }

  function setMode(mode) {
    body.dataset.output = mode;
    panel.classList.toggle('live', mode === 'live');
  }

  function closeStream() {
    if (streamRetry !== null) clearTimeout(streamRetry);
    streamRetry = null;
    if (stream) stream.close();
    stream = null;
  }

  function renderOutputHead(id, job) {
    panel.dataset.job = id === null ? '' : String(id);
    panel.dataset.state = job ? String(job.state) : id === null ? 'none' : 'missing';
    if (job) {
      outputJob.replaceChildren('job ', el('b', 'output-id', '#' + id), ' ', el('span', 'sep', '·'), ' ',
        el('span', 'output-hook', job.hook), ' ', badge('state', String(job.state)));
    } else {
      outputJob.textContent = id === null ? 'no job has run yet' : 'no job #' + id;
    }
    rawLink.hidden = !job;
    rawLink.href = job ? 'jobs/' + id + '/log' : '';
    followLink.hidden = pinned === null;
    renderSteps(job && Array.isArray(job.steps) ? job.steps : []);
  }

  // A deploy's steps, as the server draws them: name, outcome, time taken, detail.
  function renderSteps(steps) {
    const known = ['running', 'ok', 'failed', 'skipped'];
    stepsList.replaceChildren(...steps.map((step) => {
      const outcome = known.includes(step.outcome) ? step.outcome : 'unknown';
      const time = el('span', 'step-time');
      if (step.finished_at) {
        const ms = Date.parse(step.finished_at) - Date.parse(step.started_at);
        time.textContent = durationText(Number.isFinite(ms) ? Math.max(0, ms) : 0);
      } else {
        time.append(relTime('elapsed', step.started_at, 'for'));
      }
      const li = el('li', 'step step-' + outcome);
      li.append(el('span', 'step-name', step.name), ' ', el('span', 'badge step-outcome', outcome), ' ',
        time, ' ', el('span', 'step-detail', step.detail || ''));
      return li;
    }));
    stepsList.hidden = steps.length === 0;
  }

  // Output text is kept as text nodes; the oldest characters go beyond MAX_OUTPUT.
  function appendOutput(text) {
    if (!text) return;
    output.append(document.createTextNode(text));
    if (output.textContent.length > MAX_OUTPUT) output.textContent = output.textContent.slice(-MAX_OUTPUT);
  }

  function loadLog(id) {
    setMode('loading');
    fetch('jobs/' + id + '/log', { cache: 'no-store' })
      .then((response) => (response.ok ? response.text() : Promise.reject(new Error('HTTP ' + response.status))))
      .then((text) => {
        if (shown.id !== id || stream) return;
        output.textContent = text.length > MAX_OUTPUT ? text.slice(-MAX_OUTPUT) : text;
        setMode('log');
      })
      .catch(() => {
        if (shown.id === id) setMode('error');
      });
  }

  function openStream(id) {
    closeStream();
    if (typeof window.EventSource !== 'function') {
      // No live stream: the log is reloaded on every poll instead (see syncOutput).
      loadLog(id);
      return;
    }
    const es = new EventSource('jobs/' + id + '/stream');
    stream = es;
    setMode('connecting');
    // Every (re)connection starts with the whole tail so far.
    es.onopen = () => {
      if (stream !== es) return;
      output.textContent = '';
      setMode('live');
    };
    es.addEventListener('output', (message) => {
      if (stream !== es) return;
      try {
        appendOutput(String(JSON.parse(message.data).text));
      } catch (err) {
        // A malformed event is skipped; the log has it.
      }
    });
    es.addEventListener('end', (message) => {
      if (stream !== es) return;
      let state = shown.state;
      try {
        state = String(JSON.parse(message.data).state);
      } catch (err) {
        // Keep the last state seen.
      }
      closeStream();
      shown.state = state;
      const job = shown.job || lastJobs.find((j) => j.id === id);
      renderOutputHead(id, Object.assign({}, job || { hook: '' }, { state }));
      setMode('ended');
      poll();
    });
    es.onerror = () => {
      if (stream !== es) return;
      // The browser retries by itself unless the server refused the stream (too many
      // open, or the job is gone); then the log has the output.
      if (es.readyState === EventSource.CLOSED) {
        closeStream();
        setMode('reconnecting');
        streamRetry = setTimeout(() => {
          streamRetry = null;
          if (shown.id === id) loadLog(id);
        }, SSE_RETRY_MS);
      }
    };
  }

  // Shows job `id` (`job` as listed, or null when it is not among the newest).
  function showJob(id, job) {
    closeStream();
    shown = { id, state: job ? String(job.state) : 'none', job };
    output.textContent = '';
    renderOutputHead(id, job);
    markShownRow();
    if (id === null) {
      setMode('none');
    } else if (!job) {
      // Older than the listed jobs: ask for it alone.
      fetchJson('jobs/' + id)
        .then((one) => {
          if (shown.id !== id) return;
          showJob(id, one);
        })
        .catch(() => {
          if (shown.id === id) setMode('missing');
        });
    } else if (job.state === 'running') {
      openStream(id);
    } else if (job.state === 'queued') {
      setMode('waiting');
    } else {
      loadLog(id);
    }
  }

  function defaultJob(jobs) {
    const running = jobs.find((j) => j.state === 'running');
    if (running) return running.id;
    return jobs.length ? jobs[0].id : null;
  }

  // After a poll: show the job that should be shown, and follow its state.
  function syncOutput(jobs) {
    const id = pinned !== null ? pinned : defaultJob(jobs);
    const job = jobs.find((j) => j.id === id) || null;
    if (id !== shown.id) {
      showJob(id, job);
      return;
    }
    markShownRow();
    if (job) shown.job = job;
    if (!job || job.state === shown.state) {
      if (job && job.state === 'running' && !stream && streamRetry === null) openStream(id);
      return;
    }
    // Its state changed since it was shown.
    shown.state = String(job.state);
    renderOutputHead(id, job);
    if (job.state === 'running') {
      if (!stream) openStream(id);
    } else if (isFinal(job.state) && !stream) {
      loadLog(id);
    }
  }

  function pin(id) {
    pinned = id;
    history.replaceState(null, '', '?job=' + id);
    followLink.hidden = false;
    showJob(id, lastJobs.find((j) => j.id === id) || null);
    panel.scrollIntoView({ block: 'nearest' });
  }

  function unpin() {
    pinned = null;
    history.replaceState(null, '', location.pathname);
    followLink.hidden = true;
    syncOutput(lastJobs);
  }

  // ---- polling ---------------------------------------------------------------------------

  function setConn(state) {
    body.dataset.conn = state;
    conn.className = 'conn conn-' + state;
    conn.textContent = state === 'live' ? 'live' : 'offline, retrying…';
  }

  function poll() {
    if (polling) return;
    polling = true;
    Promise.all([
      fetchJson('hooks'),
      fetchJson('deliveries?limit=' + DELIVERY_LIMIT),
      fetchJson('jobs?limit=' + JOB_LIMIT),
    ])
      .then(([hooks, deliveries, jobs]) => {
        const lists = [
          Array.isArray(hooks.hooks) ? hooks.hooks : [],
          Array.isArray(deliveries.deliveries) ? deliveries.deliveries : [],
          Array.isArray(jobs.jobs) ? jobs.jobs : [],
        ];
        // Unchanged tables are left alone (a selection in them survives).
        const texts = lists.map((list) => JSON.stringify(list));
        if (texts[0] !== lastAnswers[0]) renderHooks(lists[0]);
        if (texts[1] !== lastAnswers[1]) renderDeliveries(lists[1]);
        if (texts[2] !== lastAnswers[2]) renderJobs(lists[2]);
        lastAnswers = texts;
        lastJobs = lists[2];
        syncOutput(lastJobs);
        // Without EventSource a running job's output comes from its log on every poll.
        if (typeof window.EventSource !== 'function' && shown.state === 'running') loadLog(shown.id);
        setConn('live');
        updates += 1;
        body.dataset.updates = String(updates);
        touch();
      })
      .catch(() => setConn('offline'))
      .finally(() => {
        polling = false;
      });
  }

  // ---- "N s ago" -------------------------------------------------------------------------

  function touch() {
    const node = document.querySelector('time.updated');
    const now = new Date().toISOString().slice(0, 19) + 'Z';
    node.setAttribute('datetime', now);
    node.title = now;
  }

  function tick() {
    for (const node of document.querySelectorAll('time[data-rel]')) {
      node.textContent = relText(node.getAttribute('datetime'), node.dataset.rel);
    }
  }

  // ---- wiring ----------------------------------------------------------------------------

  document.documentElement.classList.add('js');
  document.addEventListener('click', (event) => {
    if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    const link = event.target instanceof Element ? event.target.closest('a.job-link') : null;
    if (link) {
      event.preventDefault();
      pin(Number(link.dataset.job));
    } else if (event.target === followLink) {
      event.preventDefault();
      unpin();
    }
  });
  // The server rendered the shown job's output; a running one is followed from here on.
  if (shown.id !== null && shown.state === 'running') openStream(shown.id);
  else setMode(shown.id === null ? 'none' : shown.state === 'missing' ? 'missing' : shown.state === 'queued' ? 'waiting' : 'log');
  if (outputBox) outputBox.scrollTop = 0;

  setInterval(tick, 1000);
  setInterval(poll, POLL_MS);
  poll();
})();
