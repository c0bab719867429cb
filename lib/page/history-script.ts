import { MAX_HISTORY_REASON } from '../core/limits';
import { MAX_EXCLUDED_SPANS } from '../core/uptime';

/** Status changes (and offline gaps) a card lists, newest last: enough to read an incident, few enough for a phone. */
export const HISTORY_SHOWN = 8;

/** Transitions the page reads of each service: enough for its beat bar and the incident timeline, bounded per service. */
export const HISTORY_FETCHED = 50;

/** History requests the page has out at once: a page of many services must not fire hundreds at its server. */
export const HISTORY_FETCHES = 4;

/** Quiet time after a service's last status change before its history (and uptime) is read again: a flapping service costs one request, not one per change. */
export const HISTORY_REFETCH_MS = 1500;
/** The longest a service that keeps changing (flapping) waits for its history to be read again, in milliseconds. */
export const HISTORY_REFETCH_MAX_MS = 15_000;
/** How often the histories of services that are down are read again, in milliseconds: their uptime falls while nothing changes. */
export const HISTORY_DOWN_REFRESH_MS = 60_000;

/**
 * The part of the page's script that reads each service's history, spliced into the function
 * of `PAGE_SCRIPT`, whose `services`, `make`, `duration`, `serverNow` and `body` it uses. It
 * gives the page `watchCard`, `unwatchCard`, `detailsIn`, `addHistory`, `markStale`,
 * `addChange`, `addPauseGap`, `setDetailed` and `clockTime`, and calls the beat bar's
 * `renderBeats` and the timeline's `renderTimeline` when a history changes.
 *
 * `{basePath}/service/{name}/history?limit=50` is read for every card when it first appears (at
 * most {@link HISTORY_FETCHES} requests at a time), again after a reconnect or a change that came
 * as a snapshot, {@link HISTORY_REFETCH_MS} after a service's last status change (for its
 * uptime; a service that keeps changing waits at most {@link HISTORY_REFETCH_MAX_MS}), and
 * every {@link HISTORY_DOWN_REFRESH_MS} while it is warning, degraded, critical or offline (its
 * uptime falls while nothing changes), never per pulse. Between reads the stream's `status` events are added as they come.
 * A card's details list the last {@link HISTORY_SHOWN} changes and the monitor's offline gaps
 * among them. Only a stream with details gets histories: the history is details, refused to
 * other callers.
 */
export const CARD_HISTORY_SCRIPT: string = `
  var ARROW = ' \u2192 ';
  var HISTORY_SHOWN = ${HISTORY_SHOWN};
  var HISTORY_FETCHED = ${HISTORY_FETCHED};
  var HISTORY_FETCHES = ${HISTORY_FETCHES};
  var HISTORY_REFETCH_MS = ${HISTORY_REFETCH_MS};
  var HISTORY_REFETCH_MAX_MS = ${HISTORY_REFETCH_MAX_MS};
  var HISTORY_DOWN_REFRESH_MS = ${HISTORY_DOWN_REFRESH_MS};
  // The history keeps each reason cut to this length; a live change is cut alike, to read the same.
  var REASON_MAX = ${MAX_HISTORY_REASON};
  // The times of one change, from the stream and from /history, may be a millisecond apart.
  var SAME_CHANGE_MS = 2;
  var serviceUrl = body.getAttribute('data-services');
  var detailsNote = document.getElementById('details-note');
  var historyQueue = [];
  var historyFetches = 0;
  // The history lists at most this many offline gaps, and as many pauses.
  var GAPS_KEPT = ${2 * MAX_EXCLUDED_SPANS};

  function watchCard(entry) {
    entry.history = entry.changes = entry.historyState = entry.pending = entry.uptime = entry.refetch = entry.refetchSince = null;
    entry.transitions = [];
    entry.gaps = [];
    entry.queued = entry.failed = entry.loaded = false;
  }

  function unwatchCard(entry) {
    if (entry.refetch) clearTimeout(entry.refetch);
    entry.refetch = null;
  }

  // A service body with details has its interval; the summary a caller without them gets has only service and status.
  function detailsIn(health) { return typeof health.interval === 'number'; }

  function addHistory(entry) {
    var section = make('section', 'history');
    section.appendChild(make('h4', '', 'Recent changes'));
    entry.changes = make('ol', 'changes');
    section.appendChild(entry.changes);
    entry.historyState = make('p', 'history-state', 'Loading\u2026');
    section.appendChild(entry.historyState);
    entry.more.appendChild(section);
    entry.history = section;
    markStale(entry);
  }

  function dropHistory(entry) {
    if (!entry.history) return;
    unwatchCard(entry);
    entry.history.remove();
    entry.history = entry.changes = entry.historyState = entry.pending = entry.uptime = null;
    entry.transitions = [];
    entry.gaps = [];
    entry.loaded = entry.failed = false;
    renderBeats(entry);
  }

  /** The card's history may miss changes (it is new, or the stream was lost): read it again. */
  function markStale(entry) {
    if (entry.queued) return;
    entry.queued = true;
    historyQueue.push(entry);
    pumpHistory();
  }

  // Read again once the service has been quiet a moment: its uptime moved. A service that keeps
  // changing (flapping) pushes the read back with each change, but not past HISTORY_REFETCH_MAX_MS.
  function refetchLater(entry) {
    var now = Date.now();
    if (entry.refetch) {
      if (now - entry.refetchSince >= HISTORY_REFETCH_MAX_MS - HISTORY_REFETCH_MS) return;
      clearTimeout(entry.refetch);
    } else {
      entry.refetchSince = now;
    }
    entry.refetch = setTimeout(function () {
      entry.refetch = entry.refetchSince = null;
      if (services.get(entry.name) === entry && entry.history) markStale(entry);
    }, HISTORY_REFETCH_MS);
  }

  // A service that is down loses uptime while nothing changes: its figures are read again now
  // and then, the down ones only (a healthy one's figure moves by hundredths an hour).
  setInterval(function () {
    services.forEach(function (entry) {
      var data = entry.data;
      if (entry.history && entry.loaded && data && !data.paused && data.status !== 'healthy') markStale(entry);
    });
  }, HISTORY_DOWN_REFRESH_MS);

  function pumpHistory() {
    while (historyFetches < HISTORY_FETCHES && historyQueue.length > 0) {
      var entry = historyQueue.shift();
      entry.queued = false;
      if (services.get(entry.name) === entry && entry.history) loadHistory(entry);
    }
  }

  function loadHistory(entry) {
    historyFetches++;
    // Changes the stream brings while the request is out: the answer may or may not hold them.
    var pending = entry.pending = [];
    fetch(serviceUrl + encodeURIComponent(entry.name) + '/history?limit=' + HISTORY_FETCHED, { headers: { Accept: 'application/json' }, cache: 'no-store' })
      .then(function (response) { return response.ok ? response.json() : null; })
      .catch(function () { return null; })
      .then(function (past) {
        historyFetches--;
        // A newer request, or a card gone: this answer is stale.
        if (entry.pending === pending && services.get(entry.name) === entry && entry.history) {
          entry.pending = null;
          showPast(entry, past, pending);
        }
        pumpHistory();
      });
  }

  function showPast(entry, past, pending) {
    if (!past || !Array.isArray(past.transitions) || !Array.isArray(past.gaps)) {
      // Keep the changes the stream brought, and say the earlier ones are missing.
      entry.failed = true;
      renderHistory(entry);
      return;
    }
    var items = past.transitions.map(function (change) {
      return { time: change.time, from: change.from, to: change.to, reason: change.reason };
    });
    pending.forEach(function (change) {
      if (!items.some(function (item) { return sameChange(item, change); })) items.push(change);
    });
    items.sort(byTime);
    entry.transitions = items.slice(-HISTORY_FETCHED);
    entry.gaps = past.gaps.map(function (gap) { return { time: gap.start, end: gap.end, gap: gap.reason }; });
    entry.uptime = past.uptime || null;
    entry.failed = false;
    entry.loaded = true;
    renderHistory(entry);
  }

  // Oldest first, as /history lists them; a gap after the change at its start (the gap begins at the last save).
  function byTime(a, b) {
    return Date.parse(a.time) - Date.parse(b.time) || (a.gap ? 1 : 0) - (b.gap ? 1 : 0);
  }

  // Not the reason: the stream sends it whole, the history keeps it cut.
  function sameChange(a, b) {
    return !a.gap && a.from === b.from && a.to === b.to && Math.abs(Date.parse(a.time) - Date.parse(b.time)) <= SAME_CHANGE_MS;
  }

  /** A pause since \`since\` just ended: its span, as the next read of the history will list it. */
  function addPauseGap(entry, since) {
    entry.gaps.push({ time: since, end: new Date(serverNow()).toISOString(), gap: 'paused' });
    // Bounded as the history's own gaps are, on a page left open through many pauses without a read.
    if (entry.gaps.length > GAPS_KEPT) entry.gaps.splice(0, entry.gaps.length - GAPS_KEPT);
    renderHistory(entry);
  }

  function addChange(entry, change) {
    var reason = String(change.reason);
    var item = {
      time: change.time, from: change.from, to: change.to,
      reason: reason.length > REASON_MAX ? reason.slice(0, REASON_MAX) + '\u2026' : reason
    };
    if (entry.pending) entry.pending.push(item);
    entry.transitions.push(item);
    if (entry.transitions.length > HISTORY_FETCHED) entry.transitions.splice(0, entry.transitions.length - HISTORY_FETCHED);
    renderHistory(entry);
    refetchLater(entry);
  }

  function renderHistory(entry) {
    var list = entry.changes;
    var shown = entry.transitions.slice(-HISTORY_SHOWN);
    var from = shown.length > 0 && entry.transitions.length >= HISTORY_SHOWN ? Date.parse(shown[0].time) : -Infinity;
    entry.gaps.forEach(function (gap) { if (Date.parse(gap.time) >= from) shown.push(gap); });
    shown.sort(byTime);
    shown = shown.slice(-HISTORY_SHOWN);
    list.textContent = '';
    shown.forEach(function (item) { list.appendChild(item.gap ? gapItem(item) : changeItem(item)); });
    var state = '';
    if (entry.failed) state = 'Earlier changes could not be loaded.';
    else if (!entry.loaded && shown.length === 0) state = 'Loading\u2026';
    else if (shown.length === 0) state = 'No status changes yet.';
    entry.historyState.textContent = state;
    entry.historyState.hidden = state === '';
    renderBeats(entry);
    renderTimeline();
  }

  function timeOf(iso) {
    var node = make('time', '', clockTime(iso));
    node.setAttribute('datetime', iso);
    return node;
  }

  function clockTime(iso) {
    var date = new Date(iso);
    var time = date.toLocaleTimeString();
    if (date.toDateString() === new Date(serverNow()).toDateString()) return time;
    return date.toLocaleDateString(undefined, { month: 'short', day: 'numeric' }) + ' ' + time;
  }

  function changeItem(item) {
    var node = make('li', 'change to-' + item.to);
    node.appendChild(timeOf(item.time));
    node.appendChild(make('span', 'move', item.from + ARROW + item.to));
    // Heard, not seen: the reason sits on a line of its own.
    node.appendChild(make('span', 'said', ': '));
    node.appendChild(make('span', 'reason', item.reason));
    return node;
  }

  function gapItem(item) {
    var node = make('li', 'gap');
    node.appendChild(timeOf(item.time));
    node.appendChild(make('span', 'move', item.gap));
    node.appendChild(make('span', 'reason', 'for ' + duration(Date.parse(item.end) - Date.parse(item.time)) + ', until ' + clockTime(item.end)));
    return node;
  }

  function setDetailed(shown) {
    detailsNote.hidden = shown;
    if (!shown) services.forEach(dropHistory);
    renderTimeline();
  }
`;
