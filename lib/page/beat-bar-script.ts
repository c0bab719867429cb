/** Ticks in a card's beat bar: one per interval, as Uptime Kuma's row of recent checks. */
export const BEAT_TICKS = 30;

/**
 * The part of the page's script that draws each card's beat bar, its uptime figures and the time
 * since its last change, spliced into the function of `PAGE_SCRIPT`, whose `make`, `since`,
 * `serverNow` and `clockTime` it uses. It gives the page `addBeats`, `renderBeats`,
 * `refreshBeats` and `refreshSince`.
 *
 * The bar has {@link BEAT_TICKS} ticks, one per interval of the service, newest last, each
 * coloured by the worst status the service had in it (from the history's transitions and the
 * stream's changes), grey where the monitor was offline or the service paused, empty before the
 * service started (or, after a restart, before the oldest change or offline time it holds). Each tick says its time and status in its `title` (on hover) and in hidden
 * text (for screen readers), so no status is told by colour alone. Beside it, the 24 h and 7 d
 * uptime of `/history` ("Uptime 24 h 99.87% · 7 d 99.98%", never rounded up to 100%). Under the
 * header, the status and how long it has held ("critical for 3 min"). All of it needs the history,
 * a detail: without details the card has only the time since a change this page saw.
 */
export const BEAT_BAR_SCRIPT: string = `
  var BEAT_TICKS = ${BEAT_TICKS};
  var STATUS_RANK = { healthy: 0, warning: 1, offline: 2, degraded: 3, critical: 4 };

  function addBeats(entry) {
    var row = make('div', 'beats-row');
    row.hidden = true;
    entry.beats = make('ol', 'beats');
    entry.beats.setAttribute('aria-label', 'Status by interval, oldest first');
    row.appendChild(entry.beats);
    entry.uptimeLine = make('p', 'uptime-figures');
    row.appendChild(entry.uptimeLine);
    entry.beatsRow = row;
    entry.beatSlot = null;
    entry.card.appendChild(row);
  }

  function percent(ratio) {
    if (typeof ratio !== 'number') return '\\u2014';
    // Floored: 99.996% up is not 100%. The tiny addend undoes a float's error below a whole
    // hundredth (0.688 * 10000 is 6879.999999999999), far less than a millisecond in 7 days.
    return ratio >= 1 ? '100%' : (Math.floor(ratio * 10000 + 1e-7) / 100).toFixed(2) + '%';
  }

  function statusAt(entry, at) {
    var list = entry.transitions;
    var status = list.length > 0 ? list[0].from : entry.data.status;
    for (var i = 0; i < list.length && Date.parse(list[i].time) <= at; i++) status = list[i].to;
    return status;
  }

  function worse(a, b) { return (STATUS_RANK[b] || 0) > (STATUS_RANK[a] || 0) ? b : a; }

  // Where the bar begins: the start, or earlier the oldest change or offline time the history
  // holds, for a restart starts the service anew (started_at moves on) but not its history.
  function knownSince(entry) {
    var at = entry.data.started_at ? Date.parse(entry.data.started_at) : -Infinity;
    if (entry.transitions.length > 0) at = Math.min(at, Date.parse(entry.transitions[0].time));
    entry.gaps.forEach(function (gap) { at = Math.min(at, Date.parse(gap.time)); });
    return at;
  }

  function tickStatus(entry, start, end) {
    if (end <= knownSince(entry)) return null;
    // A pause still on is in no history's gaps yet: its ticks are grey all the same.
    var paused = entry.data.paused;
    if (paused && paused.since && Date.parse(paused.since) <= start) return 'paused';
    for (var g = 0; g < entry.gaps.length; g++) {
      var gap = entry.gaps[g];
      if (Date.parse(gap.time) <= start && Date.parse(gap.end) >= end) return gap.gap;
    }
    var status = statusAt(entry, start);
    entry.transitions.forEach(function (change) {
      var at = Date.parse(change.time);
      if (at > start && at < end) status = worse(status, change.to);
    });
    return status;
  }

  function tick(entry, start, end) {
    var status = tickStatus(entry, start, end);
    var node = make('li', 'tick');
    var label;
    if (status === null) {
      node.classList.add('tick-none');
      label = clockTime(new Date(start).toISOString()) + ': not started';
    } else if (STATUS_RANK[status] === undefined) {
      node.classList.add('tick-gap');
      label = clockTime(new Date(start).toISOString()) + ': ' + status;
    } else {
      node.classList.add('tick-' + status);
      label = clockTime(new Date(start).toISOString()) + ': ' + status;
    }
    node.title = label;
    node.setAttribute('data-status', status === null ? 'none' : status);
    node.setAttribute('data-start', new Date(start).toISOString());
    node.appendChild(make('span', 'visually-hidden', label));
    return node;
  }

  function renderBeats(entry) {
    entry.beatSlot = null;
    refreshBeats(entry);
    if (entry.data) refreshSince(entry);
  }

  /** Called every second too: the bar moves on by a tick each interval. */
  function refreshBeats(entry) {
    if (!entry.beats) return;
    var shown = Boolean(entry.history && entry.loaded && entry.data && typeof entry.data.interval === 'number');
    entry.beatsRow.hidden = !shown;
    if (!shown) return;
    var length = Math.max(entry.data.interval * 1000, 100);
    var slot = Math.floor(serverNow() / length);
    if (slot === entry.beatSlot) return;
    entry.beatSlot = slot;
    var list = document.createDocumentFragment();
    for (var i = BEAT_TICKS - 1; i >= 0; i--) list.appendChild(tick(entry, (slot - i) * length, (slot - i + 1) * length));
    entry.beats.textContent = '';
    entry.beats.appendChild(list);
    var uptime = entry.uptime || {};
    entry.uptimeLine.textContent = '';
    entry.uptimeLine.appendChild(make('span', 'label', 'Uptime '));
    var day = make('span', 'window', '24 h ' + percent(uptime['24h']));
    day.setAttribute('data-window', '24h');
    entry.uptimeLine.appendChild(day);
    entry.uptimeLine.appendChild(document.createTextNode(' \\u00B7 '));
    var week = make('span', 'window', '7 d ' + percent(uptime['7d']));
    week.setAttribute('data-window', '7d');
    entry.uptimeLine.appendChild(week);
  }

  /** "critical for 3 min": since the last change the history or this page saw, or the start. */
  function refreshSince(entry) {
    var data = entry.data;
    var at = null;
    if (entry.history && entry.transitions.length > 0) at = Date.parse(entry.transitions[entry.transitions.length - 1].time);
    else if (entry.changedAt !== null) at = entry.changedAt;
    else if (entry.history && entry.loaded && data.started_at) at = Date.parse(data.started_at);
    var text = at === null ? '' : data.status + ' for ' + since(at);
    if (entry.sinceLine.textContent !== text) entry.sinceLine.textContent = text;
    entry.sinceLine.hidden = text === '';
  }
`;
