// Per-request overhead of the pulse middleware beside bare Express 5, a no-op middleware (the
// floor for any middleware), express-prom-bundle, pino-http and the mounted health router,
// through in-process request injection: HTTP over loopback swings ±20% between runs here,
// which would bury differences of a few hundred nanoseconds.
import express, { type RequestHandler } from 'express';
import promBundle from 'express-prom-bundle';
import inject from 'light-my-request';
import pino from 'pino';
import pinoHttp from 'pino-http';
import { Registry } from 'prom-client';
import { HeartbeatManager, healthRouter, pulseMiddleware } from '../lib';
import { differences, figure, injector, interleave, microsPerCall, type Figure } from './measure';

/** Layers stacked for the pulse-versus-no-op comparison: the difference grows with them, the noise does not. */
const STACKED = 16;

type Configuration = 'bare' | 'noop' | 'pulse' | 'promBundle' | 'pinoHttp' | 'router' | 'noopStacked' | 'pulseStacked';

const LABELS: Record<Exclude<Configuration, 'bare' | 'noopStacked' | 'pulseStacked'>, string> = {
  noop: '+ no-op middleware',
  pulse: '+ pulseMiddleware',
  promBundle: '+ express-prom-bundle',
  pinoHttp: '+ pino-http',
  router: '+ healthRouter (not hit)',
};

function app(layers: RequestHandler[]): express.Express {
  const application = express();
  for (const layer of layers) application.use(layer);
  application.get('/', (_req, res) => {
    res.end('ok');
  });
  return application;
}

export async function benchRequestOverhead(quick: boolean): Promise<Figure[]> {
  const manager = new HeartbeatManager({ config: { log_level: 'silent' } });
  const pulse = pulseMiddleware(manager.heartbeat({ tag: 'bench', interval: 30 }).start());
  const noop: RequestHandler = (_req, _res, next) => {
    next();
  };
  const apps: Record<Configuration, express.Express> = {
    bare: app([]),
    noop: app([noop]),
    pulse: app([pulse]),
    promBundle: app([promBundle({ includeMethod: true, includePath: true, promRegistry: new Registry() })]),
    // A synchronous write to /dev/null: the cost of formatting and writing each line, without a terminal's.
    pinoHttp: app([pinoHttp({ logger: pino(pino.destination({ dest: '/dev/null', sync: true })) })]),
    router: app([healthRouter({ manager, registry: new Registry() })]),
    noopStacked: app(Array.from({ length: STACKED }, () => noop)),
    pulseStacked: app(Array.from({ length: STACKED }, () => pulse)),
  };
  for (const [name, application] of Object.entries(apps)) {
    const response = await inject(application, { method: 'GET', url: '/' });
    if (response.statusCode !== 200 || response.payload !== 'ok') throw new Error(`${name}: GET / answered ${response.statusCode}`);
  }

  const configurations = {} as Record<Configuration, () => Promise<number>>;
  for (const [name, application] of Object.entries(apps) as [Configuration, express.Express][]) {
    const request = injector(application, '/');
    configurations[name] = () => microsPerCall(100, request);
  }
  const perRequest = await interleave(quick ? 40 : 400, configurations);
  void manager.close();

  const figures: Figure[] = [figure('Express 5, bare', 'µs/request', perRequest.bare)];
  for (const [name, label] of Object.entries(LABELS) as [keyof typeof LABELS, string][]) {
    figures.push(figure(label, 'µs/request', perRequest[name], { anchor: 'Express 5, bare' }));
  }
  const floorDifference = `${LABELS.noop}, minus bare`;
  for (const [name, label] of Object.entries(LABELS) as [keyof typeof LABELS, string][]) {
    const anchor = name === 'noop' ? {} : { anchor: floorDifference };
    // The app's own requests pass the health router after one path test (issue: it cost 3.5 µs).
    const target = name === 'router' ? { target: { text: '≤ 500 ns', limit: 500, on: 'median' as const } } : {};
    figures.push(
      figure(`${label}, minus bare`, 'ns/request', differences(perRequest[name], perRequest.bare, 1000), { ...anchor, ...target }),
    );
  }
  figures.push(
    figure('pulseMiddleware minus no-op, one layer', 'ns/request', differences(perRequest.pulse, perRequest.noop, 1000)),
    figure(
      `pulseMiddleware minus no-op, per layer of ${STACKED} stacked`,
      'ns/layer',
      differences(perRequest.pulseStacked, perRequest.noopStacked, 1000 / STACKED),
      { target: { text: '≤ 100 ns', limit: 100, on: 'median' } },
    ),
  );
  return figures;
}
