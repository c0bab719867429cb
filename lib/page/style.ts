/** The status page's stylesheet, served inline under a CSP hash. */
export const PAGE_STYLE: string = `
:root { color-scheme: light dark; --bg: #f5f6f8; --fg: #1d2330; --muted: #5d6575; --card: #fff; --line: #d9dde5;
  --healthy: #16813a; --warning: #a86b00; --degraded: #c2410c; --critical: #c81e1e; --offline: #6b7280; }
@media (prefers-color-scheme: dark) { :root { --bg: #12151b; --fg: #e7eaf0; --muted: #9aa3b2; --card: #1b2029; --line: #2c3340;
  --healthy: #3fbf68; --warning: #f0b429; --degraded: #fb8c3c; --critical: #ff5a5a; --offline: #8b93a1; } }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--fg); }
.banner { display: flex; align-items: center; gap: .6rem; padding: .9rem 1.2rem; font-weight: 600; font-size: 1.1rem; color: #fff; background: var(--offline); position: sticky; top: 0; z-index: 1; }
.banner .time { margin-left: auto; font-weight: 400; font-size: .85rem; opacity: .9; }
.banner.status-healthy { background: var(--healthy); }
.banner.status-warning { background: var(--warning); }
.banner.status-degraded { background: var(--degraded); }
.banner.status-critical { background: var(--critical); animation: alert 1.2s ease-in-out infinite; }
.banner.status-offline, .banner.no-signal { background: var(--offline); animation: none; }
.icon { display: inline-block; min-width: 1.2em; text-align: center; }
.cards { display: grid; gap: 1rem; padding: 1rem; grid-template-columns: repeat(auto-fill, minmax(min(100%, 17rem), 1fr)); }
.card { background: var(--card); border: 1px solid var(--line); border-left: .5rem solid var(--offline); border-radius: .6rem; padding: .8rem 1rem; min-width: 0; }
.card header { display: flex; align-items: center; gap: .5rem; }
.card h2 { font-size: 1.05rem; margin: 0; overflow-wrap: anywhere; flex: 1; }
.badge { display: inline-flex; gap: .25rem; align-items: center; font-weight: 600; padding: .1rem .5rem; border-radius: 1rem; border: 1px solid currentColor; white-space: nowrap; }
.dot { width: .8rem; height: .8rem; border-radius: 50%; background: var(--offline); flex: none; }
.card dl { display: grid; grid-template-columns: auto 1fr; gap: .2rem .8rem; margin: .7rem 0 0; font-size: .9rem; }
.card dt { color: var(--muted); }
.card dd { margin: 0; overflow-wrap: anywhere; }
.status-healthy.card { border-left-color: var(--healthy); } .status-healthy .badge { color: var(--healthy); } .status-healthy .dot { background: var(--healthy); }
.status-warning.card { border-left-color: var(--warning); } .status-warning .badge { color: var(--warning); } .status-warning .dot { background: var(--warning); }
.status-degraded.card { border-left-color: var(--degraded); border-style: dashed solid dashed solid; } .status-degraded .badge { color: var(--degraded); } .status-degraded .dot { background: var(--degraded); }
.status-critical.card { border-left-color: var(--critical); box-shadow: 0 0 0 2px var(--critical); animation: alert 1.2s ease-in-out infinite; }
.status-critical .badge { color: #fff; background: var(--critical); border-color: var(--critical); } .status-critical .dot { background: var(--critical); }
.notes p { margin: .45rem 0 0; font-size: .85rem; color: var(--muted); overflow-wrap: anywhere; }
.notes .pause { color: var(--fg); font-weight: 600; }
.paused.card { border-left-color: var(--offline); border-style: solid solid solid dotted; background: transparent; box-shadow: none; animation: none; }
.paused .badge { color: var(--muted); background: none; border-color: currentColor; } .paused .dot { background: var(--offline); }
.flash { animation: flash .9s ease-out 2; }
.beat .dot { animation: beat .45s ease-out; }
.history { margin-top: .7rem; border-top: 1px solid var(--line); padding-top: .5rem; font-size: .85rem; }
.history h3 { font-size: .85rem; font-weight: 600; margin: 0 0 .3rem; color: var(--muted); }
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
body.no-signal .card { opacity: .55; filter: grayscale(.8); }
footer { padding: 0 1rem 1.5rem; color: var(--muted); font-size: .85rem; }
footer p { margin: 0 0 .4rem; }
@keyframes beat { 0% { transform: scale(1); } 30% { transform: scale(1.7); box-shadow: 0 0 0 .35rem rgba(22,129,58,.25); } 100% { transform: scale(1); } }
@keyframes flash { 0%, 100% { background: var(--card); } 40% { background: rgba(240,180,41,.35); } }
@keyframes alert { 0%, 100% { filter: none; } 50% { filter: brightness(1.15) saturate(1.2); } }
@media (prefers-reduced-motion: reduce) { .beat .dot, .flash, .status-critical.card, .banner.status-critical { animation: none; } }
`;
