#!/usr/bin/env node
// Makes sure the Debian programs that the test suite drives for real are installed.
// Missing ones are installed with apt-get when we are root; otherwise this stops and prints
// the exact command to run. A test never skips silently because a program is missing.
'use strict';

const { execFileSync, spawnSync } = require('node:child_process');

/** Each program the tests run, and the Debian package that provides it. */
const REQUIRED = [
  { command: 'promtool', pkg: 'prometheus', why: 'checks /metrics output and the shipped alert rules' },
  { command: 'prometheus', pkg: 'prometheus', why: 'scrapes the demo and evaluates the shipped rules end to end' },
  { command: 'amtool', pkg: 'prometheus-alertmanager', why: 'checks the Alertmanager config in docs/metrics-and-fleet.md' },
  { command: 'chromium', pkg: 'chromium', why: 'drives the status page in a real browser' },
  { command: 'redis-server', pkg: 'redis-server', why: 'runs the replica tests against a real Redis' },
];

function has(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** Programs a script asks for by name on the command line, beyond those every test run needs. */
const ON_REQUEST = [{ command: 'stress-ng', pkg: 'stress-ng', why: 'keeps both cores busy beside the suite (npm run test:busy)' }];

const requested = process.argv.slice(2).map((command) => {
  const entry = ON_REQUEST.find((candidate) => candidate.command === command);
  if (!entry) {
    console.error(
      `[test setup] Unknown program ${JSON.stringify(command)}; this script knows ${ON_REQUEST.map((e) => e.command).join(', ')}.`,
    );
    process.exit(2);
  }
  return entry;
});
const missing = [...REQUIRED, ...requested].filter((entry) => !has(entry.command));
if (missing.length === 0) process.exit(0);

const packages = [...new Set(missing.map((entry) => entry.pkg))];
const install = `apt-get install -y --no-install-recommends ${packages.join(' ')}`;
for (const entry of missing) console.error(`[test setup] ${entry.command} is missing (package ${entry.pkg}; ${entry.why}).`);

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
if (!isRoot || !has('apt-get')) {
  console.error(`[test setup] Install it, then run the tests again:\n  sudo apt-get update && sudo ${install}`);
  process.exit(1);
}

console.error(`[test setup] Installing: apt-get update && ${install}`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
try {
  execFileSync('apt-get', ['update', '-q'], { stdio: ['ignore', 'ignore', 'inherit'], env });
  execFileSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...packages], { stdio: ['ignore', 'ignore', 'inherit'], env });
} catch (error) {
  console.error(`[test setup] apt-get failed (${error.message}). Run it yourself:\n  apt-get update && ${install}`);
  process.exit(1);
}
const still = missing.filter((entry) => !has(entry.command));
if (still.length > 0) {
  console.error(`[test setup] Still missing after install: ${still.map((entry) => entry.command).join(', ')}.`);
  process.exit(1);
}
console.error(`[test setup] Installed ${packages.join(', ')}.`);
