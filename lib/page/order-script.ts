/**
 * The part of the page's script that orders the cards, spliced into the function of
 * `PAGE_SCRIPT`, whose `services` and `make` it uses. It gives the page `orderCards`,
 * `orderLater` and `groupOf`.
 *
 * Worst first (critical, degraded, warning, offline, healthy; a paused service last, as it
 * says nothing of the system's health), then by name, so on a phone the critical card is the
 * first one seen. Services with a `group` in the config are shown in a section per group headed
 * by its name, each sorted alike; services without one are under "Other services" (with no
 * group configured: one list). Sections go in the order of their worst service, so a critical
 * card is first wherever it is; on a tie "Other services" comes last. Cards are
 * sorted again when a status changes, at most once a frame; a card holding the keyboard focus
 * keeps it and stays where it was on the screen, so the page never jumps under the reader.
 */
export const CARD_ORDER_SCRIPT: string = `
  var ORDER_RANK = { critical: 0, degraded: 1, warning: 2, offline: 3, healthy: 4 };
  var PAUSED_RANK = 5;
  var cardsRoot = document.getElementById('cards');
  var sections = new Map();
  var orderQueued = false;
  // Never reused: a group gone and another come must not take a heading id still on the page.
  var sectionCount = 0;

  function groupOf(health) { return typeof health.group === 'string' && health.group !== '' ? health.group : null; }

  function rankOf(entry) {
    var data = entry.data || {};
    if (data.paused) return PAUSED_RANK;
    var rank = ORDER_RANK[data.status];
    return rank === undefined ? ORDER_RANK.offline : rank;
  }

  function byWorst(a, b) {
    return rankOf(a) - rankOf(b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  }

  function orderLater() {
    if (orderQueued) return;
    orderQueued = true;
    // After this event's other cards are updated: one sort for a batch of changes.
    setTimeout(orderCards, 0);
  }

  function sectionFor(key) {
    var section = sections.get(key);
    if (section) return section;
    var node = make('section', 'group');
    var heading = make('h2', 'group-title');
    heading.id = 'group-' + (++sectionCount) + '-title';
    node.setAttribute('aria-labelledby', heading.id);
    node.appendChild(heading);
    var list = make('div', 'cards');
    node.appendChild(list);
    section = { node: node, heading: heading, list: list, key: key };
    sections.set(key, section);
    return section;
  }

  function orderCards() {
    orderQueued = false;
    var focused = document.activeElement;
    var focusedCard = focused && focused.closest ? focused.closest('article.card') : null;
    var before = focusedCard ? focusedCard.getBoundingClientRect().top : 0;
    var byGroup = new Map();
    services.forEach(function (entry) {
      entry.group = entry.data ? groupOf(entry.data) : null;
      var key = entry.group === null ? '' : entry.group;
      if (!byGroup.has(key)) byGroup.set(key, []);
      byGroup.get(key).push(entry);
    });
    var keys = Array.from(byGroup.keys());
    keys.forEach(function (key) { byGroup.get(key).sort(byWorst); });
    // The worst service decides, the ungrouped section's too: a critical card without a group
    // must not sit below healthy sections. On a tie the ungrouped section comes last.
    keys.sort(function (a, b) {
      var worse = rankOf(byGroup.get(a)[0]) - rankOf(byGroup.get(b)[0]);
      if (worse !== 0) return worse;
      if (a === '' || b === '') return a === '' ? 1 : -1;
      return a < b ? -1 : 1;
    });
    var grouped = keys.some(function (key) { return key !== ''; });
    sections.forEach(function (section, key) {
      if (!byGroup.has(key)) {
        section.node.remove();
        sections.delete(key);
      }
    });
    keys.forEach(function (key, index) {
      var section = sectionFor(key);
      var title = key !== '' ? key : grouped ? 'Other services' : 'Services';
      if (section.heading.textContent !== title) section.heading.textContent = title;
      // One list needs no visible heading; assistive technology still gets one.
      section.heading.classList.toggle('visually-hidden', !grouped);
      section.node.classList.toggle('ungrouped', key === '');
      place(cardsRoot, section.node, index);
      byGroup.get(key).forEach(function (entry, at) { place(section.list, entry.card, at); });
    });
    if (focusedCard && document.activeElement !== focused) focused.focus({ preventScroll: true });
    if (focusedCard) {
      var moved = focusedCard.getBoundingClientRect().top - before;
      if (moved !== 0) window.scrollBy(0, moved);
    }
  }

  function place(parent, node, index) {
    if (parent.children[index] !== node) parent.insertBefore(node, parent.children[index] || null);
  }
`;
