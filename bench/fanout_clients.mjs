// Load generator for bench_fanout.py: N WebSocket clients in one Node process (ws).
//
//   node fanout_clients.mjs URL N
//
// Opens N connections (URL includes the token and subscriptions=none), sends each one the
// subscribe message given on the first stdin line (if not "-"), prints "ready" when all
// are open, then counts messages between the "start" and "stop" stdin lines and prints one
// JSON line: delivered messages, connections still open, and latency p50/p99 (ms, arrival
// wall clock minus the message's "timestamp" field; millisecond resolution).
import { createRequire } from "node:module";
import readline from "node:readline";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "..", "tests", "spec_clients", "package.json"));
const WebSocket = require("ws");

const [url, nText] = process.argv.slice(2);
const n = Number(nText);
const MAX_SAMPLES = 200000;
const samples = new Float64Array(MAX_SAMPLES);
let sampleCount = 0;
let seen = 0;
let measuring = false;
let delivered = 0;
let open = 0;
let subscribe = null;
const sockets = [];

function timestampOf(text) {
  const i = text.indexOf('"timestamp":"');
  if (i < 0) return NaN;
  return Date.parse(text.slice(i + 13, i + 37));
}

function onMessage(data, isBinary) {
  if (!measuring) return;
  const text = isBinary ? data.toString() : data.toString();
  if (text.indexOf('"pose_data"') < 0) return;
  delivered += 1;
  seen += 1;
  const latency = Date.now() - timestampOf(text);
  if (sampleCount < MAX_SAMPLES) {
    samples[sampleCount++] = latency;
  } else {
    // reservoir sampling keeps an even sample of the whole window
    const j = Math.floor(Math.random() * seen);
    if (j < MAX_SAMPLES) samples[j] = latency;
  }
}

function connectAll() {
  let pending = n;
  let ready = false;
  const next = () => {
    if (sockets.length >= n) return;
    const ws = new WebSocket(url, { perMessageDeflate: false });
    sockets.push(ws);
    ws.on("open", () => {
      open += 1;
      if (subscribe) ws.send(subscribe);
      pending -= 1;
      if (pending === 0 && !ready) {
        ready = true;
        console.log("ready");
      }
      next();
    });
    ws.on("message", onMessage);
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
    subscribe = line === "-" ? null : line;
    connectAll();
  } else if (line === "start") {
    measuring = true;
  } else if (line === "stop") {
    measuring = false;
    const used = Float64Array.from(samples.subarray(0, Math.min(sampleCount, MAX_SAMPLES)));
    used.sort();
    const q = (p) => (used.length ? used[Math.min(used.length - 1, Math.floor(used.length * p))] : null);
    const summary = { delivered, open, p50_ms: q(0.5), p99_ms: q(0.99) };
    for (const ws of sockets) ws.terminate();
    process.stdout.write(JSON.stringify(summary) + "\n", () => process.exit(0));
  }
});
