import { CARD_HISTORY_SCRIPT } from './history-script';
import { CARD_NOTES_SCRIPT } from './notes-script';

/**
 * The status page's script, served inline under a CSP hash. Plain ES2017 for any browser.
 * Every service name, error message and reason goes into the page through `textContent`, never
 * as HTML, so `<img src=x onerror=…>` shows as the text it is. Each card's list of recent
 * changes is {@link CARD_HISTORY_SCRIPT}, and its notes on runs, pauses and held alerts
 * {@link CARD_NOTES_SCRIPT}; both share this script's scope.
 */
export const PAGE_SCRIPT: string = `
(function () {
  'use strict';
  var ICONS = { healthy: '\\u2713', warning: '\\u26A0', degraded: '\\u25BC', critical: '\\u2715', offline: '\\u25CB' };
  var BANNER = {
    healthy: 'All services healthy',
    warning: 'Service warnings detected',
    degraded: 'Services degraded',
    critical: 'Critical service issues',
    offline: 'Heartbeat monitoring is offline'
  };
  var DASH = '\u2014';
  var body = document.body;
  var streamUrl = body.getAttribute('data-stream');
  var cards = document.getElementById('cards');
  var banner = document.getElementById('banner');
  var bannerIcon = document.getElementById('banner-icon');
  var bannerText = document.getElementById('banner-text');
  var bannerTime = document.getElementById('banner-time');
  var services = new Map();
  var clockOffset = 0;
  var overall = null;
  var source = null;
  var retryTimer = null;
  var freshStream = false;
${CARD_HISTORY_SCRIPT}
${CARD_NOTES_SCRIPT}

  function serverNow() { return Date.now() + clockOffset; }

  function make(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function ago(iso) {
    if (!iso) return 'never';
    var seconds = Math.max(0, Math.round((serverNow() - Date.parse(iso)) / 1000));
    if (seconds < 60) return seconds + ' s ago';
    if (seconds < 3600) return Math.floor(seconds / 60) + ' min ago';
    if (seconds < 86400) return Math.floor(seconds / 3600) + ' h ago';
    return Math.floor(seconds / 86400) + ' d ago';
  }

  function duration(ms) {
    if (!(ms > 0)) ms = 0;
    if (ms < 60000) return Math.floor(ms / 1000) + 's';
    var d = Math.floor(ms / 86400000), h = Math.floor(ms % 86400000 / 3600000), m = Math.floor(ms % 3600000 / 60000);
    if (d > 0) return d + 'd ' + h + 'h ' + m + 'm';
    if (h > 0) return h + 'h ' + m + 'm';
    return m + 'm';
  }

  function field(list, label, className) {
    list.appendChild(make('dt', '', label));
    var value = make('dd', className);
    list.appendChild(value);
    return value;
  }

  function createCard(name) {
    var card = make('article', 'card');
    card.setAttribute('data-service', name);
    var header = make('header');
    header.appendChild(make('span', 'dot'));
    header.appendChild(make('h2', 'name', name));
    var badge = make('span', 'badge');
    var icon = make('span', 'icon');
    icon.setAttribute('aria-hidden', 'true');
    badge.appendChild(icon);
    badge.appendChild(make('span', 'word'));
    header.appendChild(badge);
    card.appendChild(header);
    var notes = make('div', 'notes');
    card.appendChild(notes);
    var list = make('dl');
    var entry = {
      card: card, icon: icon, word: badge.lastChild,
      last: field(list, 'Last heartbeat', 'last'),
      interval: field(list, 'Interval', 'interval'),
      failures: field(list, 'Failures', 'failures'),
      uptime: field(list, 'Uptime', 'uptime'),
      pulses: field(list, 'Pulses', 'pulses'),
      error: field(list, 'Last error', 'error'),
      data: null,
      name: name
    };
    addNotes(entry, notes);
    card.appendChild(list);
    watchCard(entry);
    card.addEventListener('animationend', function (event) {
      if (event.animationName === 'beat') card.classList.remove('beat');
      if (event.animationName === 'flash') card.classList.remove('flash');
    });
    return entry;
  }

  function place(name, entry) {
    var names = Array.from(services.keys()).sort();
    var next = names[names.indexOf(name) + 1];
    cards.insertBefore(entry.card, next ? services.get(next).card : null);
  }

  function update(health) {
    var entry = services.get(health.service);
    if (!entry) {
      entry = createCard(health.service);
      services.set(health.service, entry);
      place(health.service, entry);
    }
    if (detailsIn(health) && !entry.history) addHistory(entry);
    var previous = entry.data ? entry.data.status : null;
    // Under a details policy the server may send status words only: keep what is known.
    entry.data = Object.assign({}, entry.data || {}, health);
    health = entry.data;
    entry.card.className = 'card status-' + health.status;
    if (health.status === 'warning' && previous !== 'warning') {
      void entry.card.offsetWidth;
      entry.card.classList.add('flash');
    }
    entry.icon.textContent = ICONS[health.status] || '?';
    entry.word.textContent = health.status;
    entry.interval.textContent = known(health.interval) ? health.interval + ' s' : DASH;
    entry.failures.textContent = known(health.consecutive_failures) ? String(health.consecutive_failures) : DASH;
    entry.pulses.textContent = known(health.total_pulses) ? String(health.total_pulses) : DASH;
    entry.error.textContent = health.last_error ? health.last_error.message : DASH;
    renderNotes(entry);
    refreshTimes(entry);
    return entry;
  }

  function refreshTimes(entry) {
    var data = entry.data;
    entry.last.textContent = data.last_heartbeat === undefined ? DASH : ago(data.last_heartbeat);
    entry.uptime.textContent = data.started_at ? duration(serverNow() - Date.parse(data.started_at)) : data.uptime || DASH;
    refreshRun(entry);
  }

  function known(value) { return value !== undefined && value !== null; }

  function setOverall(status) {
    overall = status;
    body.classList.remove('no-signal');
    banner.className = 'banner status-' + status;
    bannerIcon.textContent = ICONS[status] || '?';
    var failing = [];
    services.forEach(function (entry, name) {
      // A paused service says nothing of the system's health, as overall_status ignores it.
      if (entry.data && entry.data.status === status && status !== 'healthy' && !entry.data.paused) failing.push(name);
    });
    bannerText.textContent = BANNER[status] + (failing.length ? ': ' + failing.join(', ') : '');
  }

  function noSignal() {
    body.classList.add('no-signal');
    banner.className = 'banner no-signal';
    bannerIcon.textContent = ICONS.offline;
    bannerText.textContent = 'No signal \\u2014 reconnecting\\u2026';
  }

  function onSnapshot(event) {
    var snapshot = JSON.parse(event.data);
    clockOffset = Date.parse(snapshot.time) - Date.now();
    // After a reconnect every list may have missed changes; otherwise only a card whose status
    // changed without a status event (a mass change comes as one snapshot) has.
    var fresh = freshStream;
    freshStream = false;
    var seen = new Set();
    snapshot.services.forEach(function (health) {
      seen.add(health.service);
      var known = services.get(health.service);
      var before = known && known.data ? known.data.status : null;
      var entry = update(health);
      if (entry.history && (fresh || (before !== null && before !== health.status))) markStale(entry);
    });
    services.forEach(function (entry, name) {
      if (!seen.has(name)) {
        unwatchCard(entry);
        entry.card.remove();
        services.delete(name);
      }
    });
    // With no service listed a snapshot says nothing of details: keep what is known.
    if (snapshot.services.length > 0) setDetailed(snapshot.services.some(detailsIn));
    setOverall(snapshot.overall_status);
  }

  function onStatus(event) {
    var change = JSON.parse(event.data);
    // With details: the change and the health after it; without: the status word alone.
    var entry = update(change.health || { service: change.service, status: change.status || change.to });
    if (change.from !== undefined && entry.history) addChange(entry, change);
    if (change.health) dependencyChanged(change.service);
    setOverall(change.overall_status);
  }

  function onPause(event) {
    // With details: the body after the pause began or ended; without: the flag alone.
    var change = JSON.parse(event.data);
    if (change.health) update(change.health);
    else if (services.has(change.service)) update({ service: change.service, paused: change.paused ? { reason: null, until: null } : null });
    setOverall(change.overall_status);
  }

  function onRun(event) {
    // { name: run }, the body's run, when a job's run began or ended.
    var batch = JSON.parse(event.data).services;
    Object.keys(batch).forEach(function (name) {
      var entry = services.get(name);
      if (!entry || !entry.data) return;
      entry.data.run = batch[name];
      renderNotes(entry);
    });
  }

  function onPulse(event) {
    // { name: { total_pulses, last_heartbeat } }: only a caller who may see details gets pulses.
    var batch = JSON.parse(event.data).services;
    Object.keys(batch).forEach(function (name) {
      var entry = services.get(name);
      if (!entry || !entry.data) return;
      entry.data.total_pulses = batch[name].total_pulses;
      entry.data.last_heartbeat = batch[name].last_heartbeat;
      entry.pulses.textContent = String(batch[name].total_pulses);
      refreshTimes(entry);
      entry.card.classList.remove('beat');
      void entry.card.offsetWidth;
      entry.card.classList.add('beat');
    });
  }

  function connect() {
    retryTimer = null;
    source = new EventSource(streamUrl);
    // Each connection, EventSource's own reconnects too, starts with a snapshot of a state the
    // lists may have missed changes of.
    source.onopen = function () { freshStream = true; };
    source.addEventListener('snapshot', onSnapshot);
    source.addEventListener('status', onStatus);
    source.addEventListener('pulse', onPulse);
    source.addEventListener('pause', onPause);
    source.addEventListener('run', onRun);
    source.onerror = function () {
      noSignal();
      // EventSource retries a dropped connection by itself, but gives up for good on an error
      // response (a restarting server's 503): then start over.
      if (source.readyState === EventSource.CLOSED && !retryTimer) retryTimer = setTimeout(connect, 2000);
    };
  }

  setInterval(function () {
    services.forEach(refreshTimes);
    bannerTime.textContent = overall ? new Date(serverNow()).toLocaleTimeString() : '';
  }, 1000);
  connect();
})();
`;
