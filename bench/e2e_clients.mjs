// Clients for bench_e2e.py: N WebSocket clients in one Node process (ws) that note when
// each pose_data message arrives.
//
//   node e2e_clients.mjs URL N
//
// Opens N connections (URL includes the token and subscriptions=none), sends each the
// subscribe message given on the first stdin line, prints "ready" when all are open, and
// on the "stop" stdin line prints one JSON line:
//   {"open": connections still open,
//    "arrivals": {envelope timestamp: [arrival wall clock, ms with a fractional part]},
//    "processing": {envelope timestamp: data.processing_time_ms (first client only)}}
// Arrival times are performance.timeOrigin + performance.now(): the wall clock at
// microsecond resolution (Date.now() has only milliseconds).
import { createRequire } from "node:module";
import readline from "node:readline";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "..", "tests", "spec_clients", "package.json"));
const WebSocket = require("ws");

const [url, nText] = process.argv.slice(2);
const n = Number(nText);
const arrivals = new Map();
const processing = {};
const sockets = [];
let open = 0;
let subscribe = null;

function timestampOf(text) {
  const i = text.indexOf('"timestamp":"');
  return i < 0 ? null : text.slice(i + 13, i + 37);
}

function listener(index) {
  return (data) => {
    const now = performance.timeOrigin + performance.now();
    const text = data.toString();
    if (text.indexOf('"pose_data"') < 0) return;
    const ts = timestampOf(text);
    if (ts === null) return;
    let list = arrivals.get(ts);
    if (list === undefined) {
      list = [];
      arrivals.set(ts, list);
    }
    list.push(now);
    if (index === 0) {
      const msg = JSON.parse(text);
      if (msg.type === "pose_data") processing[ts] = msg.data.processing_time_ms;
    }
  };
}

function connectAll() {
  let pending = n;
  const next = () => {
    if (sockets.length >= n) return;
    const index = sockets.length;
    const ws = new WebSocket(url, { perMessageDeflate: false });
    sockets.push(ws);
    ws.on("open", () => {
      open += 1;
      ws.send(subscribe);
      pending -= 1;
      if (pending === 0) console.log("ready");
      next();
    });
    ws.on("message", listener(index));
    ws.on("close", () => {
      open -= 1;
    });
    ws.on("error", () => {});
  };
  // a few handshakes at a time, so the server's accept loop is not flooded
  for (let i = 0; i < Math.min(32, n); i++) next();
}

const rl = readline.createInterface({ input: process.stdin });
let first = true;
rl.on("line", (line) => {
  if (first) {
    first = false;
    subscribe = line;
    connectAll();
  } else if (line === "stop") {
    const summary = { open, arrivals: Object.fromEntries(arrivals), processing };
    for (const ws of sockets) ws.terminate();
    process.stdout.write(JSON.stringify(summary) + "\n", () => process.exit(0));
  }
});
