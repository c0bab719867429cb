// An ES module consumer: named imports from the packed (CommonJS) library.
import express from 'express';
import { healthRouter, HeartbeatManager } from 'express-heartbeat';

const manager = new HeartbeatManager({ config: { log_level: 'silent' } });
manager.heartbeat({ tag: 'save_worker', interval: 30 }).start();
const app = express().use(healthRouter({ manager }));
const server = app.listen(0, '127.0.0.1', async () => {
  const response = await fetch(`http://127.0.0.1:${server.address().port}/api/health/status`);
  console.log(JSON.stringify({ status: response.status, body: await response.json() }));
  manager.close();
  server.close();
});
