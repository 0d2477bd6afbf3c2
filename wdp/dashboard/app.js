// The dashboard page: sign-in, one StreamClient, and the views. Messages only update
// state; the live view is drawn at most once per animation frame from the latest pose
// frame (older frames are overwritten, never queued), so a 30 FPS stream cannot slow
// the page down.

import {
  StreamClient, fetchEnvironments, forgetToken, storeToken, takeToken,
} from './client.js';
import { drawFrame, drawOccupancy } from './render.js';

const $ = (id) => document.getElementById(id);
const FEED_MAX = 100;
const TRAJECTORY_TTL_MS = 5000; // trajectories come about every 1-2 s per track
const OCCUPANCY_SPAN_MS = 10 * 60 * 1000;
const ENV_KEY = 'wdp.environment';

const ui = {
  environment: $('environment'),
  connection: $('connection'),
  serverFps: $('server-fps'),
  serverLatency: $('server-latency'),
  streamFps: $('stream-fps'),
  renderFps: $('render-fps'),
  signOut: $('sign-out'),
  alert: $('fall-alert'),
  alertText: $('fall-alert-text'),
  ack: $('fall-ack'),
  signIn: $('sign-in'),
  signInMessage: $('sign-in-message'),
  signInForm: $('sign-in-form'),
  tokenInput: $('token-input'),
  main: $('main'),
  count: $('person-count'),
  view: $('view'),
  frameInfo: $('frame-info'),
  occupancy: $('occupancy'),
  occupancyNow: $('occupancy-now'),
  routers: $('routers'),
  components: $('components'),
  feed: $('feed'),
};

const show = {
  skeletons: true, boxes: true, labels: true, trajectories: true, densePose: false,
};

const state = {
  client: null,
  environments: [],
  environment: sessionStorage.getItem(ENV_KEY) || null,
  latest: null, // the newest pose frame of the selected environment: all we ever draw
  trajectories: new Map(), // track id -> {data, at}
  occupancy: [], // {t, value}: the debounced count (occupancy_update)
  detected: [], // {t, value}: persons in a pose frame, at most one point a second
  falls: new Map(), // "env/fall_id" -> {data, acknowledged}
  routers: new Map(), // "env/router" -> status
  components: {},
  poseMessages: 0,
  renders: 0,
  framesReceived: 0,
  drawPending: false,
  poseEnvironment: null, // the environment the server's pose subscription is filtered on
  focusBeforeAlert: null,
};

const viewCtx = ui.view.getContext('2d');
const occupancyCtx = ui.occupancy.getContext('2d');

// -- rendering: once per animation frame, only when something changed --
function scheduleDraw() {
  if (state.drawPending) return;
  state.drawPending = true;
  requestAnimationFrame(draw);
}

function draw() {
  state.drawPending = false;
  const now = performance.now();
  const fresh = [];
  for (const [id, t] of state.trajectories) {
    if (now - t.at > TRAJECTORY_TTL_MS) state.trajectories.delete(id);
    else fresh.push(t.data);
  }
  const frame = state.latest;
  const persons = drawFrame(viewCtx, frame, fresh, show);
  ui.count.textContent = String(persons);
  ui.count.dataset.frameId = frame ? String(frame.frame_id) : '';
  ui.view.dataset.densePose = String(
    frame && show.densePose ? frame.persons.filter((p) => p.dense_pose).length : 0,
  );
  ui.frameInfo.textContent = frame
    ? `${frame.environment_id} · frame ${frame.frame_id} · ${persons} `
      + `${persons === 1 ? 'person' : 'people'} · model ${frame.metadata?.model_version ?? '?'}`
      + tierNote(frame.metadata)
    : 'waiting for data';
  state.renders += 1;
}

// Without a pose estimate (the sensing tier, or a window the model refused) say why,
// and what motion says, instead of drawing nothing silently.
function tierNote(metadata) {
  if (!metadata || metadata.pose_available !== false) return '';
  const motion = metadata.motion ? ` · motion ${metadata.motion}` : '';
  return ` · no pose: ${metadata.reason ?? 'unknown'}${motion}`;
}

function drawOccupancyChart() {
  const now = Date.now();
  // Keep the window's points and the last one before it (where the line starts).
  const recent = (points) => points.filter((p, i, all) => (
    p.t >= now - OCCUPANCY_SPAN_MS || (all[i + 1] && all[i + 1].t >= now - OCCUPANCY_SPAN_MS)
  ));
  state.occupancy = recent(state.occupancy);
  state.detected = recent(state.detected);
  // The chart spans the time watched so far: one minute at first, growing to ten.
  const first = Math.min(now, ...[...state.occupancy, ...state.detected].map((p) => p.t));
  const span = Math.min(OCCUPANCY_SPAN_MS, Math.max(60000, now - first));
  drawOccupancy(occupancyCtx, [
    { points: state.occupancy, colour: '#7cc4ff', label: 'occupancy' },
    { points: state.detected, colour: '#8d99a6', label: 'detected per frame' },
  ], now, span);
}

// -- the event feed --
function clock(date = new Date()) {
  return date.toLocaleTimeString([], { hour12: false });
}

function feed(text, severity = 'info') {
  const item = document.createElement('li');
  item.dataset.severity = severity;
  const time = document.createElement('time');
  time.dateTime = new Date().toISOString();
  time.textContent = clock();
  item.append(time, document.createTextNode(text));
  ui.feed.prepend(item);
  while (ui.feed.children.length > FEED_MAX) ui.feed.lastElementChild.remove();
}

// -- falls: a prominent alert until acknowledged --
function onActivity(data) {
  if (data.event_type !== 'fall_detected') return;
  const key = `${data.environment_id}/${data.fall_id}`;
  const known = state.falls.get(key);
  const who = `person #${data.person_id} (track ${data.track_id}) in ${data.environment_id}`;
  if (data.details?.recovery_detected) {
    feed(`${who} got up after the fall`, 'info');
  } else {
    feed(`FALL: ${who}, severity ${data.severity}, confidence ${data.confidence}`, data.severity);
  }
  // A new fall raises the alert; an escalation to critical raises it again.
  const raise = !known || (data.severity === 'critical' && known.data.severity !== 'critical');
  state.falls.set(key, {
    data,
    acknowledged: known && !raise ? known.acknowledged : data.details?.recovery_detected === true,
  });
  updateAlert();
}

function updateAlert() {
  const open = [...state.falls.values()].filter((f) => !f.acknowledged);
  const wasHidden = ui.alert.hidden;
  if (!open.length) {
    ui.alert.hidden = true;
    ui.alert.dataset.falls = '0';
    return;
  }
  ui.alertText.textContent = open.map(({ data }) => (
    `Person #${data.person_id} (track ${data.track_id}) in ${data.environment_id}: `
    + `severity ${data.severity}, confidence ${data.confidence}`
    + `${data.details?.recovery_detected ? ', got up again' : ''}.`
  )).join(' ');
  ui.alert.dataset.falls = String(open.length);
  ui.alert.hidden = false;
  if (wasHidden) {
    // The alert takes the keyboard focus (Enter or Space acknowledges); the focus goes
    // back where it was afterwards.
    state.focusBeforeAlert = document.activeElement;
    ui.ack.focus();
  }
}

ui.ack.addEventListener('click', () => {
  for (const fall of state.falls.values()) fall.acknowledged = true;
  feed('fall alert acknowledged');
  updateAlert();
  const back = state.focusBeforeAlert;
  state.focusBeforeAlert = null;
  if (back && back !== document.body && document.contains(back)) back.focus();
});

// -- status: routers and components --
function renderStatus(list, entries) {
  list.replaceChildren(...entries.map(([name, status]) => {
    const item = document.createElement('li');
    const label = document.createElement('span');
    label.textContent = name;
    const value = document.createElement('span');
    value.textContent = status;
    value.dataset.status = status;
    item.append(label, value);
    return item;
  }));
}

function renderRouters() {
  renderStatus(ui.routers, [...state.routers.entries()].sort());
}

// -- messages --
function onMessage(message) {
  const data = message.data || {};
  if (message.type === 'pose_data' && !state.environment && data.environment_id) {
    state.environment = data.environment_id; // no list yet: follow the first one seen
  }
  switch (message.type) {
    case 'pose_data':
      state.poseMessages += 1;
      if (state.environment && data.environment_id !== state.environment) return;
      state.latest = data; // the newest frame replaces the previous one, never queued
      if (!state.detected.length || Date.now() - state.detected.at(-1).t >= 1000) {
        state.detected.push({ t: Date.now(), value: (data.persons || []).length });
      }
      state.framesReceived += 1;
      ui.view.dataset.framesReceived = String(state.framesReceived);
      scheduleDraw();
      break;
    case 'pose_data_trajectory':
      if (data.environment_id === state.environment) {
        state.trajectories.set(data.track_id, { data, at: performance.now() });
      }
      break;
    case 'tracking_update':
      if (data.environment_id !== state.environment) return;
      if (data.event === 'track_lost' || data.event === 'track_ended') {
        state.trajectories.delete(data.track_id);
      }
      if (data.event === 'track_started' || data.event === 'track_ended') {
        feed(`track ${data.track_id}: ${data.event.replace('track_', '')}`);
      }
      break;
    case 'activity_event':
      onActivity(data);
      break;
    case 'occupancy_update':
      feed(`${data.environment_id}: ${data.current_occupancy} present (${String(data.change_type ?? 'changed').replace('_', ' ')})`);
      if (data.environment_id === state.environment) {
        state.occupancy.push({ t: Date.now(), value: data.current_occupancy });
        ui.occupancyNow.textContent = String(data.current_occupancy);
        drawOccupancyChart();
      }
      break;
    case 'hardware_event': {
      const key = `${data.environment_id ?? '?'}/${data.router_id}`;
      state.routers.set(key, data.event === 'router_disconnected' ? 'silent' : 'online');
      renderRouters();
      feed(`router ${data.router_id}: ${data.message}`, data.severity);
      break;
    }
    case 'system_event':
      state.components = { system: data.status, ...(data.components || {}) };
      renderStatus(ui.components, Object.entries(state.components));
      feed(`system: ${data.event.replace('_', ' ')}`, data.status === 'running' ? 'info' : 'warning');
      break;
    case 'performance_update': {
      const m = data.metrics || {};
      ui.serverFps.textContent = m.frames_per_second == null ? '–' : `${m.frames_per_second.toFixed(0)}`;
      ui.serverLatency.textContent = m.average_latency_ms == null ? '–' : `${m.average_latency_ms.toFixed(1)} ms`;
      for (const alert of data.alerts || []) feed(`performance: ${alert.type} ${alert.value}`, alert.severity);
      break;
    }
    case 'error':
      feed(`server: ${data.error_code}: ${data.message}`, 'warning');
      break;
    case 'disconnect':
      feed(`server: ${data.message || data.reason}`, 'warning');
      break;
    default:
      break;
  }
}

// -- connection state --
function onState(kind, detail = {}) {
  const badge = ui.connection;
  badge.dataset.state = kind;
  if (detail.opens !== undefined) badge.dataset.opens = String(detail.opens);
  const text = {
    connecting: 'connecting…',
    connected: 'connected',
    reconnecting: detail.delay !== undefined
      ? `reconnecting in ${(detail.delay / 1000).toFixed(1)} s (attempt ${detail.attempt})`
      : 'reconnecting…',
    expired: 'token expired',
    unauthorized: 'token refused',
    closed: 'not connected',
  }[kind] || kind;
  badge.textContent = text;
  if (kind === 'connected') {
    feed('connected');
    refreshEnvironments();
  } else if (kind === 'reconnecting' && detail.delay !== undefined) {
    feed(`connection lost (code ${detail.code}); ${text}`, 'warning');
  } else if (kind === 'expired') {
    forgetToken(); // a reload must not try it again
    signIn('Your token has expired. Paste a new token (wdp token) to continue.', true);
  } else if (kind === 'unauthorized') {
    forgetToken();
    signIn(`The server refused the token (${detail.error || 'invalid token'}). Paste a valid token.`, true);
  }
}

// -- environments --
async function refreshEnvironments() {
  const token = state.client?.token;
  if (!token) return;
  let envs;
  try {
    envs = await fetchEnvironments(token);
  } catch (error) {
    if (error.status === 401) return; // the WebSocket reports the token's problem
    feed(`could not list environments: ${error.message}`, 'warning');
    return;
  }
  applyEnvironments(envs);
}

function applyEnvironments(envs) {
  state.environments = envs;
  for (const env of envs) {
    for (const r of env.routers || []) {
      const key = `${env.environment_id}/${r.router_id}`;
      if (!state.routers.has(key)) state.routers.set(key, 'online');
    }
  }
  renderRouters();
  const ids = envs.map((e) => e.environment_id);
  ui.environment.replaceChildren(...ids.map((id) => new Option(id, id)));
  ui.environment.disabled = ids.length === 0;
  if (!ids.includes(state.environment)) selectEnvironment(ids[0] || null);
  else {
    ui.environment.value = state.environment;
    retargetPose();
  }
}

/** Point the pose subscription at the selected environment (if it is not already). */
function retargetPose() {
  if (!state.client || !state.environment || state.poseEnvironment === state.environment) return;
  if (state.client.updatePose({ environment_id: state.environment })) {
    state.poseEnvironment = state.environment;
  }
}

function selectEnvironment(id) {
  state.environment = id;
  if (id) sessionStorage.setItem(ENV_KEY, id);
  ui.environment.value = id || '';
  state.latest = null;
  state.trajectories.clear();
  state.occupancy = [];
  state.detected = [];
  ui.occupancyNow.textContent = '–';
  drawOccupancyChart();
  scheduleDraw();
  retargetPose();
}

ui.environment.addEventListener('change', () => selectEnvironment(ui.environment.value));

for (const [id, key] of [
  ['show-skeletons', 'skeletons'], ['show-boxes', 'boxes'], ['show-labels', 'labels'],
  ['show-trajectories', 'trajectories'], ['show-dense-pose', 'densePose'],
]) {
  const box = $(id);
  show[key] = box.checked;
  box.addEventListener('change', () => {
    show[key] = box.checked;
    if (key === 'densePose' && state.client) {
      state.client.updatePose({ include_dense_pose: box.checked });
    }
    scheduleDraw();
  });
}

// -- sign-in --
function subscriptions() {
  const pose = {
    event_type: 'pose_data',
    quality: 'high',
    filters: { include_keypoints: true, include_dense_pose: show.densePose },
    throttle: { max_fps: 30, buffer_size: 1 },
  };
  // Only an environment the server listed for this token: any other would be FORBIDDEN.
  const known = state.environments.some((e) => e.environment_id === state.environment);
  if (known) pose.filters.environment_id = state.environment;
  state.poseEnvironment = known ? state.environment : null;
  return [
    pose,
    { event_type: 'pose_data_trajectory' },
    { event_type: 'tracking_update' },
    { event_type: 'activity_event' },
    { event_type: 'occupancy_update' },
    { event_type: 'system_event' },
    { event_type: 'hardware_event' },
    { event_type: 'performance_update' },
  ];
}

async function begin(token) {
  ui.signIn.hidden = true;
  ui.main.hidden = false;
  ui.signOut.hidden = false;
  state.client?.stop();
  state.client = null;
  try {
    applyEnvironments(await fetchEnvironments(token));
  } catch (error) {
    if (error.code === 'TOKEN_EXPIRED') {
      onState('expired');
      return;
    }
    if (error.status === 401) {
      onState('unauthorized', { error: error.code });
      return;
    }
    // The server may be down or restarting: the stream retries, and the list is
    // fetched again once it is connected.
  }
  state.client = new StreamClient({ token, subscriptions, onMessage, onState });
  state.client.start();
}

function signIn(message, isError) {
  state.client?.stop();
  state.client = null;
  if (message) ui.signInMessage.textContent = message; // else the page's own words
  ui.signInMessage.dataset.kind = isError ? 'error' : 'info';
  ui.signIn.hidden = false;
  ui.main.hidden = true;
  ui.signOut.hidden = true;
  if (!isError) {
    ui.connection.dataset.state = 'idle';
    ui.connection.textContent = 'not connected';
  }
  ui.tokenInput.value = '';
  ui.tokenInput.focus();
}

ui.signInForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const token = ui.tokenInput.value.trim();
  if (!token) return;
  storeToken(token);
  begin(token);
});

ui.signOut.addEventListener('click', () => {
  forgetToken();
  signIn('Signed out. Paste a token to connect again.', false);
});

// -- figures measured here, once a second --
let lastTick = performance.now();
setInterval(() => {
  const now = performance.now();
  const seconds = (now - lastTick) / 1000;
  lastTick = now;
  ui.streamFps.textContent = `${(state.poseMessages / seconds).toFixed(1)} /s`;
  ui.renderFps.textContent = `${(state.renders / seconds).toFixed(1)} /s`;
  state.poseMessages = 0;
  state.renders = 0;
  drawOccupancyChart();
}, 1000);

const token = takeToken();
drawOccupancyChart();
scheduleDraw();
if (token) begin(token);
else signIn(null, false);
