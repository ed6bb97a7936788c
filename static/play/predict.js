// Our own character: moved at once on input (client-side prediction), reported to the server at
// most once per tick with the position reached, snapped back when the server corrects us.
//
// The server checks every move (docs/protocol.md section 4; worlds/sim/movement.py). This file
// applies the same rules before moving, so a correction means a real disagreement (lag, a
// teleport, cheating), not a client that walks where the server would not let it:
//   * positions travel with two decimals, so the predicted position is kept quantised;
//   * a step shorter than one tile must end on a walkable tile, and a step into a diagonally
//     adjacent tile needs both tiles beside that corner walkable. The rule is applied to every
//     frame's step AND to the step the server will judge (last sent position -> new position);
//   * speed stays well under limits.max_speed.

import { clientClock } from "./net.js";

const MOVE_INTERVAL_MS = 50; // one move per server tick at most
const SPEED_FRACTION = 0.85; // of limits.max_speed: headroom for timer jitter
const MAX_SPEED = 5.0; // tiles per second; the server allows 6
// Body extent used for local collision only (the server treats us as a point, so being stricter
// never causes a correction). Only the side we move towards is checked, so a character that
// spawns close to a wall can always walk away from it.
const BODY = { left: 0.28, right: 0.28, up: 0.08, down: 0.3 };
const PORTAL_WAIT_MS = 2500;

export const round2 = (value) => Math.round(value * 100) / 100;

/** Walkability of a zone's tiles, from the welcome/zone payload. */
export class TileMap {
  constructor(zone) {
    this.id = zone.id;
    this.name = zone.name;
    this.width = zone.w;
    this.height = zone.h;
    this.rows = zone.tiles;
    this.legend = zone.legend;
    this.portals = Array.isArray(zone.portals) ? zone.portals : [];
    this.walkable = new Uint8Array(this.width * this.height);
    this.kinds = new Array(this.width * this.height);
    for (let row = 0; row < this.height; row += 1) {
      const line = this.rows[row] || "";
      for (let column = 0; column < this.width; column += 1) {
        const entry = this.legend[line[column]];
        const index = row * this.width + column;
        this.kinds[index] = entry ? entry.kind : "unknown";
        this.walkable[index] = entry && entry.walkable ? 1 : 0;
      }
    }
  }

  kindAt(column, row) {
    if (column < 0 || row < 0 || column >= this.width || row >= this.height) return null;
    return this.kinds[row * this.width + column];
  }

  isWalkableTile(column, row) {
    if (column < 0 || row < 0 || column >= this.width || row >= this.height) return false;
    return this.walkable[row * this.width + column] === 1;
  }

  inBounds(x, y) {
    return x >= 0 && y >= 0 && x < this.width && y < this.height;
  }

  /** The server's rule for one move (exact below one tile, sampled every 0.25 above). */
  stepAllowed(fromX, fromY, toX, toY) {
    if (!this.inBounds(toX, toY)) return false;
    const distance = Math.hypot(toX - fromX, toY - fromY);
    if (distance >= 1) {
      const samples = Math.ceil(distance / 0.25);
      let previousX = fromX;
      let previousY = fromY;
      for (let i = 1; i <= samples; i += 1) {
        const x = fromX + ((toX - fromX) * i) / samples;
        const y = fromY + ((toY - fromY) * i) / samples;
        if (!this.stepAllowed(previousX, previousY, x, y)) return false;
        previousX = x;
        previousY = y;
      }
      return true;
    }
    const fromColumn = Math.floor(fromX);
    const fromRow = Math.floor(fromY);
    const toColumn = Math.floor(toX);
    const toRow = Math.floor(toY);
    if (!this.isWalkableTile(toColumn, toRow)) return false;
    if (fromColumn !== toColumn && fromRow !== toRow) {
      return this.isWalkableTile(toColumn, fromRow) && this.isWalkableTile(fromColumn, toRow);
    }
    return true;
  }

  /** Local-only body check on the side(s) we move towards. */
  bodyClear(x, y, dx, dy) {
    if (dx > 0 && !this.isWalkableTile(Math.floor(x + BODY.right), Math.floor(y))) return false;
    if (dx < 0 && !this.isWalkableTile(Math.floor(x - BODY.left), Math.floor(y))) return false;
    if (dy > 0 && !this.isWalkableTile(Math.floor(x), Math.floor(y + BODY.down))) return false;
    if (dy < 0 && !this.isWalkableTile(Math.floor(x), Math.floor(y - BODY.up))) return false;
    return true;
  }

  portalAt(x, y) {
    const column = Math.floor(x);
    const row = Math.floor(y);
    return this.portals.find(
      (portal) => column >= portal.x && column < portal.x + portal.w && row >= portal.y && row < portal.y + portal.h,
    ) || null;
  }

  /**
   * Shortest walkable path (8 directions, no corner cutting) from one tile to another, as tile
   * centres. A* with an octile heuristic; gives up (null) after `budget` expansions.
   */
  findPath(startColumn, startRow, goalColumn, goalRow, budget = 30000) {
    if (!this.isWalkableTile(goalColumn, goalRow)) return null;
    const width = this.width;
    const start = startRow * width + startColumn;
    const goal = goalRow * width + goalColumn;
    const cost = new Float64Array(width * this.height).fill(Infinity);
    const parent = new Int32Array(width * this.height).fill(-1);
    const closed = new Uint8Array(width * this.height);
    const heap = new MinHeap();
    const heuristic = (index) => {
      const dx = Math.abs((index % width) - goalColumn);
      const dy = Math.abs(Math.floor(index / width) - goalRow);
      return Math.max(dx, dy) + (Math.SQRT2 - 1) * Math.min(dx, dy);
    };
    cost[start] = 0;
    heap.push(start, heuristic(start));
    let expanded = 0;
    while (heap.size > 0) {
      const current = heap.pop();
      if (current === goal) break;
      if (closed[current]) continue;
      closed[current] = 1;
      expanded += 1;
      if (expanded > budget) return null;
      const column = current % width;
      const row = Math.floor(current / width);
      for (let dy = -1; dy <= 1; dy += 1) {
        for (let dx = -1; dx <= 1; dx += 1) {
          if (dx === 0 && dy === 0) continue;
          const nextColumn = column + dx;
          const nextRow = row + dy;
          if (!this.isWalkableTile(nextColumn, nextRow)) continue;
          if (dx !== 0 && dy !== 0
            && !(this.isWalkableTile(nextColumn, row) && this.isWalkableTile(column, nextRow))) continue;
          const next = nextRow * width + nextColumn;
          const nextCost = cost[current] + (dx !== 0 && dy !== 0 ? Math.SQRT2 : 1);
          if (nextCost < cost[next]) {
            cost[next] = nextCost;
            parent[next] = current;
            heap.push(next, nextCost + heuristic(next));
          }
        }
      }
    }
    if (start !== goal && parent[goal] === -1) return null;
    const path = [];
    for (let index = goal; index !== -1; index = parent[index]) {
      path.push({ x: (index % width) + 0.5, y: Math.floor(index / width) + 0.5 });
      if (index === start) break;
    }
    return path.reverse();
  }

  /** Can we walk straight from a to b (every small step legal, body clear)? */
  lineClear(ax, ay, bx, by) {
    const distance = Math.hypot(bx - ax, by - ay);
    const steps = Math.max(1, Math.ceil(distance / 0.1));
    let previousX = ax;
    let previousY = ay;
    for (let i = 1; i <= steps; i += 1) {
      const x = round2(ax + ((bx - ax) * i) / steps);
      const y = round2(ay + ((by - ay) * i) / steps);
      if (!this.stepAllowed(previousX, previousY, x, y) || !this.bodyClear(x, y, bx - ax, by - ay)) {
        return false;
      }
      previousX = x;
      previousY = y;
    }
    return true;
  }
}

class MinHeap {
  constructor() {
    this.items = [];
    this.priorities = [];
  }

  get size() {
    return this.items.length;
  }

  push(item, priority) {
    const items = this.items;
    const priorities = this.priorities;
    let index = items.length;
    items.push(item);
    priorities.push(priority);
    while (index > 0) {
      const up = (index - 1) >> 1;
      if (priorities[up] <= priority) break;
      items[index] = items[up];
      priorities[index] = priorities[up];
      index = up;
    }
    items[index] = item;
    priorities[index] = priority;
  }

  pop() {
    const items = this.items;
    const priorities = this.priorities;
    const top = items[0];
    const lastItem = items.pop();
    const lastPriority = priorities.pop();
    if (items.length > 0) {
      let index = 0;
      const length = items.length;
      for (;;) {
        const left = index * 2 + 1;
        if (left >= length) break;
        const right = left + 1;
        const child = right < length && priorities[right] < priorities[left] ? right : left;
        if (priorities[child] >= lastPriority) break;
        items[index] = items[child];
        priorities[index] = priorities[child];
        index = child;
      }
      items[index] = lastItem;
      priorities[index] = lastPriority;
    }
    return top;
  }
}

/** Facing octant of a step: 0 north, 2 east, 4 south, 6 west (same formula as the server). */
export function facingOf(dx, dy) {
  return ((Math.round(Math.atan2(dx, -dy) / (Math.PI / 4)) % 8) + 8) % 8;
}

export class Predictor {
  constructor() {
    this.map = null;
    this.x = 0;
    this.y = 0;
    this.f = 4;
    this.cid = 0;
    this.speed = MAX_SPEED;
    this.input = { x: 0, y: 0 };
    this.path = null;
    this.target = null;
    this.pending = [];
    this.lastSent = { x: 0, y: 0, f: 4 };
    this.lastSendAt = -Infinity;
    this.walkingReported = false;
    this.moving = false;
    this.enabled = false;
    this.portalWaitUntil = 0;
    this.stats = { moves: 0, corrections: 0, acked: 0 };
    this.lastCorrection = null; // for the console: what the server last refused
  }

  setZone(zone) {
    this.map = new TileMap(zone);
  }

  /** Take the server's position (welcome, zone change): a fresh start. */
  place({ x, y, f, cor }, limits) {
    this.x = round2(Number(x));
    this.y = round2(Number(y));
    if (Number.isInteger(f)) this.f = f;
    this.cid = Number.isInteger(cor) ? cor : 0;
    if (limits && Number.isFinite(limits.max_speed)) {
      this.speed = Math.min(MAX_SPEED, limits.max_speed * SPEED_FRACTION);
    }
    this.pending = [];
    this.lastSent = { x: this.x, y: this.y, f: this.f };
    this.walkingReported = false;
    this.path = null;
    this.target = null;
    this.portalWaitUntil = 0;
  }

  /** A correction (`you` in a tick frame): the server did not accept a move. */
  correct(correction) {
    if (!Number.isFinite(correction.x) || !Number.isFinite(correction.y)) return;
    // After a resume the server repeats the welcome's correction id and position in the first
    // tick frame: nothing to undo, and no move of ours was refused.
    if (correction.cor === this.cid) return;
    this.lastCorrection = { ...correction, from: { x: this.x, y: this.y, cid: this.cid } };
    this.x = round2(correction.x);
    this.y = round2(correction.y);
    if (Number.isInteger(correction.f)) this.f = correction.f;
    if (Number.isInteger(correction.cor)) this.cid = correction.cor;
    this.pending = []; // moves in flight carry the old cid: the server drops them
    this.lastSent = { x: this.x, y: this.y, f: this.f };
    this.path = null;
    this.target = null;
    this.portalWaitUntil = 0;
    this.stats.corrections += 1;
  }

  acknowledge(ack) {
    if (!Number.isInteger(ack)) return;
    this.stats.acked = Math.max(this.stats.acked, ack);
    while (this.pending.length > 0 && this.pending[0].seq <= ack) this.pending.shift();
  }

  /** Keyboard direction, each component -1, 0 or 1; any key input cancels click-to-move. */
  setInput(x, y) {
    this.input = { x, y };
    if (x !== 0 || y !== 0) {
      this.path = null;
      this.target = null;
    }
  }

  /** Click-to-move: walk to (x, y) around obstacles. Returns false if it cannot be reached. */
  moveTo(x, y) {
    if (!this.map) return false;
    const goalColumn = Math.floor(x);
    const goalRow = Math.floor(y);
    const tiles = this.map.findPath(Math.floor(this.x), Math.floor(this.y), goalColumn, goalRow);
    if (!tiles) return false;
    const goal = { x: round2(Math.min(Math.max(x, goalColumn + 0.3), goalColumn + 0.7)),
      y: round2(Math.min(Math.max(y, goalRow + 0.3), goalRow + 0.7)) };
    const points = [{ x: this.x, y: this.y }, ...tiles.slice(1, -1), goal];
    this.path = this._smooth(points).slice(1);
    this.target = goal;
    return true;
  }

  // String pulling: skip every waypoint that can be reached in a straight legal line.
  _smooth(points) {
    const kept = [points[0]];
    let anchor = 0;
    while (anchor < points.length - 1) {
      let next = points.length - 1;
      while (next > anchor + 1 && !this.map.lineClear(points[anchor].x, points[anchor].y, points[next].x, points[next].y)) {
        next -= 1;
      }
      kept.push(points[next]);
      anchor = next;
    }
    return kept;
  }

  /** Advance the prediction by `dt` seconds of input. */
  update(dt, now) {
    this.moving = false;
    if (!this.enabled || !this.map || dt <= 0) return;
    if (now < this.portalWaitUntil) return; // stepping through a portal: wait for the server
    let direction = null;
    if (this.input.x !== 0 || this.input.y !== 0) {
      const length = Math.hypot(this.input.x, this.input.y);
      direction = { x: this.input.x / length, y: this.input.y / length };
    } else if (this.path && this.path.length > 0) {
      direction = this._pathDirection();
    }
    if (!direction) return;
    const step = this.speed * Math.min(dt, 0.1);
    let remaining = step;
    if (this.path && this.input.x === 0 && this.input.y === 0) {
      const waypoint = this.path[0];
      remaining = Math.min(step, Math.hypot(waypoint.x - this.x, waypoint.y - this.y));
    }
    const dx = direction.x * remaining;
    const dy = direction.y * remaining;
    // Try the full step, then slide along whichever axis is free (full speed along the wall).
    const candidates = [[dx, dy]];
    if (dx !== 0 && dy !== 0) {
      candidates.push([Math.sign(dx) * step, 0], [0, Math.sign(dy) * step]);
    }
    let waiting = false;
    for (const [cx, cy] of candidates) {
      const x = round2(this.x + cx);
      const y = round2(this.y + cy);
      if (x === this.x && y === this.y) continue;
      const verdict = this._judge(x, y, cx, cy);
      if (verdict === "ok") {
        this.f = facingOf(x - this.x, y - this.y);
        this.x = x;
        this.y = y;
        this.moving = true;
        break;
      }
      if (verdict === "wait") {
        waiting = true;
        break;
      }
    }
    if (!this.moving && !waiting) {
      // Blocked: still turn to face where we were told to go.
      this.f = facingOf(direction.x, direction.y);
      if (this.path) {
        this.path = null;
        this.target = null;
      }
    }
    this._advancePath();
    if (this.moving && this.map.portalAt(this.x, this.y)) this.portalWaitUntil = now + PORTAL_WAIT_MS;
  }

  // "ok": move; "blocked": the way is shut; "wait": legal from here, but the server would judge
  // the step from the last position we sent and refuse it (an L-shaped turn around a blocked
  // corner within one tick): pause until the next move is sent, at most one tick.
  _judge(x, y, dx, dy) {
    const map = this.map;
    if (!map.stepAllowed(this.x, this.y, x, y) || !map.bodyClear(x, y, dx, dy)) return "blocked";
    if (!map.stepAllowed(this.lastSent.x, this.lastSent.y, x, y)) return "wait";
    return "ok";
  }

  _pathDirection() {
    const waypoint = this.path[0];
    const dx = waypoint.x - this.x;
    const dy = waypoint.y - this.y;
    const length = Math.hypot(dx, dy);
    if (length < 0.005) return null;
    return { x: dx / length, y: dy / length };
  }

  _advancePath() {
    if (!this.path) return;
    while (this.path.length > 0 && Math.hypot(this.path[0].x - this.x, this.path[0].y - this.y) < 0.02) {
      this.path.shift();
    }
    if (this.path.length === 0) {
      this.path = null;
      this.target = null;
    }
  }

  /**
   * Report to the server: a move at most once per tick while the position changes, `face` when
   * only the facing changed, `stop` once after the last move. `send(type, fields)` returns the seq.
   */
  flush(now, send) {
    if (!this.enabled || now - this.lastSendAt < MOVE_INTERVAL_MS) return;
    const moved = this.x !== this.lastSent.x || this.y !== this.lastSent.y;
    if (moved) {
      const seq = send("move", { x: this.x, y: this.y, ct: clientClock(), cid: this.cid });
      if (!seq) return;
      this.pending.push({ seq, x: this.x, y: this.y });
      this.lastSent = { x: this.x, y: this.y, f: this.f };
      this.lastSendAt = now;
      this.walkingReported = true;
      this.stats.moves += 1;
    } else if (!this.moving && this.walkingReported) {
      if (send("stop", {})) {
        this.walkingReported = false;
        this.lastSendAt = now;
      }
    } else if (!this.moving && this.f !== this.lastSent.f) {
      if (send("face", { f: this.f })) {
        this.lastSent = { ...this.lastSent, f: this.f };
        this.lastSendAt = now;
      }
    }
  }
}
