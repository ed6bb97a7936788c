// What this client knows about the other entities in view: the table kept from tick frames
// (enter / upd / leave / chg) and their interpolated positions. Others are drawn INTERP_DELAY_MS
// in the past, between two known server positions, so they move smoothly although updates
// arrive at 20 Hz with network jitter. Our own entity is predicted (predict.js), never here.

export const INTERP_DELAY_MS = 100;
const TELEPORT_TILES = 3; // a jump longer than this is shown as a jump, not a slide
const MAX_SAMPLES = 24;

export class WorldView {
  constructor() {
    this.entities = new Map();
    this.self = null;
    this.selfId = null;
    this.tickMs = 50;
    this.lastTick = 0;
    this._offset = null;
  }

  /** Forget everything (welcome, zone change) and take our own public fields. */
  reset({ self, tickHz }) {
    this.entities.clear();
    this.self = { ...self };
    this.selfId = self.id;
    if (tickHz > 0) this.tickMs = 1000 / tickHz;
    this._offset = null;
  }

  /**
   * Local time (performance.now() scale) at which server tick `tick` happened. The offset is the
   * smallest arrival delay seen (the least delayed frame is the best estimate), relaxing slowly
   * upwards so a server that falls behind its tick rate does not starve the interpolation.
   */
  tickTime(tick, now) {
    const candidate = now - tick * this.tickMs;
    if (this._offset === null || candidate < this._offset) {
      this._offset = candidate;
    } else {
      this._offset += (candidate - this._offset) * 0.02;
    }
    return tick * this.tickMs + this._offset;
  }

  leave(ids) {
    for (const id of ids) this.entities.delete(id);
  }

  enter(list) {
    for (const fields of list) {
      if (!fields || typeof fields.id !== "number" || fields.id === this.selfId) continue;
      const known = this.entities.get(fields.id);
      const entity = known || {
        id: fields.id, samples: [], x: NaN, y: NaN, f: 4, walking: false, speech: null,
        enteredAt: performance.now(),
      };
      Object.assign(entity, publicFields(fields));
      this.entities.set(fields.id, entity);
    }
  }

  update(rows, tick, now) {
    const time = this.tickTime(tick, now);
    this.lastTick = tick;
    for (const row of rows) {
      if (!Array.isArray(row) || row.length < 4) continue;
      const [id, x, y, f] = row;
      const entity = this.entities.get(id);
      if (!entity || !Number.isFinite(x) || !Number.isFinite(y)) continue;
      const samples = entity.samples;
      const last = samples[samples.length - 1];
      if (last && Math.hypot(x - last.x, y - last.y) > TELEPORT_TILES) {
        samples.length = 0;
      } else if (last && last.tick < tick - 1) {
        // It stood still since `last`: hold that spot until the tick before this one, or the
        // whole pause would be spent sliding slowly towards the new position.
        samples.push({ tick: tick - 1, time: time - this.tickMs, x: last.x, y: last.y, f: last.f });
      }
      samples.push({ tick, time, x, y, f });
      if (samples.length > MAX_SAMPLES) samples.splice(0, samples.length - MAX_SAMPLES);
    }
  }

  change(list) {
    for (const fields of list) {
      if (!fields || typeof fields.id !== "number") continue;
      if (fields.id === this.selfId) {
        Object.assign(this.self, publicFields(fields));
        continue;
      }
      const entity = this.entities.get(fields.id);
      if (entity) Object.assign(entity, publicFields(fields));
    }
  }

  /** Say something over an entity's head (chat bubble) for a few seconds. */
  speak(id, text, now) {
    const target = id === this.selfId ? this.self : this.entities.get(id);
    if (target) target.speech = { text, until: now + 6000 };
  }

  /** Interpolate every entity to `now - INTERP_DELAY_MS`; sets x, y, f, walking. */
  sample(now) {
    const renderTime = now - INTERP_DELAY_MS;
    for (const entity of this.entities.values()) {
      const samples = entity.samples;
      if (samples.length === 0) continue;
      const previousX = entity.x;
      const previousY = entity.y;
      let index = samples.length - 1;
      while (index > 0 && samples[index - 1].time > renderTime) index -= 1;
      const after = samples[index];
      const before = index > 0 ? samples[index - 1] : null;
      if (before && renderTime < after.time && renderTime >= before.time) {
        const span = after.time - before.time;
        const k = span > 0 ? (renderTime - before.time) / span : 1;
        entity.x = before.x + (after.x - before.x) * k;
        entity.y = before.y + (after.y - before.y) * k;
        entity.f = after.f;
      } else {
        const chosen = renderTime >= after.time ? after : samples[0];
        entity.x = chosen.x;
        entity.y = chosen.y;
        entity.f = chosen.f;
      }
      const moved = Number.isFinite(previousX) && Math.hypot(entity.x - previousX, entity.y - previousY) > 1e-4;
      if (moved) entity.lastMovedAt = now;
      // A short hold keeps the walk cycle from flickering between two equal samples.
      entity.walking = now - (entity.lastMovedAt || -Infinity) < 120;
      // Old samples behind the render time are no longer needed (keep one for interpolation).
      if (index > 1) samples.splice(0, index - 1);
    }
  }

  /** Entities with a known position, sorted by y (drawing order). */
  visible() {
    const list = [];
    for (const entity of this.entities.values()) {
      if (Number.isFinite(entity.x)) list.push(entity);
    }
    list.sort((a, b) => a.y - b.y);
    return list;
  }

  /** Plain data for tests and the console (window.__mmo.entities()). */
  snapshot() {
    return [...this.entities.values()].map((entity) => {
      const last = entity.samples[entity.samples.length - 1];
      return {
        id: entity.id, k: entity.k, name: entity.name, lvl: entity.lvl, cls: entity.cls,
        x: entity.x, y: entity.y, serverX: last ? last.x : null, serverY: last ? last.y : null,
      };
    });
  }
}

function publicFields(fields) {
  const copy = { ...fields };
  delete copy.samples;
  delete copy.x;
  delete copy.y;
  return copy;
}
