import { BEAT_BAR_SCRIPT } from './beat-bar-script';
import { CARD_HISTORY_SCRIPT } from './history-script';
import { LIVE_REGION_SCRIPT } from './live-region-script';
import { NAME_SCRIPT } from './name-script';
import { CARD_NOTES_SCRIPT } from './notes-script';
import { CARD_ORDER_SCRIPT } from './order-script';
import { RISK_SCRIPT } from './risk-script';
import { TIMELINE_SCRIPT } from './timeline-script';

/**
 * The status page's script, served inline under a CSP hash. Plain ES2017 for any browser.
 * Every service name, group, error message and reason goes into the page through
 * `textContent`, never as HTML, so `<img src=x onerror=…>` shows as the text it is. Its parts
 * share this script's scope: each card's recent changes ({@link CARD_HISTORY_SCRIPT}), notes on
 * runs, pauses and held alerts ({@link CARD_NOTES_SCRIPT}), beat bar, uptime and time since the
 * last change ({@link BEAT_BAR_SCRIPT}), the order of cards and groups
 * ({@link CARD_ORDER_SCRIPT}), names that wrap only between words ({@link NAME_SCRIPT}), the
 * incident timeline ({@link TIMELINE_SCRIPT}), the "at risk" mark ({@link RISK_SCRIPT}) and the
 * announcements of status changes with the `#service` fragment ({@link LIVE_REGION_SCRIPT}).
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
  var cardCount = 0;
${NAME_SCRIPT}
${CARD_HISTORY_SCRIPT}
${CARD_NOTES_SCRIPT}
${BEAT_BAR_SCRIPT}
${CARD_ORDER_SCRIPT}
${TIMELINE_SCRIPT}
${RISK_SCRIPT}
${LIVE_REGION_SCRIPT}

  function serverNow() { return Date.now() + clockOffset; }

  function make(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function ago(iso) {
    if (!iso) return 'never';
    return since(Date.parse(iso)) + ' ago';
  }

  // "42 s", "3 min", "5 h", "2 d": how long since a moment, in the largest whole unit.
  function since(at) {
    var seconds = Math.max(0, Math.round((serverNow() - at) / 1000));
    if (seconds < 60) return seconds + ' s';
    if (seconds < 3600) return Math.floor(seconds / 60) + ' min';
    if (seconds < 86400) return Math.floor(seconds / 3600) + ' h';
    return Math.floor(seconds / 86400) + ' d';
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
    var titleId = 'card-' + (++cardCount);
    card.setAttribute('aria-labelledby', titleId);
    var header = make('header');
    // The pulse ring beats inside a box of its own, clear of the name.
    var pulse = make('span', 'pulse');
    pulse.setAttribute('aria-hidden', 'true');
    pulse.appendChild(make('span', 'dot'));
    header.appendChild(pulse);
    var title = make('h3', 'name');
    title.id = titleId;
    writeName(title, name);
    header.appendChild(title);
    var badge = make('span', 'badge');
    var icon = make('span', 'icon');
    icon.setAttribute('aria-hidden', 'true');
    badge.appendChild(icon);
    badge.appendChild(make('span', 'word'));
    // The status word, and under it the "at risk" chip while the service is at risk.
    var marks = make('span', 'marks');
    marks.appendChild(badge);
    header.appendChild(marks);
    card.appendChild(header);
    var sinceLine = make('p', 'since');
    sinceLine.hidden = true;
    card.appendChild(sinceLine);
    var notes = make('div', 'notes');
    card.appendChild(notes);
    var more = make('details', 'more');
    var summary = make('summary', '', 'Details');
    more.appendChild(summary);
    var list = make('dl');
    var entry = {
      card: card, icon: icon, word: badge.lastChild, sinceLine: sinceLine, more: more, summary: summary,
      last: field(list, 'Last heartbeat', 'last'),
      interval: field(list, 'Interval', 'interval'),
      failures: field(list, 'Failures', 'failures'),
      started: field(list, 'Started', 'started'),
      pulses: field(list, 'Pulses', 'pulses'),
      error: field(list, 'Last error', 'error'),
      data: null,
      changedAt: null,
      name: name
    };
    addNotes(entry, notes);
    addRisk(entry, marks, list);
    addBeats(entry);
    more.appendChild(list);
    card.appendChild(more);
    watchCard(entry);
    card.addEventListener('animationend', function (event) {
      if (event.animationName === 'beat') card.classList.remove('beat');
      if (event.animationName === 'flash') card.classList.remove('flash');
    });
    return entry;
  }

  function update(health) {
    var entry = services.get(health.service);
    if (!entry) {
      entry = createCard(health.service);
      services.set(health.service, entry);
    }
    if (detailsIn(health) && !entry.history) addHistory(entry);
    var previous = entry.data ? entry.data.status : null;
    var pausedBefore = entry.data ? entry.data.paused : null;
    // Under a details policy the server may send status words only: keep what is known.
    entry.data = Object.assign({}, entry.data || {}, health);
    health = entry.data;
    if (previous !== null && previous !== health.status && !entry.history) entry.changedAt = serverNow();
    if (entry.history && pausedBefore && pausedBefore.since && !health.paused) addPauseGap(entry, pausedBefore.since);
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
    renderRisk(entry);
    refreshTimes(entry);
    if (previous !== health.status || entry.group !== groupOf(health)) orderLater();
    return entry;
  }

  function refreshTimes(entry) {
    var data = entry.data;
    entry.last.textContent = data.last_heartbeat === undefined ? DASH : ago(data.last_heartbeat);
    // "Started 5 min ago", whatever the status: an uptime beside a critical word read as "up".
    entry.started.textContent = data.started_at ? ago(data.started_at) : DASH;
    refreshRun(entry);
    refreshSince(entry);
    refreshBeats(entry);
  }

  function known(value) { return value !== undefined && value !== null; }

  function setOverall(status) {
    overall = status;
    body.classList.remove('no-signal');
    banner.className = 'banner status-' + status;
    bannerIcon.textContent = ICONS[status] || '?';
    var failing = [];
    // A service not marked critical makes the system degraded at most: its critical status is named there too.
    var named = {};
    named[status] = true;
    if (status === 'degraded') named.critical = true;
    services.forEach(function (entry, name) {
      // A paused service says nothing of the system's health, as overall_status ignores it.
      if (entry.data && named[entry.data.status] === true && status !== 'healthy' && !entry.data.paused) failing.push(name);
    });
    failing.sort();
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
    // After a reconnect every history may have missed changes; otherwise only a card whose status
    // changed without a status event (a mass change comes as one snapshot) has.
    var fresh = freshStream;
    freshStream = false;
    var seen = new Set();
    var changed = [];
    snapshot.services.forEach(function (health) {
      seen.add(health.service);
      var known = services.get(health.service);
      var before = known && known.data ? known.data.status : null;
      var riskBefore = known && known.data ? isAtRisk(known.data) : null;
      // A card given its history by this snapshot has asked for it already: one read, not two.
      var hadHistory = Boolean(known && known.history);
      var entry = update(health);
      if (before !== null && (before !== health.status || riskBefore !== isAtRisk(entry.data))) changed.push(entry);
      if (hadHistory && (fresh || (before !== null && before !== health.status))) markStale(entry);
    });
    services.forEach(function (entry, name) {
      if (!seen.has(name)) {
        unwatchCard(entry);
        entry.card.remove();
        services.delete(name);
        // A service of this name that comes back is a new one: its first status is no change to announce.
        forgetAnnounced(name);
      }
    });
    // With no service listed a snapshot says nothing of details: keep what is known.
    if (snapshot.services.length > 0) setDetailed(snapshot.services.some(detailsIn));
    setOverall(snapshot.overall_status);
    orderCards();
    announce(changed);
    renderTimeline();
    openFragment();
  }

  function onStatus(event) {
    var change = JSON.parse(event.data);
    // With details: the change and the health after it; without: the status word alone.
    var entry = update(change.health || { service: change.service, status: change.status || change.to });
    if (change.from !== undefined && entry.history) addChange(entry, change);
    if (change.health) dependencyChanged(change.service);
    setOverall(change.overall_status);
    announce([entry]);
  }

  function onPause(event) {
    // With details: the body after the pause began or ended; without: the flag alone.
    var change = JSON.parse(event.data);
    if (change.health) update(change.health);
    else if (services.has(change.service)) update({ service: change.service, paused: change.paused ? { reason: null, until: null } : null });
    setOverall(change.overall_status);
    orderLater();
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
    source.addEventListener('trend', onTrend);
    source.onerror = function () {
      noSignal();
      // EventSource retries a dropped connection by itself, but gives up for good on an error
      // response (a restarting server's 503): then start over.
      if (source.readyState === EventSource.CLOSED && !retryTimer) retryTimer = setTimeout(connect, 2000);
    };
  }

  setInterval(function () {
    services.forEach(refreshTimes);
    refreshTimeline();
    bannerTime.textContent = overall ? new Date(serverNow()).toLocaleTimeString() : '';
  }, 1000);
  window.addEventListener('hashchange', function () { fragmentOpened = null; openFragment(); });
  connect();
})();
`;
