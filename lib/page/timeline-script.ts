/** Incidents the timeline lists, newest first: the page's memory, not an archive. */
export const TIMELINE_SHOWN = 50;

/**
 * The part of the page's script that lists recent incidents across services, spliced into the
 * function of `PAGE_SCRIPT`, whose `services`, `make`, `duration`, `serverNow` and `timeOf` it
 * uses. It gives the page `renderTimeline` and `refreshTimeline`.
 *
 * An incident is a service's time down (degraded or critical, as the uptime counts it), from
 * the change that took it down to the one that brought it back up: which service, the worst
 * status it reached, when, for how long (counting on while it lasts) and whether it is resolved.
 * It is built here from the transitions the page already holds for the beat bars (the
 * histories it read and the stream's changes since), so it costs no request of its own; an
 * outage that began before the oldest transition held is left out, its start unknown. The last
 * {@link TIMELINE_SHOWN}, newest first. Without details there are no histories, and no timeline.
 */
export const TIMELINE_SCRIPT: string = `
  var TIMELINE_SHOWN = ${TIMELINE_SHOWN};
  var DOWN = { degraded: true, critical: true };
  var timelineSection = document.getElementById('timeline');
  var timelineList = document.getElementById('incidents');
  var timelineEmpty = document.getElementById('timeline-empty');
  var timelineQueued = false;
  // The ongoing incidents shown: their length node and start, counted on in place each second.
  var ongoingShown = [];

  function incidentsOf(entry) {
    var found = [];
    var open = null;
    entry.transitions.forEach(function (change) {
      if (DOWN[change.to] && !DOWN[change.from]) {
        open = { service: entry.name, start: change.time, end: null, status: change.to };
        found.push(open);
      } else if (open && DOWN[change.to]) {
        if (change.to === 'critical') open.status = 'critical';
      } else if (open && !DOWN[change.to]) {
        open.end = change.time;
        open = null;
      }
    });
    return found;
  }

  function renderTimeline() {
    if (timelineQueued) return;
    timelineQueued = true;
    // Once for a batch of histories read or changes taken in.
    setTimeout(drawTimeline, 0);
  }

  function drawTimeline() {
    timelineQueued = false;
    var detailed = false;
    var incidents = [];
    services.forEach(function (entry) {
      if (!entry.history) return;
      detailed = true;
      incidents = incidents.concat(incidentsOf(entry));
    });
    timelineSection.hidden = !detailed;
    incidents.sort(function (a, b) { return Date.parse(b.start) - Date.parse(a.start) || (a.service < b.service ? -1 : 1); });
    incidents = incidents.slice(0, TIMELINE_SHOWN);
    ongoingShown = [];
    timelineList.textContent = '';
    incidents.forEach(function (incident) { timelineList.appendChild(incidentItem(incident)); });
    timelineEmpty.hidden = incidents.length > 0;
  }

  function incidentItem(incident) {
    var resolved = incident.end !== null;
    var node = make('li', 'incident to-' + incident.status + (resolved ? ' resolved' : ' ongoing'));
    node.setAttribute('data-service', incident.service);
    node.setAttribute('data-status', incident.status);
    node.setAttribute('data-start', incident.start);
    if (resolved) node.setAttribute('data-end', incident.end);
    node.appendChild(timeOf(incident.start));
    var what = make('span', 'incident-what');
    what.appendChild(make('span', 'incident-service', incident.service));
    what.appendChild(document.createTextNode(' went '));
    what.appendChild(make('span', 'incident-status', incident.status));
    node.appendChild(what);
    var end = resolved ? Date.parse(incident.end) : serverNow();
    var length = make('span', 'incident-length', 'for ' + duration(end - Date.parse(incident.start)));
    node.appendChild(length);
    if (!resolved) ongoingShown.push({ length: length, start: Date.parse(incident.start) });
    node.appendChild(make('span', 'incident-state', resolved ? 'resolved' : 'ongoing'));
    return node;
  }

  /**
   * Called every second: an ongoing incident's length counts on, in its own text. The list is
   * not rebuilt, so a screen reader's place in it, a selection or a search stays, and a page of
   * many services does not sort every change it holds each second.
   */
  function refreshTimeline() {
    ongoingShown.forEach(function (item) {
      var text = 'for ' + duration(serverNow() - item.start);
      if (item.length.textContent !== text) item.length.textContent = text;
    });
  }
`;
