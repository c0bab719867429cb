/** Service bodies the page has out at once when it reads dependents again: a dependency with many of them must not fire hundreds at its server. */
const BODY_FETCHES = 4;

/** The reason `pause()` gives without one: it says nothing the word "paused" does not. */
const DEFAULT_PAUSE_REASON = 'paused';

/**
 * The part of the page's script that writes each card's notes, spliced into the function of
 * `PAGE_SCRIPT`, whose `services`, `make`, `duration`, `serverNow` and `update` it uses, and
 * `serviceUrl` of the history part. It gives the page `addNotes`, `renderNotes`, `refreshRun`
 * and `dependencyChanged`.
 *
 * From the service body: a job's open run ("running for 42s", counted on like the uptime) and
 * the last one's duration ("last run 12s"); a pause ("paused until 14:00", in the viewer's
 * local time, or "paused" with no end, then its reason), which also mutes the card; and the
 * dependency holding the service's alerts ("held: depends on save_worker"). All as text, so
 * none is told by colour alone, and through `textContent`, so a reason is never HTML.
 *
 * A body's `suppressed_by` changes when the dependency changes, which no event of the
 * dependent says: when a dependency recovers, the cards it held read their bodies again.
 */
export const CARD_NOTES_SCRIPT: string = `
  var DEFAULT_PAUSE_REASON = ${JSON.stringify(DEFAULT_PAUSE_REASON)};
  var BODY_FETCHES = ${BODY_FETCHES};
  var bodyQueue = [];
  var bodyFetches = 0;

  function addNotes(entry, container) {
    entry.runNote = note(container, 'run');
    entry.pauseNote = note(container, 'pause');
    entry.heldNote = note(container, 'held');
    entry.bodyQueued = false;
  }

  function note(container, className) {
    var node = make('p', className);
    node.hidden = true;
    container.appendChild(node);
    return node;
  }

  function setNote(node, text) {
    if (node.textContent !== text) node.textContent = text;
    node.hidden = text === '';
  }

  function renderNotes(entry) {
    var data = entry.data;
    entry.card.classList.toggle('paused', Boolean(data.paused));
    setNote(entry.pauseNote, data.paused ? pauseText(data.paused) : '');
    setNote(entry.heldNote, data.suppressed_by ? 'held: depends on ' + data.suppressed_by : '');
    refreshRun(entry);
  }

  /** Called every second too: an open run's time counts on. */
  function refreshRun(entry) {
    var run = entry.data ? entry.data.run : null;
    var parts = [];
    if (run && run.state === 'running' && run.started_at) parts.push('running for ' + duration(serverNow() - Date.parse(run.started_at)));
    if (run && typeof run.last_duration_seconds === 'number') parts.push('last run ' + runLength(run.last_duration_seconds));
    setNote(entry.runNote, parts.join(' \\u00B7 '));
  }

  // A short job's time in tenths ("0.4s"): whole seconds would say a 400 ms run took none.
  function runLength(seconds) {
    return seconds < 10 ? Math.round(seconds * 10) / 10 + 's' : duration(seconds * 1000);
  }

  function pauseText(paused) {
    var text = paused.until ? 'paused until ' + untilTime(paused.until) : 'paused';
    if (paused.reason && paused.reason !== DEFAULT_PAUSE_REASON) text += ' \\u2014 ' + paused.reason;
    return text;
  }

  // The viewer's local time, with the day when it is not today.
  function untilTime(iso) {
    var date = new Date(iso);
    var time = date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
    if (date.toDateString() === new Date(serverNow()).toDateString()) return time;
    return date.toLocaleDateString(undefined, { month: 'short', day: 'numeric' }) + ' ' + time;
  }

  /** \`name\` changed status: the cards it held while down may be held no more, or by another dependency. */
  function dependencyChanged(name) {
    var health = services.get(name);
    var status = health && health.data ? health.data.status : null;
    if (status === 'degraded' || status === 'critical') return;
    services.forEach(function (entry) {
      if (entry.data && entry.data.suppressed_by === name && !entry.bodyQueued) {
        entry.bodyQueued = true;
        bodyQueue.push(entry);
      }
    });
    pumpBodies();
  }

  function pumpBodies() {
    while (bodyFetches < BODY_FETCHES && bodyQueue.length > 0) {
      var entry = bodyQueue.shift();
      entry.bodyQueued = false;
      if (services.get(entry.name) === entry) loadBody(entry);
    }
  }

  function loadBody(entry) {
    bodyFetches++;
    fetch(serviceUrl + encodeURIComponent(entry.name), { headers: { Accept: 'application/json' }, cache: 'no-store' })
      .then(function (response) { return response.ok ? response.json() : null; })
      .catch(function () { return null; })
      .then(function (health) {
        bodyFetches--;
        // A card gone meanwhile stays gone; a failed read leaves the note as it was.
        if (health && health.service === entry.name && services.get(entry.name) === entry) update(health);
        pumpBodies();
      });
  }
`;
