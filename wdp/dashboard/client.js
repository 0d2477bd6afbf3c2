// The dashboard's connection to wdp: the documented WebSocket API (/ws/v1) and REST,
// used exactly as a third-party client would use them. No DOM here.

const TOKEN_KEY = 'wdp.token';

/** The token: taken from ?token= once (then removed from the address bar, so it is not
 * left in history, bookmarks or screenshots), kept in sessionStorage for this tab. */
export function takeToken(win = window) {
  const url = new URL(win.location.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl) {
    win.sessionStorage.setItem(TOKEN_KEY, fromUrl);
    url.searchParams.delete('token');
    win.history.replaceState(win.history.state, '', url.pathname + url.search + url.hash);
  }
  return win.sessionStorage.getItem(TOKEN_KEY);
}

export function storeToken(token, win = window) {
  win.sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken(win = window) {
  win.sessionStorage.removeItem(TOKEN_KEY);
}

/** Environments the token may see (REST); throws an Error with .status on refusal. */
export async function fetchEnvironments(token) {
  const response = await fetch('/api/v1/environments', {
    headers: { Authorization: `Bearer ${token}` },
    cache: 'no-store',
  });
  if (!response.ok) {
    const error = new Error(`environments: HTTP ${response.status}`);
    error.status = response.status;
    try {
      error.code = (await response.json()).error?.error_code;
    } catch {
      error.code = undefined;
    }
    throw error;
  }
  return (await response.json()).environments;
}

/** Close codes after which reconnecting with the same token cannot help. */
const CLOSE_UNAUTHORIZED = 4001;
const CLOSE_EXPIRED = 4002;
const CLOSE_NORMAL = 1000;
/** The server sends a heartbeat every 30 s: a socket silent for longer than this is
 * dead (a network that drops packets does not close sockets) and is replaced. */
const SILENCE_MS = 75000;

/** Reconnect delays: 0.5 s doubling to 15 s, each with +-20 % jitter so that many
 * dashboards do not come back in lock step after a server restart. */
export function backoffDelay(attempt, base = 500, cap = 15000, random = Math.random) {
  const raw = Math.min(cap, base * 2 ** Math.max(0, attempt));
  return Math.round(raw * (0.8 + 0.4 * random()));
}

/**
 * One logical stream that survives disconnections: it reconnects with exponential
 * backoff and subscribes again on every new socket (the server's subscriptions belong
 * to a socket). Callbacks: onMessage(message), onState(state, detail), where state is
 * connecting | connected | reconnecting | expired | unauthorized | closed.
 */
export class StreamClient {
  constructor({ token, subscriptions, onMessage, onState, clientId = 'dashboard' }) {
    this.token = token;
    this.subscriptions = subscriptions; // () => the subscribe request's list
    this.onMessage = onMessage;
    this.onState = onState;
    this.clientId = clientId;
    this.ws = null;
    this.attempt = 0;
    this.timer = null;
    this.stopped = false;
    this.opens = 0;
    this.poseSubscriptionId = null;
    this.lastError = null;
    this.lastMessageAt = 0;
    this.watchdog = null;
  }

  /** Replace a socket that has been silent too long, without waiting for its close. */
  checkSilence() {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    if (Date.now() - this.lastMessageAt < SILENCE_MS) return;
    this.ws = null;
    ws.close();
    this.closed(1006);
  }

  url() {
    const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
    const query = new URLSearchParams({
      token: this.token,
      client_id: this.clientId,
      subscriptions: 'none', // ours come in the first message, on every socket
    });
    return `${scheme}://${window.location.host}/ws/v1?${query}`;
  }

  start() {
    this.stopped = false;
    clearInterval(this.watchdog);
    this.watchdog = setInterval(() => this.checkSilence(), 5000);
    this.connect(this.attempt === 0 ? 'connecting' : 'reconnecting');
  }

  /** Stop for good; reports `closed` only if a socket was still open (after an expiry
   * the state stays `expired`). */
  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.watchdog);
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close(CLOSE_NORMAL, 'client closed');
      this.onState('closed');
    }
  }

  connect(state) {
    this.onState(state, { attempt: this.attempt });
    const ws = new WebSocket(this.url(), ['wifi-densepose-v1']);
    this.ws = ws;
    this.lastError = null;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.opens += 1;
      this.lastMessageAt = Date.now();
      this.poseSubscriptionId = null;
      this.send({ type: 'subscribe', data: { subscriptions: this.subscriptions() } });
    };
    ws.onmessage = (event) => {
      if (this.ws !== ws) return;
      this.lastMessageAt = Date.now();
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return; // not ours to crash on; the server only sends JSON
      }
      this.handle(message);
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.closed(event.code);
    };
  }

  handle(message) {
    if (message.type === 'ack' && message.data?.message_type === 'subscribe') {
      const pose = (message.data.active_subscriptions || []).find(
        (s) => s.event_type === 'pose_data',
      );
      this.poseSubscriptionId = pose ? pose.subscription_id : null;
      this.attempt = 0; // a working stream: the next failure starts the backoff again
      this.onState('connected', { opens: this.opens });
    } else if (message.type === 'token_expired') {
      this.lastError = 'TOKEN_EXPIRED';
    } else if (message.type === 'error') {
      this.lastError = message.data?.error_code || null;
    }
    this.onMessage(message);
  }

  closed(code) {
    if (this.stopped) return;
    if (code === CLOSE_EXPIRED || this.lastError === 'TOKEN_EXPIRED') {
      this.onState('expired', { code });
      return;
    }
    if (code === CLOSE_UNAUTHORIZED) {
      this.onState('unauthorized', { code, error: this.lastError });
      return;
    }
    const delay = backoffDelay(this.attempt);
    this.attempt += 1;
    this.onState('reconnecting', { code, delay, attempt: this.attempt });
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (!this.stopped) this.connect('reconnecting');
    }, delay);
  }

  send(message) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify({ timestamp: new Date().toISOString(), ...message }));
    return true;
  }

  /** Change the pose stream's filters in place (one message, not a resubscription). */
  updatePose(filters) {
    if (!this.poseSubscriptionId) return false;
    return this.send({
      type: 'update_subscription',
      data: { subscription_id: this.poseSubscriptionId, filters },
    });
  }
}
