// A CommonJS consumer: require() the packed library, mount it in the installed Express (5, or 4 as the peer), ask for the status.
const express = require('express');
const { Heartbeat, HeartbeatManager, healthRouter, pulseMiddleware } = require('express-heartbeat');

const manager = new HeartbeatManager({ config: { log_level: 'silent' } });
const bridge = new Heartbeat({ tag: 'flask_bridge', interval: 15, manager }).start();
const app = express();
app.use(pulseMiddleware(bridge));
app.use(healthRouter({ manager }));
const server = app.listen(0, '127.0.0.1', async () => {
  const response = await fetch(`http://127.0.0.1:${server.address().port}/api/health/status`);
  console.log(JSON.stringify({ express: require('express/package.json').version, status: response.status, body: await response.json() }));
  manager.close();
  server.close();
});
