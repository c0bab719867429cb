/** @type {import('jest').Config} */
module.exports = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/__tests__'],
  testMatch: ['**/*.test.ts'],
  // Child-process and browser tests start real programs; give them room on a 2-core machine.
  testTimeout: 20000,
  collectCoverageFrom: ['lib/**/*.ts'],
};
