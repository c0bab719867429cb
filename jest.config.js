/** @type {import('jest').Config} */
module.exports = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/__tests__'],
  testMatch: ['**/*.test.ts'],
  // Child-process and browser tests start real programs; give them room on a 2-core machine.
  testTimeout: 20000,
  // The index files only re-export (each name a compiled getter that deep imports never call);
  // the packed-tarball consumer tests load them as users do.
  collectCoverageFrom: ['lib/**/*.ts', '!lib/**/index.ts'],
  coverageReporters: ['text-summary', 'json-summary'],
  // Just under the figures of the last full run (docs/development.md), so coverage cannot
  // silently fall; raise them when it rises.
  coverageThreshold: { global: { statements: 97.5, branches: 91, functions: 97.5, lines: 98.5 } },
};
