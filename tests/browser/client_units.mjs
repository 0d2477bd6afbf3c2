// The dashboard's StreamClient under Node, with a scripted WebSocket and timers in place
// of the browser's: what it sends on every new socket, how it backs off, and when it
// gives up. Prints "OK" when every check passed; otherwise "FAIL: ..." and exit 1.
// Run by tests/test_dashboard_browser.py.

import assert from 'node:assert/strict';

const timers = [];
globalThis.window = { location: { protocol: 'http:', host: '127.0.0.1:8000' } };
globalThis.setTimeout = (fn, ms) => timers.push({ fn, ms }) && timers.length;
globalThis.clearTimeout = () => {};
globalThis.setInterval = () => 0;
globalThis.clearInterval = () => {};

const sockets = [];
class FakeSocket {
  static OPEN = 1;

  constructor(url, protocols) {
    this.url = url;
    this.protocols = protocols;
    this.readyState = 0;
    this.sent = [];
    sockets.push(this);
  }

  send(text) {
    this.sent.push(JSON.parse(text));
  }

  close() {
    this.readyState = 3;
  }

  // what the server would do
  open() {
    this.readyState = 1;
    this.onopen();
  }

  receive(message) {
    this.onmessage({ data: JSON.stringify(message) });
  }

  drop(code) {
    this.readyState = 3;
    this.onclose({ code });
  }
}
globalThis.WebSocket = FakeSocket;

const { StreamClient, backoffDelay } = await import('../../wdp/dashboard/client.js');

const ack = (subs) => ({
  type: 'ack',
  data: { message_type: 'subscribe', status: 'success', active_subscriptions: subs },
});

try {
  // Backoff: 0.5 s doubling to a 15 s cap, each within +-20 %.
  for (let n = 0; n < 12; n += 1) {
    const nominal = Math.min(15000, 500 * 2 ** n);
    assert.equal(backoffDelay(n, 500, 15000, () => 0), Math.round(nominal * 0.8));
    assert.equal(backoffDelay(n, 500, 15000, () => 1), Math.round(nominal * 1.2));
  }

  const states = [];
  const messages = [];
  const client = new StreamClient({
    token: 'a.b.c',
    subscriptions: () => [{ event_type: 'pose_data' }, { event_type: 'activity_event' }],
    onMessage: (m) => messages.push(m),
    onState: (kind, detail) => states.push({ kind, ...detail }),
  });
  client.start();
  assert.equal(sockets.length, 1);
  const url = new URL(sockets[0].url);
  assert.equal(url.origin + url.pathname, 'ws://127.0.0.1:8000/ws/v1');
  assert.equal(url.searchParams.get('token'), 'a.b.c');
  assert.equal(url.searchParams.get('subscriptions'), 'none');
  assert.deepEqual(sockets[0].protocols, ['wifi-densepose-v1']);

  // On open: one subscribe with the current subscriptions; the ack makes it connected.
  sockets[0].open();
  assert.equal(sockets[0].sent.length, 1);
  assert.equal(sockets[0].sent[0].type, 'subscribe');
  assert.deepEqual(sockets[0].sent[0].data.subscriptions.map((s) => s.event_type),
    ['pose_data', 'activity_event']);
  sockets[0].receive(ack([{ subscription_id: 'sub_9', event_type: 'pose_data', status: 'active' }]));
  assert.equal(states.at(-1).kind, 'connected');
  assert.equal(client.poseSubscriptionId, 'sub_9');
  assert.ok(client.updatePose({ environment_id: 'lab' }));
  assert.deepEqual(sockets[0].sent[1].data, { subscription_id: 'sub_9', filters: { environment_id: 'lab' } });

  // Lost connections: each retry waits longer; every new socket subscribes again.
  const delays = [];
  for (let i = 0; i < 4; i += 1) {
    sockets.at(-1).drop(1006);
    assert.equal(states.at(-1).kind, 'reconnecting');
    const timer = timers.pop();
    delays.push(timer.ms);
    timer.fn();
  }
  for (let i = 0; i < delays.length; i += 1) {
    const nominal = 500 * 2 ** i;
    assert.ok(delays[i] >= nominal * 0.8 && delays[i] <= nominal * 1.2, `delays ${delays}`);
  }
  const latest = sockets.at(-1);
  latest.open();
  assert.equal(latest.sent[0].type, 'subscribe');
  latest.receive(ack([]));
  assert.equal(states.at(-1).kind, 'connected');
  latest.drop(1001); // a server restart after a working stream: back to the first delay
  assert.ok(timers.at(-1).ms <= 600, `first delay after a working stream: ${timers.at(-1).ms}`);
  timers.pop().fn();

  // An expired token: token_expired then 4002 -> expired, no retry.
  let before = timers.length;
  sockets.at(-1).open();
  sockets.at(-1).receive({ type: 'token_expired', message: 'JWT token has expired.' });
  sockets.at(-1).drop(4002);
  assert.equal(states.at(-1).kind, 'expired');
  assert.equal(timers.length, before);

  // A refused token: error then 4001 -> unauthorized, no retry.
  const refused = new StreamClient({
    token: 'bad', subscriptions: () => [], onMessage: () => {}, onState: (k, d) => states.push({ kind: k, ...d }),
  });
  refused.start();
  before = timers.length;
  sockets.at(-1).open();
  sockets.at(-1).receive({ type: 'error', data: { error_code: 'TOKEN_INVALID', message: 'x' } });
  sockets.at(-1).drop(4001);
  assert.equal(states.at(-1).kind, 'unauthorized');
  assert.equal(states.at(-1).error, 'TOKEN_INVALID');
  assert.equal(timers.length, before);

  // Stopped by the page: the close that follows schedules nothing.
  const stopped = new StreamClient({
    token: 't', subscriptions: () => [], onMessage: () => {}, onState: () => {},
  });
  stopped.start();
  const socket = sockets.at(-1);
  socket.open();
  stopped.stop();
  before = timers.length;
  socket.onclose({ code: 1000 });
  assert.equal(timers.length, before);
  console.log('OK');
} catch (error) {
  console.log(`FAIL: ${error.message.split('\n')[0]}`);
  process.exitCode = 1;
}
