/** Status changes the live region names in one announcement; past it, it says how many more. */
export const SAID_AT_ONCE = 5;

/**
 * The part of the page's script that tells screen reader users what changed and opens the card
 * a link points at, spliced into the function of `PAGE_SCRIPT`, whose `services` and `isAtRisk`
 * it uses. It gives the page `announce`, `forgetAnnounced`, `openFragment` and `fragmentOpened`.
 *
 * Status changes are said in a polite live region ("save_worker is now critical"), one sentence
 * per service that changed in an event, never for pulses; the first snapshot says nothing (the
 * banner is the page's heading). A service turning at risk is said once when it turns
 * ("save_worker is at risk"); its clearing is not (the chip goes). `#{encodeURIComponent(name)}`
 * in the URL, as an Alertmanager alert's `generatorURL` links it, scrolls to that card, opens its
 * details and focuses them.
 */
export const LIVE_REGION_SCRIPT: string = `
  var announcer = document.getElementById('announcer');
  var announced = new Map();
  var riskAnnounced = new Map();
  var toSay = [];
  var sayQueued = false;
  var SAID_AT_ONCE = ${SAID_AT_ONCE};
  var fragmentOpened = null;

  function announce(entries) {
    entries.forEach(function (entry) {
      var status = entry.data ? entry.data.status : null;
      var before = announced.get(entry.name);
      announced.set(entry.name, status);
      if (status !== null && before !== undefined && before !== status) toSay.push(entry.name + ' is now ' + status);
      var risky = entry.data ? isAtRisk(entry.data) : false;
      var riskyBefore = riskAnnounced.get(entry.name);
      riskAnnounced.set(entry.name, risky);
      if (risky && riskyBefore === false) toSay.push(entry.name + ' is at risk');
    });
    services.forEach(function (entry) {
      if (!announced.has(entry.name) && entry.data) announced.set(entry.name, entry.data.status);
      if (!riskAnnounced.has(entry.name) && entry.data) riskAnnounced.set(entry.name, isAtRisk(entry.data));
    });
    // The changes of one turn (a burst of status events) said together: a new text cuts off the last.
    if (toSay.length > 0 && !sayQueued) {
      sayQueued = true;
      setTimeout(sayNow, 0);
    }
  }

  function forgetAnnounced(name) {
    announced.delete(name);
    riskAnnounced.delete(name);
  }

  function sayNow() {
    sayQueued = false;
    if (toSay.length === 0) return;
    // A mass change (one snapshot for thousands) is said in one sentence, not read out in full.
    var told = toSay.slice(0, SAID_AT_ONCE).join('. ') + '.';
    // "More changes", not "services changed status": an "is at risk" is no change of status.
    if (toSay.length > SAID_AT_ONCE) told += ' ' + (toSay.length - SAID_AT_ONCE) + ' more changes.';
    announcer.textContent = told;
    toSay = [];
  }

  function openFragment() {
    var hash = window.location.hash.slice(1);
    if (!hash || hash === fragmentOpened) return;
    var name;
    try { name = decodeURIComponent(hash); } catch (error) { return; }
    var entry = services.get(name);
    if (!entry) return;
    fragmentOpened = hash;
    // Once placed: the first snapshot's cards are sorted after this event.
    setTimeout(function () {
      services.forEach(function (other) { other.card.classList.remove('target'); });
      entry.more.open = true;
      entry.card.classList.add('target');
      entry.summary.focus({ preventScroll: true });
      entry.card.scrollIntoView({ block: 'start' });
    }, 0);
  }
`;
