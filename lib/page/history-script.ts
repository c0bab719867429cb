import { MAX_HISTORY_REASON } from '../core/limits';

/** Status changes (and offline gaps) a card lists, newest last: enough to read an incident, few enough for a phone. */
export const HISTORY_SHOWN = 8;

/** History requests the page has out at once: a page of many services must not fire hundreds at its server. */
const HISTORY_FETCHES = 4;

/**
 * The part of the page's script that lists each card's recent status changes, spliced into
 * the function of `PAGE_SCRIPT`, whose `services`, `make`, `duration`, `serverNow` and `body`
 * it uses. It gives the page `watchCard`, `unwatchCard`, `detailsIn`, `addHistory`,
 * `markStale`, `addChange` and `setDetailed`.
 *
 * A card lists the service's last {@link HISTORY_SHOWN} status changes and the monitor's
 * offline gaps among them, as `{basePath}/service/{name}/history` has them: read once when the
 * card first comes near the screen (and again after a reconnect, or a change that came as a
 * snapshot), then kept up to date from the stream's `status` events, never fetched per event.
 * Only a stream with details gets lists: the history is details, refused to other callers.
 */
export const CARD_HISTORY_SCRIPT: string = `
  var ARROW = ' \u2192 ';
  var HISTORY_SHOWN = ${HISTORY_SHOWN};
  var HISTORY_FETCHES = ${HISTORY_FETCHES};
  // The history keeps each reason cut to this length; a live change is cut alike, to read the same.
  var REASON_MAX = ${MAX_HISTORY_REASON};
  // The times of one change, from the stream and from /history, may be a millisecond apart.
  var SAME_CHANGE_MS = 2;
  var serviceUrl = body.getAttribute('data-services');
  var detailsNote = document.getElementById('details-note');
  var historyQueue = [];
  var historyFetches = 0;
  // Histories are read for the cards on or near the screen only: far ones when scrolled to.
  var nearby = typeof IntersectionObserver === 'function' ? new IntersectionObserver(onNearby, { rootMargin: '400px 0px' }) : null;

  function watchCard(entry) {
    entry.history = entry.changes = entry.historyState = entry.pending = null;
    entry.timeline = [];
    entry.stale = entry.queued = entry.failed = entry.loaded = false;
    entry.near = !nearby;
    if (nearby) nearby.observe(entry.card);
  }

  function unwatchCard(entry) {
    if (nearby) nearby.unobserve(entry.card);
  }

  // A service body with details has its interval; the summary a caller without them gets has only service and status.
  function detailsIn(health) { return typeof health.interval === 'number'; }

  function addHistory(entry) {
    var section = make('section', 'history');
    section.appendChild(make('h3', '', 'Recent changes'));
    entry.changes = make('ol', 'changes');
    section.appendChild(entry.changes);
    entry.historyState = make('p', 'history-state', 'Loading\u2026');
    section.appendChild(entry.historyState);
    entry.card.appendChild(section);
    entry.history = section;
    markStale(entry);
  }

  function dropHistory(entry) {
    if (!entry.history) return;
    entry.history.remove();
    entry.history = entry.changes = entry.historyState = entry.pending = null;
    entry.timeline = [];
    entry.stale = entry.loaded = entry.failed = false;
  }

  function onNearby(records) {
    records.forEach(function (record) {
      var entry = services.get(record.target.getAttribute('data-service'));
      if (!entry || entry.card !== record.target) return;
      entry.near = record.isIntersecting;
      if (entry.near && entry.stale) queueHistory(entry);
    });
  }

  /** The card's list may miss changes (it is new, or the stream was lost): read it again once the card is near. */
  function markStale(entry) {
    entry.stale = true;
    if (entry.near) queueHistory(entry);
  }

  function queueHistory(entry) {
    entry.stale = false;
    if (entry.queued) return;
    entry.queued = true;
    historyQueue.push(entry);
    pumpHistory();
  }

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
    // Only the changes a card shows: a service keeps up to history_size (1,000) of them.
    fetch(serviceUrl + encodeURIComponent(entry.name) + '/history?limit=' + HISTORY_SHOWN, { headers: { Accept: 'application/json' }, cache: 'no-store' })
      .then(function (response) { return response.ok ? response.json() : null; })
      .catch(function () { return null; })
      .then(function (past) {
        historyFetches--;
        // A newer request, or a card gone: this answer is stale.
        if (entry.pending === pending && services.get(entry.name) === entry) {
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
    var items = past.transitions.slice(-HISTORY_SHOWN).map(function (change) {
      return { time: change.time, from: change.from, to: change.to, reason: change.reason };
    });
    past.gaps.forEach(function (gap) { items.push({ time: gap.start, end: gap.end, gap: gap.reason }); });
    items.sort(byTime);
    pending.forEach(function (change) {
      if (!items.some(function (item) { return sameChange(item, change); })) items.push(change);
    });
    entry.timeline = items.slice(-HISTORY_SHOWN);
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

  function addChange(entry, change) {
    var reason = String(change.reason);
    var item = {
      time: change.time, from: change.from, to: change.to,
      reason: reason.length > REASON_MAX ? reason.slice(0, REASON_MAX) + '\u2026' : reason
    };
    if (entry.pending) entry.pending.push(item);
    entry.timeline.push(item);
    if (entry.timeline.length > HISTORY_SHOWN) entry.timeline.splice(0, entry.timeline.length - HISTORY_SHOWN);
    renderHistory(entry);
  }

  function renderHistory(entry) {
    var list = entry.changes;
    list.textContent = '';
    entry.timeline.forEach(function (item) { list.appendChild(item.gap ? gapItem(item) : changeItem(item)); });
    var state = '';
    if (entry.failed) state = 'Earlier changes could not be loaded.';
    else if (!entry.loaded && entry.timeline.length === 0) state = 'Loading\u2026';
    else if (entry.timeline.length === 0) state = 'No status changes yet.';
    entry.historyState.textContent = state;
    entry.historyState.hidden = state === '';
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
  }
`;
