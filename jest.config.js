/** @type {import('jest').Config} */
module.exports = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/__tests__'],
  testMatch: ['**/*.test.ts'],
  // Child-process and browser tests start real programs; give them room on a 2-core machine.
  testTimeout: 20000,
  collectCoverageFrom: ['lib/**/*.ts'],
  coverageReporters: ['text-summary', 'json-summary'],
  // Just under the figures of the last full run (docs/development.md), so coverage cannot
  // silently fall; raise them when it rises.
  coverageThreshold: { global: { statements: 97, branches: 90, functions: 91, lines: 98 } },
};
