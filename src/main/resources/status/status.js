// Syncwarden status page: plain DOM, no build step. Reads the operations API with the token kept in this browser
// session (sessionStorage); without one it shows what GET /api/health tells anyone.
(function () {
  'use strict';
  const REFRESH_MS = 5000;
  const CHART_MS = 30000;
  const state = { token: sessionStorage.getItem('syncwarden.token') || '', charts: {}, chartsAt: 0, backfillSource: null };
  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === 'class') node.className = v;
      else if (k === 'style') node.style.cssText = v || ''; // CSSOM, allowed by the page's CSP (no inline style attributes)
      else if (k.startsWith('on')) node.addEventListener(k.substring(2), v);
      else if (v !== null && v !== undefined) node.setAttribute(k, v);
    });
    children.flat().forEach((c) => node.append(c instanceof Node ? c : document.createTextNode(c == null ? '' : String(c))));
    return node;
  }

  async function api(method, path, body) {
    const headers = { 'Accept': 'application/json' };
    if (state.token) headers['Authorization'] = 'Bearer ' + state.token;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    let json = null;
    try { json = await response.json(); } catch (e) { json = null; }
    return { status: response.status, json };
  }

  function ago(iso) {
    if (!iso) return 'never';
    const minutes = Math.round((Date.now() - Date.parse(iso)) / 60000);
    if (minutes < 1) return 'just now';
    if (minutes < 120) return minutes + ' min ago';
    const hours = Math.round(minutes / 60);
    return hours < 48 ? hours + ' h ago' : Math.round(hours / 24) + ' days ago';
  }

  function say(text) {
    const m = $('message');
    m.textContent = text || '';
    m.hidden = !text;
  }

  // Health score 0-100 (README): each started source scores 100 healthy and fresh, 70 delayed (freshness warning or
  // degraded), 40 high, 0 critical or unhealthy, 50 paused; the score is their mean, 0 with the database down, and at
  // most 50 while dashboards are blocked.
  function points(s) {
    if (s.status === 'paused') return 50;
    if (s.status === 'unhealthy' || s.freshness === 'critical') return 0;
    if (s.freshness === 'high') return 40;
    if (s.status === 'degraded' || s.freshness === 'warning' || s.status === 'unknown') return 70;
    return 100;
  }

  function renderHeader(health) {
    const sources = Object.entries(health.services || {}).filter(([id]) => id !== 'database').map(([, s]) => s);
    let score = sources.length ? Math.round(sources.reduce((sum, s) => sum + points(s), 0) / sources.length) : 100;
    if (health.services && health.services.database && health.services.database.status !== 'up') score = 0;
    if (health.blocked) score = Math.min(score, 50);
    const scoreEl = $('score');
    scoreEl.textContent = score;
    scoreEl.className = 'score ' + (score >= 90 ? 'ok' : score >= 60 ? 'warn' : 'bad');
    const healthy = sources.filter((s) => points(s) === 100).length;
    const error = sources.filter((s) => points(s) === 0).length;
    const counts = $('counts');
    counts.replaceChildren(el('span', { id: 'count-healthy' }, healthy + ' healthy'),
      el('span', { id: 'count-delayed' }, (sources.length - healthy - error) + ' delayed'),
      el('span', { id: 'count-error' }, error + ' error'));
  }

  function renderBanner(blocking, health) {
    const banner = $('banner');
    if (blocking && blocking.blocked) {
      banner.replaceChildren('Dashboards blocked: ',
        ...blocking.reasons.map((r) => el('span', {}, r.source + ': ' + r.reason + ' - ' + r.nextStep + '. ')));
      banner.hidden = false;
    } else if (!blocking && health && health.blocked) {
      banner.textContent = 'Dashboards blocked (enter a token for the reasons).';
      banner.hidden = false;
    } else {
      banner.hidden = true;
    }
  }

  // Edits of routes/ the live reload refused: the previous version keeps running until the file is fixed.
  function renderReloads(report) {
    const box = $('reloads');
    const refused = report && report.refused ? report.refused : [];
    if (refused.length === 0) {
      box.hidden = true;
      return;
    }
    const items = [];
    refused.forEach((r) => (r.problems || []).forEach((p) => items.push(el('li', {}, p))));
    box.replaceChildren(refused.length + ' edited routes file(s) not applied, the previous version keeps running:',
      el('ul', {}, ...items));
    box.hidden = false;
  }

  function renderIncidents(list) {
    const ul = $('incidents');
    if (!list || !list.length) {
      ul.replaceChildren(el('li', { class: 'muted' }, list ? 'none' : 'enter a token to see incidents'));
      return;
    }
    ul.replaceChildren(...list.map((i) => el('li', { 'data-incident': i.incident_id },
      el('span', { class: 'badge ' + i.severity }, i.severity),
      el('span', { class: 'text' }, i.source_id + ' - ' + i.kind.replace(/_/g, ' ') + ': ' + (i.message || '') + ' (since '
        + ago(i.opened_at) + (i.acknowledged_by ? ', acknowledged by ' + i.acknowledged_by : '') + ')'),
      i.acknowledged_at ? '' : el('button', { onclick: () => act('POST', '/api/incidents/' + i.incident_id + '/acknowledge', {}, 'Acknowledged') }, 'Acknowledge'))));
  }

  function chart(runs) {
    // rows read (bars) and duration (line) of the last 50 runs, oldest left
    const svgNs = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(svgNs, 'svg');
    svg.setAttribute('class', 'chart');
    svg.setAttribute('viewBox', '0 0 200 48');
    svg.setAttribute('preserveAspectRatio', 'none');
    const items = (runs || []).slice().reverse();
    if (!items.length) return svg;
    const maxRows = Math.max(1, ...items.map((r) => r.rows_read || 0));
    const maxMs = Math.max(1, ...items.map((r) => r.duration_ms || 0));
    const w = 200 / 50;
    items.forEach((r, i) => {
      const h = Math.max(1, 44 * (r.rows_read || 0) / maxRows);
      const bar = document.createElementNS(svgNs, 'rect');
      bar.setAttribute('x', (i * w + 0.5).toFixed(1));
      bar.setAttribute('y', (48 - h).toFixed(1));
      bar.setAttribute('width', (w - 1).toFixed(1));
      bar.setAttribute('height', h.toFixed(1));
      bar.setAttribute('fill', r.status === 'success' || r.status === 'empty' ? '#8cc5ff' : '#ff8182');
      const title = document.createElementNS(svgNs, 'title');
      title.textContent = 'run ' + r.run_id + ': ' + r.status + ', ' + (r.rows_read || 0) + ' rows, ' + (r.duration_ms || 0) + ' ms';
      bar.append(title);
      svg.append(bar);
    });
    const line = document.createElementNS(svgNs, 'polyline');
    line.setAttribute('points', items.map((r, i) => (i * w + w / 2).toFixed(1) + ',' + (46 - 42 * (r.duration_ms || 0) / maxMs).toFixed(1)).join(' '));
    line.setAttribute('fill', 'none');
    line.setAttribute('stroke', '#0550ae');
    line.setAttribute('stroke-width', '1');
    svg.append(line);
    return svg;
  }

  function card(s, healthOnly) {
    const fresh = s.freshness || {};
    const severity = typeof fresh === 'string' ? fresh : fresh.severity;
    const status = s.status || 'unknown';
    const lastSync = healthOnly ? s.lastSync : fresh.lastSuccess;
    const rows = healthOnly ? s.totalRows : (s.rows || {}).target;
    const children = [
      el('h3', {}, el('span', {}, s.id), el('span', { class: 'badge ' + status, 'data-role': 'status' }, status)),
      el('dl', {},
        el('dt', {}, 'Last sync'), el('dd', { 'data-role': 'last-sync' }, lastSync ? ago(lastSync) + ' (' + new Date(lastSync).toLocaleString() + ')' : 'never'),
        el('dt', {}, 'Rows'), el('dd', { 'data-role': 'rows' }, rows == null ? '?' : rows),
        el('dt', {}, 'Freshness'), el('dd', {}, el('span', { class: 'badge ' + (severity || 'ok') }, severity || 'n/a')),
        healthOnly ? '' : el('dt', {}, 'Next run'), healthOnly ? '' : el('dd', {}, s.nextRun ? new Date(s.nextRun).toLocaleString() : 'not scheduled'),
        healthOnly ? '' : el('dt', {}, 'Last run'),
        healthOnly ? '' : el('dd', { 'data-role': 'last-run' }, s.lastRun ? 'run ' + s.lastRun.run_id + ' ' + s.lastRun.status + ' (' + s.lastRun.run_trigger + '), '
          + s.lastRun.rows_read + ' read' : 'none'))
    ];
    if (!healthOnly) {
      if (s.progress) {
        const known = s.progress.percent != null;
        children.push(el('div', { class: 'progress' + (known ? '' : ' indeterminate'), 'data-role': 'progress' },
          el('div', { style: known ? 'width:' + s.progress.percent + '%' : null })),
          el('div', { class: 'why' }, 'run ' + s.progress.runId + ': ' + s.progress.rowsSoFar + ' rows so far'
            + (known ? ' of ' + s.progress.total + (s.progress.etaSeconds != null ? ', about ' + s.progress.etaSeconds + ' s left' : '') : '')));
      }
      const why = s.why || {};
      if (why.lastError && s.lastRun && s.lastRun.status !== 'success') {
        children.push(el('p', { class: 'error' }, why.lastError));
      }
      if (severity && severity !== 'ok') {
        children.push(el('p', { class: 'why' }, 'Why: last run ' + (why.lastStatus || 'none') + (why.lastErrorClass ? ' (' + why.lastErrorClass + ')' : '')
          + (why.nextRetry ? ', next retry ' + new Date(why.nextRetry).toLocaleTimeString() : '') + ', breaker ' + why.breaker
          + (why.paused ? ', paused' : '') + '; target ' + (s.rows || {}).target + ' rows, last good run ' + (s.rows || {}).lastGoodRun));
      }
      children.push(chart(state.charts[s.id]));
      children.push(el('div', { class: 'actions' },
        el('button', { 'data-action': 'sync', onclick: () => act('POST', '/api/sources/' + s.id + '/sync', {}, 'Sync of ' + s.id + ' started'), disabled: s.enabled ? null : '' }, 'Sync now'),
        status === 'paused'
          ? el('button', { 'data-action': 'resume', onclick: () => act('POST', '/api/sources/' + s.id + '/resume', {}, s.id + ' resumed') }, 'Resume')
          : el('button', { 'data-action': 'pause', onclick: () => act('POST', '/api/sources/' + s.id + '/pause', {}, s.id + ' paused') }, 'Pause'),
        el('button', { 'data-action': 'backfill', onclick: () => openBackfill(s.id) }, 'Backfill')));
    }
    return el('article', { class: 'card', 'data-source': s.id }, ...children);
  }

  async function act(method, path, body, done) {
    const answer = await api(method, path, body);
    say(answer.status < 300 ? done : (answer.json && answer.json.message) || 'HTTP ' + answer.status);
    refresh();
  }

  function openBackfill(id) {
    state.backfillSource = id;
    $('backfill-source').textContent = id;
    $('backfill-estimate').textContent = 'Choose a range to see the estimate.';
    $('backfill-confirm').disabled = true;
    $('backfill').showModal();
  }

  async function estimate() {
    const from = $('backfill-from').value;
    const to = $('backfill-to').value;
    if (!from || !to || !state.backfillSource) return;
    const answer = await api('GET', '/api/sources/' + state.backfillSource + '/backfill/estimate?from=' + from + '&to=' + to);
    const out = $('backfill-estimate');
    if (answer.status !== 200) {
      out.textContent = (answer.json && answer.json.message) || 'HTTP ' + answer.status;
      $('backfill-confirm').disabled = true;
      return;
    }
    const e = answer.json;
    out.textContent = 'About ' + e.rows + ' rows, ' + e.days + ' days, roughly ' + e.seconds + ' s'
      + (e.overOperatorLimit ? ' (more than 90 days: an admin token is needed)' : '') + '.';
    $('backfill-confirm').disabled = !e.allowed;
  }

  async function refresh() {
    try {
      const health = await api('GET', '/api/health');
      if (health.status === 200) renderHeader(health.json);
      let sources = null;
      let blocking = null;
      let incidents = null;
      let reloads = null;
      if (state.token) {
        const [s, b, i, r] = await Promise.all([api('GET', '/api/sources'), api('GET', '/api/blocking'),
          api('GET', '/api/incidents'), api('GET', '/api/reloads')]);
        reloads = r.status === 200 ? r.json : null;
        if (s.status === 401 || s.status === 403) say('The token was refused: ' + ((s.json && s.json.message) || s.status));
        sources = s.status === 200 ? s.json.sources : null;
        blocking = b.status === 200 ? b.json : null;
        incidents = i.status === 200 ? i.json.incidents : null;
        if (sources && Date.now() - state.chartsAt > CHART_MS) {
          state.chartsAt = Date.now();
          await Promise.all(sources.map(async (src) => {
            const runs = await api('GET', '/api/sources/' + src.id + '/runs?size=50');
            if (runs.status === 200) state.charts[src.id] = runs.json.items;
          }));
        }
      }
      renderBanner(blocking, health.json);
      renderReloads(reloads);
      renderIncidents(incidents);
      const cards = $('cards');
      if (sources) {
        cards.replaceChildren(...sources.filter((s) => s.enabled).map((s) => card(s, false)));
      } else if (health.status === 200) {
        cards.replaceChildren(...Object.entries(health.json.services).filter(([id]) => id !== 'database')
          .map(([id, s]) => card(Object.assign({ id }, s), true)));
      }
      $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
    } catch (e) {
      say('The service did not answer: ' + e.message);
    }
  }

  $('token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    state.token = $('token').value.trim();
    if (state.token) sessionStorage.setItem('syncwarden.token', state.token); else sessionStorage.removeItem('syncwarden.token');
    $('token').value = '';
    state.chartsAt = 0;
    say(state.token ? 'Token in use for this browser session.' : 'Token cleared.');
    refresh();
  });
  $('backfill-from').addEventListener('change', estimate);
  $('backfill-to').addEventListener('change', estimate);
  $('backfill-form').addEventListener('submit', async (ev) => {
    if (ev.submitter && ev.submitter.value === 'confirm') {
      ev.preventDefault();
      const answer = await api('POST', '/api/sources/' + state.backfillSource + '/backfill', { from: $('backfill-from').value, to: $('backfill-to').value });
      $('backfill').close();
      say(answer.status < 300 ? 'Backfill of ' + state.backfillSource + ' started' : (answer.json && answer.json.message) || 'HTTP ' + answer.status);
      refresh();
    }
  });
  refresh();
  setInterval(refresh, REFRESH_MS);
})();
