/**
 * The status page's stylesheet, served inline under a CSP hash. Light and dark
 * (`prefers-color-scheme`), each colour of text at least 4.5:1 (WCAG AA) on what it sits on:
 * the status colours as text on the cards, white on the banner and the critical badge.
 */
export const PAGE_STYLE: string = `
:root { color-scheme: light dark; --bg: #f5f6f8; --fg: #1d2330; --muted: #586070; --card: #fff; --line: #d0d5de; --focus: #1a56db;
  --healthy: #16813a; --warning: #8f5b00; --degraded: #b93d0b; --critical: #c81e1e; --offline: #5f6672;
  --banner-healthy: #16813a; --banner-warning: #8f5b00; --banner-degraded: #b93d0b; --banner-critical: #c81e1e; --banner-offline: #5f6672; }
@media (prefers-color-scheme: dark) { :root { --bg: #12151b; --fg: #e7eaf0; --muted: #a3acba; --card: #1b2029; --line: #343c4a; --focus: #8ab4ff;
  --healthy: #4cc774; --warning: #f0b429; --degraded: #fb8c3c; --critical: #ff6b6b; --offline: #9aa2b0;
  --banner-healthy: #17703a; --banner-warning: #7a4e00; --banner-degraded: #a3380b; --banner-critical: #b3261e; --banner-offline: #4b5563; } }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--fg); }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
.banner { display: flex; align-items: center; gap: .6rem; padding: .9rem 1.2rem; color: #fff; background: var(--banner-offline); position: sticky; top: 0; z-index: 1; }
.banner h1 { font-size: 1.1rem; font-weight: 600; margin: 0; overflow-wrap: anywhere; min-width: 0; }
.banner .time { margin-left: auto; font-weight: 400; font-size: .85rem; white-space: nowrap; }
.banner.status-healthy { background: var(--banner-healthy); }
.banner.status-warning { background: var(--banner-warning); }
.banner.status-degraded { background: var(--banner-degraded); }
.banner.status-critical { background: var(--banner-critical); animation: ring 1.2s ease-in-out infinite; }
.banner.status-offline, .banner.no-signal { background: var(--banner-offline); animation: none; }
.icon { display: inline-block; min-width: 1.2em; text-align: center; }
.group { padding: 0 1rem; }
.group-title { font-size: 1rem; margin: 1rem 0 0; color: var(--fg); overflow-wrap: anywhere; }
.cards { display: grid; gap: 1rem; padding: 1rem 0; grid-template-columns: repeat(auto-fill, minmax(min(100%, 19rem), 1fr)); }
.card { background: var(--card); border: 1px solid var(--line); border-left: .5rem solid var(--offline); border-radius: .6rem; padding: .8rem 1rem; min-width: 0; scroll-margin-top: 5rem; }
.card header { display: flex; align-items: flex-start; gap: .4rem; }
.card h3 { font-size: 1.05rem; margin: 0; flex: 1; min-width: 0; line-height: 1.6rem; overflow-wrap: normal; word-break: normal; overflow: hidden; text-overflow: ellipsis; }
.badge { display: inline-flex; gap: .25rem; align-items: center; font-weight: 600; padding: .1rem .5rem; border-radius: 1rem; border: 1px solid currentColor; white-space: nowrap; flex: none; }
.marks { display: flex; flex-direction: column; align-items: flex-end; gap: .3rem; flex: none; }
/* An early signal, not a status: the text colour, a dashed edge, never a status colour. */
.risk { font-size: .8rem; font-weight: 600; line-height: 1.3; padding: .05rem .45rem; border-radius: 1rem; border: 1px dashed var(--fg); color: var(--fg); white-space: nowrap; }
.pulse { flex: none; width: 1.6rem; height: 1.6rem; display: inline-flex; align-items: center; justify-content: center; }
.dot { width: .7rem; height: .7rem; border-radius: 50%; background: var(--offline); }
.since { margin: .35rem 0 0; font-size: .9rem; font-weight: 600; }
.card dl { display: grid; grid-template-columns: auto 1fr; gap: .2rem .8rem; margin: .5rem 0 0; font-size: .9rem; }
.card dt { color: var(--muted); }
.card dd { margin: 0; overflow-wrap: anywhere; min-width: 0; }
.status-healthy.card { border-left-color: var(--healthy); } .status-healthy .badge, .status-healthy .since { color: var(--healthy); } .status-healthy .dot { background: var(--healthy); }
.status-warning.card { border-left-color: var(--warning); } .status-warning .badge, .status-warning .since { color: var(--warning); } .status-warning .dot { background: var(--warning); }
.status-degraded.card { border-left-color: var(--degraded); border-style: dashed solid dashed solid; } .status-degraded .badge, .status-degraded .since { color: var(--degraded); } .status-degraded .dot { background: var(--degraded); }
.status-critical.card { border-left-color: var(--critical); box-shadow: 0 0 0 2px var(--critical); animation: ring 1.2s ease-in-out infinite; }
.status-critical .badge { color: #fff; background: var(--banner-critical); border-color: var(--banner-critical); } .status-critical .since { color: var(--critical); } .status-critical .dot { background: var(--critical); }
.notes p { margin: .45rem 0 0; font-size: .85rem; color: var(--muted); overflow-wrap: anywhere; }
.notes .pause, .notes .run { color: var(--fg); font-weight: 600; }
.paused.card { border-left-color: var(--offline); border-style: solid solid solid dotted; background: transparent; box-shadow: none; animation: none; }
.paused .badge, .paused .since { color: var(--muted); background: none; border-color: currentColor; } .paused .dot { background: var(--offline); }
.card.target { outline: 3px solid var(--focus); outline-offset: 2px; }
.flash { animation: flash .9s ease-out 2; }
.beat .dot { animation: beat .45s ease-out; }
.beats-row { margin-top: .6rem; }
.beats { list-style: none; margin: 0; padding: 0; display: flex; gap: 2px; height: 1.4rem; }
.tick { flex: 1; min-width: 0; border-radius: 2px; background: var(--offline); }
.tick-healthy { background: var(--healthy); } .tick-warning { background: var(--warning); } .tick-degraded { background: var(--degraded); }
.tick-critical { background: var(--critical); } .tick-offline { background: var(--offline); }
.tick-gap { background: repeating-linear-gradient(135deg, var(--offline) 0 3px, transparent 3px 6px); }
.tick-none { background: none; border: 1px dashed var(--line); }
.uptime-figures { margin: .35rem 0 0; font-size: .85rem; font-variant-numeric: tabular-nums; }
.uptime-figures .label { color: var(--muted); }
.more { margin-top: .6rem; }
.more summary { cursor: pointer; font-size: .9rem; font-weight: 600; color: var(--fg); padding: .2rem 0; width: max-content; }
summary:focus-visible, .card:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; border-radius: .2rem; }
.history { margin-top: .7rem; border-top: 1px solid var(--line); padding-top: .5rem; font-size: .85rem; }
.history h4 { font-size: .85rem; font-weight: 600; margin: 0 0 .3rem; color: var(--muted); }
.changes { list-style: none; margin: 0; padding: 0; display: grid; gap: .25rem; }
.changes li { display: grid; grid-template-columns: auto 1fr; gap: 0 .6rem; min-width: 0; }
.changes time { color: var(--muted); white-space: nowrap; font-variant-numeric: tabular-nums; }
.changes .move { font-weight: 600; border-left: .25rem solid var(--offline); padding-left: .35rem; }
.changes .reason { grid-column: 2; overflow-wrap: anywhere; min-width: 0; }
.to-healthy .move { border-left-color: var(--healthy); } .to-warning .move { border-left-color: var(--warning); }
.to-degraded .move { border-left-color: var(--degraded); } .to-critical .move { border-left-color: var(--critical); }
.changes .gap .move { border-left-style: dotted; font-style: italic; }
.history-state { margin: 0; color: var(--muted); }
.changes .said { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
.timeline { padding: 0 1rem 1rem; }
.timeline h2 { font-size: 1rem; margin: .5rem 0; }
.timeline-empty { margin: 0; color: var(--muted); font-size: .9rem; }
.incidents { list-style: none; margin: 0; padding: 0; display: grid; gap: .3rem; font-size: .9rem; }
.incident { display: grid; grid-template-columns: auto 1fr auto auto; gap: 0 .7rem; align-items: baseline; background: var(--card); border: 1px solid var(--line); border-left: .35rem solid var(--critical); border-radius: .4rem; padding: .35rem .6rem; min-width: 0; }
.incident.to-degraded { border-left-color: var(--degraded); }
.incident.resolved { border-left-style: dotted; }
.incident time, .incident-length { color: var(--muted); white-space: nowrap; font-variant-numeric: tabular-nums; }
.incident-what { min-width: 0; overflow-wrap: anywhere; }
.incident-service { font-weight: 600; }
.incident-state { font-weight: 600; }
.ongoing .incident-state { color: var(--critical); }
@media (max-width: 30rem) { .incident { grid-template-columns: auto 1fr; } .incident-length, .incident-state { grid-column: 2; } }
/* Stale while the stream is lost: every status colour turns the offline grey, still at AA contrast (a fade was not). */
body.no-signal .card { --healthy: var(--offline); --warning: var(--offline); --degraded: var(--offline); --critical: var(--offline); --banner-critical: var(--banner-offline); animation: none; }
footer { padding: 0 1rem 1.5rem; color: var(--muted); font-size: .85rem; }
footer p { margin: 0 0 .4rem; }
@keyframes beat { 0% { transform: scale(1); } 30% { transform: scale(1.5); box-shadow: 0 0 0 .25rem rgba(22,129,58,.25); } 100% { transform: scale(1); } }
@keyframes flash { 0%, 100% { background: var(--card); } 40% { background: rgba(240,180,41,.25); } }
@keyframes ring { 0%, 100% { box-shadow: 0 0 0 2px var(--critical); } 50% { box-shadow: 0 0 0 5px var(--critical); } }
@media (prefers-reduced-motion: reduce) { .beat .dot, .flash, .status-critical.card, .banner.status-critical { animation: none; } }
`;
