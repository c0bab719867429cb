// The layers of lib/, checked by __tests__/architecture.test.ts (and `npx depcruise lib`):
//   util  ← core ← http, metrics, alerts, page, client
//   util, core/store.ts ← store (files behind the core's store contract)
// util depends on nothing in lib/; core on util alone, and never on Express or prom-client;
// the outer layers on core and util, and on each other only where http composes them.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import cycle, type-only ones included: lib/ is a tree of layers.',
      from: { path: '^lib/' },
      to: { circular: true },
    },
    {
      name: 'util-depends-on-nothing',
      severity: 'error',
      comment: 'lib/util holds small tools every layer may use: they import nothing else from lib/.',
      from: { path: '^lib/util/' },
      to: { path: '^lib/', pathNot: '^lib/util/' },
    },
    {
      name: 'store-implements-the-contract-only',
      severity: 'error',
      comment:
        'lib/store implements the store contract of lib/core/store.ts (and, for a store replicas share, lib/core/replicas.ts); it knows nothing else of the engine or the layers around it.',
      from: { path: '^lib/store/' },
      to: { path: '^lib/', pathNot: '^lib/(store|util)/|^lib/core/(store|replicas)[.]ts$' },
    },
    {
      name: 'core-stays-inside',
      severity: 'error',
      comment: 'The engine knows nothing of the layers that serve it.',
      from: { path: '^lib/core/' },
      to: { path: '^lib/', pathNot: '^lib/(core|util)/' },
    },
    {
      name: 'core-without-express-or-prom-client',
      severity: 'error',
      comment: 'The engine runs without a web framework or a metrics library.',
      from: { path: '^lib/(core|util)/' },
      to: { path: 'node_modules/(express|prom-client)/' },
    },
    {
      name: 'exporters-do-not-use-http',
      severity: 'error',
      comment: 'metrics, alerts, page and client stand beside the HTTP layer; http composes them, not the reverse.',
      from: { path: '^lib/(metrics|alerts|page|client)/' },
      to: { path: '^lib/http/' },
    },
    {
      name: 'no-sideways-between-exporters',
      severity: 'error',
      comment: 'Each exporter stands alone.',
      from: { path: '^lib/(metrics|alerts|page|client)/' },
      to: { path: '^lib/(metrics|alerts|page|client)/', pathNot: '^lib/$1/' },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|build|docs)/' },
  },
};
