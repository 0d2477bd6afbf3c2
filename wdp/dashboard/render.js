// Drawing, as pure functions of (canvas context, data): the live view and the occupancy
// chart. Pixels are those of the environment's virtual camera (1280 x 720 by default).

export const BACKGROUND = '#0b0e11';

/** COCO keypoint order and its 19 bones (pairs of keypoint indices). */
export const KEYPOINTS = [
  'nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear', 'left_shoulder',
  'right_shoulder', 'left_elbow', 'right_elbow', 'left_wrist', 'right_wrist', 'left_hip',
  'right_hip', 'left_knee', 'right_knee', 'left_ankle', 'right_ankle',
];
export const BONES = [
  [15, 13], [13, 11], [16, 14], [14, 12], [11, 12], [5, 11], [6, 12], [5, 6], [5, 7],
  [6, 8], [7, 9], [8, 10], [1, 2], [0, 1], [0, 2], [1, 3], [2, 4], [3, 5], [4, 6],
];

/** A stable, distinct colour per track id (golden-angle hues). */
export function trackColour(trackId, alpha = 1) {
  const hue = (Number(trackId) * 137.508) % 360;
  return `hsla(${hue.toFixed(1)}, 85%, 62%, ${alpha})`;
}

/** DensePose part 1..24 -> a colour (same hue for the two sides of a part). */
function partColour(part) {
  const hue = (Math.ceil(part / 2) * 29) % 360;
  return `hsla(${hue}, 70%, ${part % 2 ? 45 : 60}%, 0.45)`;
}

const has = (p) => p && p.x !== null && p.y !== null && p.x !== undefined && p.y !== undefined;

function drawSkeleton(ctx, person, colour) {
  const kps = person.keypoints || [];
  ctx.strokeStyle = colour;
  ctx.lineWidth = 4;
  ctx.lineCap = 'round';
  ctx.beginPath();
  for (const [a, b] of BONES) {
    if (has(kps[a]) && has(kps[b])) {
      ctx.moveTo(kps[a].x, kps[a].y);
      ctx.lineTo(kps[b].x, kps[b].y);
    }
  }
  ctx.stroke();
  ctx.fillStyle = colour;
  for (const kp of kps) {
    if (!has(kp)) continue;
    ctx.beginPath();
    ctx.arc(kp.x, kp.y, 3 + 3 * (kp.confidence ?? 0.5), 0, 2 * Math.PI);
    ctx.fill();
  }
}

function drawDensePose(ctx, dense) {
  if (!dense || !dense.grid || !dense.bbox || !dense.parts) return;
  const [rows, cols] = dense.grid;
  const [x, y, w, h] = dense.bbox;
  const cw = w / cols;
  const ch = h / rows;
  for (let i = 0; i < rows; i += 1) {
    for (let j = 0; j < cols; j += 1) {
      const part = dense.parts[i * cols + j];
      if (!part) continue;
      ctx.fillStyle = partColour(part);
      ctx.fillRect(x + j * cw, y + i * ch, cw + 0.5, ch + 0.5);
    }
  }
}

function drawLabel(ctx, person, colour) {
  const box = person.bounding_box;
  const anchor = box ? { x: box.x, y: box.y } : (person.keypoints || []).find(has);
  if (!anchor) return;
  const activity = person.activity ? person.activity.type : '';
  const text = `#${person.track_id} ${activity}`.trim();
  ctx.font = '600 22px system-ui, sans-serif';
  const width = ctx.measureText(text).width + 12;
  const top = Math.max(0, anchor.y - 30);
  const left = Math.max(0, Math.min(anchor.x, ctx.canvas.width - width)); // stay inside
  ctx.fillStyle = 'rgba(0, 0, 0, 0.75)';
  ctx.fillRect(left, top, width, 28);
  ctx.fillStyle = colour;
  ctx.fillText(text, left + 6, top + 21);
}

function drawTrajectory(ctx, trajectory) {
  const points = (trajectory.trajectory || []).map((p) => p.position).filter(has);
  const colour = trackColour(trajectory.track_id, 0.9);
  ctx.strokeStyle = colour;
  ctx.lineWidth = 3;
  ctx.setLineDash([]);
  if (points.length > 1) {
    ctx.beginPath();
    ctx.moveTo(points[0].x, points[0].y);
    for (const p of points.slice(1)) ctx.lineTo(p.x, p.y);
    ctx.stroke();
  }
  const next = trajectory.prediction && trajectory.prediction.next_position;
  const last = points[points.length - 1];
  if (has(next) && last) {
    ctx.setLineDash([10, 8]);
    ctx.beginPath();
    ctx.moveTo(last.x, last.y);
    ctx.lineTo(next.x, next.y);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.beginPath();
    ctx.arc(next.x, next.y, 8, 0, 2 * Math.PI);
    ctx.stroke();
  }
}

/** Whether any keypoint of a person projects inside the image. */
function inView(person, width, height) {
  return (person.keypoints || []).some(
    (k) => has(k) && k.x >= 0 && k.x <= width && k.y >= 0 && k.y <= height,
  );
}

/** People the camera cannot show (outside its view or behind it) are listed in the
 * top-left corner, so nobody the stream reports is missing from the view. */
function drawOutOfView(ctx, persons) {
  ctx.font = '600 20px system-ui, sans-serif';
  persons.forEach((person, i) => {
    const activity = person.activity ? ` ${person.activity.type}` : '';
    const text = `#${person.track_id}${activity} (outside the camera's view)`;
    const top = 8 + i * 32;
    ctx.fillStyle = 'rgba(0, 0, 0, 0.75)';
    ctx.fillRect(8, top, ctx.measureText(text).width + 12, 28);
    ctx.fillStyle = trackColour(person.track_id);
    ctx.fillText(text, 14, top + 20);
  });
}

/**
 * The live view of one frame: trajectories under the people, then per person dense
 * pose, box, skeleton and label. Returns how many persons the frame holds.
 */
export function drawFrame(ctx, frame, trajectories, show) {
  const { width, height } = ctx.canvas;
  ctx.fillStyle = BACKGROUND;
  ctx.fillRect(0, 0, width, height);
  if (!frame) return 0;
  if (show.trajectories) for (const t of trajectories) drawTrajectory(ctx, t);
  const persons = frame.persons || [];
  drawOutOfView(ctx, persons.filter((p) => !inView(p, width, height)));
  for (const person of persons.filter((p) => inView(p, width, height))) {
    const colour = trackColour(person.track_id);
    if (show.densePose) drawDensePose(ctx, person.dense_pose);
    if (show.boxes && person.bounding_box) {
      const b = person.bounding_box;
      ctx.strokeStyle = colour;
      ctx.lineWidth = 2;
      ctx.setLineDash([]);
      ctx.strokeRect(b.x, b.y, b.width, b.height);
    }
    if (show.skeletons) drawSkeleton(ctx, person, colour);
    if (show.labels) drawLabel(ctx, person, colour);
  }
  return persons.length;
}

/**
 * Occupancy over the last `spanMs`: each series ({points: [{t: ms, value}], colour,
 * label}) as a step line, the first one on top.
 */
export function drawOccupancy(ctx, series, nowMs, spanMs = 600000) {
  const { width, height } = ctx.canvas;
  ctx.fillStyle = BACKGROUND;
  ctx.fillRect(0, 0, width, height);
  const pad = 22;
  const all = series.flatMap((s) => s.points.map((p) => p.value));
  const peak = Math.max(2, ...all);
  const x = (t) => pad + ((t - (nowMs - spanMs)) / spanMs) * (width - pad - 4);
  const y = (v) => height - pad - (v / peak) * (height - 2 * pad);
  ctx.strokeStyle = '#3a4653';
  ctx.fillStyle = '#a9b4bf';
  ctx.font = '12px system-ui, sans-serif';
  ctx.lineWidth = 1;
  for (let v = 0; v <= peak; v += Math.max(1, Math.ceil(peak / 4))) {
    ctx.beginPath();
    ctx.moveTo(pad, y(v));
    ctx.lineTo(width - 4, y(v));
    ctx.stroke();
    ctx.fillText(String(v), 4, y(v) + 4);
  }
  const span = spanMs >= 120000 ? `${Math.round(spanMs / 60000)} min` : `${Math.round(spanMs / 1000)} s`;
  ctx.fillText(`-${span}`, pad, height - 5);
  ctx.fillText('now', width - 30, height - 5);
  let legend = pad + 60;
  for (const s of [...series].reverse()) {
    ctx.fillStyle = s.colour;
    ctx.fillText(s.label, legend, height - 5);
    legend += ctx.measureText(s.label).width + 16;
    if (!s.points.length) continue;
    ctx.strokeStyle = s.colour;
    ctx.lineWidth = 2;
    ctx.beginPath();
    let prev = null;
    for (const p of s.points) {
      const px = Math.max(pad, x(p.t));
      if (prev === null) ctx.moveTo(px, y(p.value));
      else ctx.lineTo(px, y(prev));
      ctx.lineTo(px, y(p.value));
      prev = p.value;
    }
    ctx.lineTo(width - 4, y(prev));
    ctx.stroke();
  }
}
