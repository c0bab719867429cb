/**
 * The part of the page's script that marks a card "at risk", spliced into the function of
 * `PAGE_SCRIPT`, whose `services`, `make`, `field`, `DASH` and `announce` it uses. It gives the
 * page `addRisk`, `isAtRisk`, `renderRisk` and `onTrend`.
 *
 * A service is at risk while the gaps between its pulses forecast a missed beat (its body's
 * `trend.at_risk`): an early signal beside the status, which it never changes. The card then
 * shows a chip `at risk` under its status word, in the page's text colour, never a status
 * colour, and the cards keep their order. With details the chip's title and accessible name
 * carry the reason (`at risk: gaps growing 1.5 s per beat: a miss expected in about 33 s`), and
 * the card's details have the trend's reason whatever it says (`steady`, `learning: 4 of 10
 * gaps`). Without details the stream gives the flag alone, and so does the chip. The flag comes
 * from the snapshot (each body's `trend`, or a summary's `at_risk`) and the `trend` event.
 */
export const RISK_SCRIPT: string = `
  function addRisk(entry, marks, list) {
    var chip = make('span', 'risk');
    chip.hidden = true;
    chip.appendChild(make('span', '', 'at risk'));
    // Said after the word by screen readers; the same text is the chip's title on hover.
    entry.riskReason = make('span', 'visually-hidden');
    chip.appendChild(entry.riskReason);
    marks.appendChild(chip);
    entry.risk = chip;
    entry.trend = field(list, 'Trend', 'trend');
  }

  /** With details, the body's trend; without, the flag of the summary or the trend event. */
  function isAtRisk(data) {
    if (data.trend) return data.trend.at_risk === true;
    return data.at_risk === true;
  }

  function renderRisk(entry) {
    var data = entry.data;
    var risky = isAtRisk(data);
    var reason = risky && data.trend && data.trend.reason ? data.trend.reason : '';
    entry.risk.hidden = !risky;
    if (entry.riskReason.textContent !== (reason ? ': ' + reason : '')) entry.riskReason.textContent = reason ? ': ' + reason : '';
    if (risky) entry.risk.title = reason ? 'at risk: ' + reason : 'at risk';
    else entry.risk.removeAttribute('title');
    entry.trend.textContent = data.trend ? data.trend.reason : DASH;
  }

  function onTrend(event) {
    // With details { service, time, trend }; without, { service, at_risk }.
    var change = JSON.parse(event.data);
    var entry = services.get(change.service);
    if (!entry || !entry.data) return;
    if (change.trend) entry.data.trend = change.trend;
    else entry.data.at_risk = change.at_risk === true;
    renderRisk(entry);
    announce([entry]);
  }
`;
