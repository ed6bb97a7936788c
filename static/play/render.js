// Canvas drawing: the zone's tiles as 16-pixel pixel art (painted once per 16x16-tile chunk into
// an offscreen canvas, scaled up without smoothing), then portals, characters, labels, speech
// bubbles, the click marker and a minimap. The camera follows our predicted position; all
// drawing is in device pixels so the picture stays crisp at any devicePixelRatio.

const ART = 16; // art pixels per tile
const CHUNK = 16; // tiles per chunk side
const ZOOMS = [2, 3, 4]; // screen pixels per art pixel (before devicePixelRatio)
const SPRITE = 1.3; // characters are drawn a bit larger than a tile, as in most top-down RPGs

// ---- colours -------------------------------------------------------------------------------

function rgb(hex) {
  const value = parseInt(hex.slice(1), 16);
  return [(value >> 16) & 255, (value >> 8) & 255, value & 255];
}

const KIND_COLOURS = {
  grass: { base: "#4f8a3c", dark: "#3e7230", light: "#66a34b" },
  flowers: { base: "#4f8a3c", dark: "#3e7230", light: "#66a34b" },
  road: { base: "#9a8463", dark: "#7a6749", light: "#b59f7b" },
  floor: { base: "#a59a86", dark: "#7b7263", light: "#b8ad98" },
  sand: { base: "#d8c38b", dark: "#c2ab73", light: "#e9d9a8" },
  door: { base: "#8d6442", dark: "#4a3222", light: "#b9854f" },
  portal: { base: "#2b1f52", dark: "#1b1238", light: "#8f73ff" },
  wall: { base: "#6f6b78", dark: "#4b4853", light: "#8b8794" },
  water: { base: "#2e62a3", dark: "#244f86", light: "#5d93d6" },
  tree: { base: "#2f6d2b", dark: "#224f20", light: "#4b9140" },
  rock: { base: "#85848a", dark: "#5f5e64", light: "#a9a8ad" },
  unknown: { base: "#6b6b70", dark: "#5b5b60", light: "#7b7b80" },
};
const MINIMAP_COLOURS = {
  grass: "#4f8a3c", flowers: "#5c9343", road: "#a08a68", floor: "#a59a86", sand: "#d8c38b",
  door: "#b9854f", portal: "#8f73ff", wall: "#3f3c46", water: "#2e62a3", tree: "#24551f",
  rock: "#77767c", unknown: "#6b6b70",
};
const FLOWER_COLOURS = ["#f2d64b", "#e8576b", "#f4f1e8", "#b07be0", "#ff9f43"];
const BLOCKING_KINDS = new Set(["wall", "tree", "rock"]);
const SKIN_TONES = ["#f1c8a0", "#deaa7f", "#b07650", "#7a4a30"];
const HAIR_COLOURS = ["#2b1d14", "#5a3a22", "#8c5a2b", "#c99a52", "#e8d08a", "#a33a2a", "#d8d8d8", "#3a3f5a"];
const CLASS_COLOURS = {
  warrior: "#b5523b", mage: "#4a6fd1", ranger: "#4f7f3a", cleric: "#e2d6b5", adventurer: "#c9893a",
};

function hash(a, b, salt) {
  let h = (a * 374761393 + b * 668265263 + salt * 2147483647) | 0;
  h = Math.imul(h ^ (h >>> 13), 1274126177);
  return (h ^ (h >>> 16)) >>> 0;
}

// ---- tile painting (ImageData, one chunk at a time) ---------------------------------------

class Painter {
  constructor(size) {
    this.size = size;
    this.image = new ImageData(size, size);
    this.data = this.image.data;
  }

  set(x, y, colour, alpha = 1) {
    if (x < 0 || y < 0 || x >= this.size || y >= this.size) return;
    const i = (y * this.size + x) * 4;
    const [r, g, b] = colour;
    if (alpha >= 1) {
      this.data[i] = r;
      this.data[i + 1] = g;
      this.data[i + 2] = b;
    } else {
      this.data[i] += (r - this.data[i]) * alpha;
      this.data[i + 1] += (g - this.data[i + 1]) * alpha;
      this.data[i + 2] += (b - this.data[i + 2]) * alpha;
    }
    this.data[i + 3] = 255;
  }

  rect(x, y, w, h, colour, alpha = 1) {
    for (let yy = y; yy < y + h; yy += 1) {
      for (let xx = x; xx < x + w; xx += 1) this.set(xx, yy, colour, alpha);
    }
  }

  disc(cx, cy, radius, colour, alpha = 1) {
    const r2 = radius * radius;
    for (let yy = Math.floor(cy - radius); yy <= Math.ceil(cy + radius); yy += 1) {
      for (let xx = Math.floor(cx - radius); xx <= Math.ceil(cx + radius); xx += 1) {
        const dx = xx + 0.5 - cx;
        const dy = yy + 0.5 - cy;
        if (dx * dx + dy * dy <= r2) this.set(xx, yy, colour, alpha);
      }
    }
  }
}

const PALETTES = Object.fromEntries(
  Object.entries(KIND_COLOURS).map(([kind, colours]) => [
    kind, { base: rgb(colours.base), dark: rgb(colours.dark), light: rgb(colours.light) },
  ]),
);
const BLACK = [0, 0, 0];
const WHITE = [255, 255, 255];

function speckle(p, ox, oy, column, row, palette, count, salt) {
  for (let i = 0; i < count; i += 1) {
    const h = hash(column, row, salt + i);
    const x = h % ART;
    const y = (h >>> 8) % ART;
    p.set(ox + x, oy + y, (h >>> 16) & 1 ? palette.dark : palette.light);
  }
}

function paintGrass(p, ox, oy, column, row) {
  const palette = PALETTES.grass;
  p.rect(ox, oy, ART, ART, palette.base);
  speckle(p, ox, oy, column, row, palette, 10, 11);
  const h = hash(column, row, 3);
  if (h % 3 === 0) {
    // a tuft of blades
    const x = ox + 3 + (h >>> 4) % 9;
    const y = oy + 4 + (h >>> 9) % 8;
    p.set(x, y, palette.light);
    p.set(x + 1, y - 1, palette.light);
    p.set(x + 2, y, palette.light);
    p.set(x + 1, y + 1, palette.dark);
  }
}

function paintFlowers(p, ox, oy, column, row) {
  paintGrass(p, ox, oy, column, row);
  for (let i = 0; i < 3; i += 1) {
    const h = hash(column, row, 40 + i);
    const x = ox + 2 + (h % 12);
    const y = oy + 2 + ((h >>> 6) % 12);
    const colour = rgb(FLOWER_COLOURS[(h >>> 12) % FLOWER_COLOURS.length]);
    p.set(x, y, colour);
    p.set(x + 1, y, colour);
    p.set(x, y + 1, colour);
    p.set(x + 1, y + 1, [250, 230, 120]);
    p.set(x, y + 2, PALETTES.grass.dark);
  }
}

function paintRoad(p, ox, oy, column, row) {
  const palette = PALETTES.road;
  p.rect(ox, oy, ART, ART, palette.dark);
  // cobbles: a staggered grid of rounded stones
  const offset = (row % 2) * 4;
  for (let sy = 0; sy < ART; sy += 8) {
    for (let sx = -8; sx < ART; sx += 8) {
      const x = ox + sx + offset + ((sy / 8) % 2) * 4;
      const h = hash(column * 4 + sx, row * 4 + sy, 7);
      const shade = h % 3 === 0 ? palette.light : palette.base;
      for (let yy = 1; yy < 7; yy += 1) {
        for (let xx = 1; xx < 7; xx += 1) {
          const corner = (xx === 1 || xx === 6) && (yy === 1 || yy === 6);
          if (corner) continue;
          const px = x + xx;
          if (px < ox || px >= ox + ART) continue;
          p.set(px, oy + sy + yy, yy === 1 ? palette.light : shade);
        }
      }
    }
  }
}

function paintFloor(p, ox, oy, column, row) {
  // flagstones: reads as a paved square outdoors and as a stone floor indoors
  const palette = PALETTES.floor;
  p.rect(ox, oy, ART, ART, palette.dark);
  const split = 4 + (hash(column, row, 5) % 8);
  const stones = [[0, 0, split, 8], [split, 0, ART - split, 8], [0, 8, ART - split, 8], [ART - split, 8, split, 8]];
  stones.forEach(([x, y, w, h], index) => {
    const tone = hash(column, row, 50 + index) % 3 === 0 ? palette.light : palette.base;
    p.rect(ox + x + 1, oy + y + 1, w - 1, h - 1, tone);
    p.rect(ox + x + 1, oy + y + 1, w - 1, 1, WHITE, 0.12);
  });
  speckle(p, ox, oy, column, row, palette, 4, 70);
}

function paintSand(p, ox, oy, column, row) {
  const palette = PALETTES.sand;
  p.rect(ox, oy, ART, ART, palette.base);
  speckle(p, ox, oy, column, row, palette, 14, 17);
}

function paintDoor(p, ox, oy, column, row) {
  p.rect(ox, oy, ART, ART, PALETTES.wall.dark);
  const palette = PALETTES.door;
  p.rect(ox + 2, oy, 12, ART, palette.dark);
  p.rect(ox + 3, oy + 1, 10, ART - 1, palette.light);
  for (let x = 5; x < 13; x += 3) p.rect(ox + x, oy + 1, 1, ART - 1, palette.dark, 0.6);
  p.rect(ox + 10, oy + 8, 2, 2, rgb("#f0cf5a"));
}

function paintPortal(p, ox, oy, column, row) {
  const palette = PALETTES.portal;
  p.rect(ox, oy, ART, ART, palette.base);
  for (let i = 0; i < 18; i += 1) {
    const h = hash(column, row, 60 + i);
    p.set(ox + (h % ART), oy + ((h >>> 8) % ART), (h >>> 16) & 1 ? palette.light : rgb("#5b45c9"));
  }
  p.disc(ox + 8, oy + 8, 5, rgb("#5b45c9"), 0.6);
  p.disc(ox + 8, oy + 8, 3, palette.light, 0.7);
  p.disc(ox + 8, oy + 8, 1.5, WHITE, 0.8);
}

function paintWall(p, ox, oy, column, row, map) {
  const palette = PALETTES.wall;
  const below = map.kindAt(column, row + 1);
  const above = map.kindAt(column, row - 1);
  p.rect(ox, oy, ART, ART, palette.base);
  // bricks with mortar
  for (let course = 0; course < 4; course += 1) {
    const y = oy + course * 4;
    p.rect(ox, y + 3, ART, 1, palette.dark);
    const shift = (course + row) % 2 ? 0 : 4;
    for (let x = shift; x < ART; x += 8) p.rect(ox + x, y, 1, 3, palette.dark);
    const h = hash(column, row * 4 + course, 21);
    p.rect(ox + (h % 12), y, 3, 1, palette.light, 0.6);
  }
  if (above !== "wall") p.rect(ox, oy, ART, 1, palette.light);
  if (below !== "wall" && below !== null) {
    // the wall's front face: darker, so walls read as standing up
    p.rect(ox, oy + ART - 5, ART, 5, BLACK, 0.28);
    p.rect(ox, oy + ART - 1, ART, 1, BLACK, 0.35);
  }
}

function paintWater(p, ox, oy, column, row, map) {
  const palette = PALETTES.water;
  p.rect(ox, oy, ART, ART, palette.base);
  for (let i = 0; i < 3; i += 1) {
    const h = hash(column, row, 30 + i);
    const x = ox + (h % 11);
    const y = oy + 2 + ((h >>> 8) % 12);
    p.rect(x, y, 4, 1, palette.light, 0.8);
    p.rect(x + 1, y + 1, 3, 1, palette.dark);
  }
  const foam = [216, 236, 250];
  if (map.kindAt(column, row - 1) !== "water") p.rect(ox, oy, ART, 2, foam, 0.55);
  if (map.kindAt(column, row + 1) !== "water") p.rect(ox, oy + ART - 1, ART, 1, foam, 0.35);
  if (map.kindAt(column - 1, row) !== "water") p.rect(ox, oy, 1, ART, foam, 0.45);
  if (map.kindAt(column + 1, row) !== "water") p.rect(ox + ART - 1, oy, 1, ART, foam, 0.45);
}

function paintTree(p, ox, oy, column, row) {
  paintGrass(p, ox, oy, column, row);
  const palette = PALETTES.tree;
  p.disc(ox + 8, oy + 13.5, 6, BLACK, 0.25); // shadow on the grass
  p.rect(ox + 7, oy + 10, 3, 5, rgb("#5b3b22"));
  p.rect(ox + 7, oy + 10, 1, 5, rgb("#71492b"));
  const h = hash(column, row, 13);
  const lean = (h % 3) - 1;
  p.disc(ox + 8 + lean * 0.5, oy + 7, 6.5, palette.dark);
  p.disc(ox + 7.5 + lean * 0.5, oy + 6, 5.5, palette.base);
  p.disc(ox + 6 + lean * 0.5, oy + 4.5, 2.5, palette.light);
  p.set(ox + 10, oy + 6, palette.light);
  p.set(ox + 4, oy + 8, palette.light);
}

function paintRock(p, ox, oy, column, row) {
  paintGrass(p, ox, oy, column, row);
  const palette = PALETTES.rock;
  p.disc(ox + 8, oy + 12, 6, BLACK, 0.22);
  p.disc(ox + 8, oy + 9, 5.5, palette.dark);
  p.disc(ox + 7.5, oy + 8.5, 4.5, palette.base);
  p.disc(ox + 6, oy + 7, 1.8, palette.light);
}

function paintUnknown(p, ox, oy, column, row) {
  const palette = PALETTES.unknown;
  p.rect(ox, oy, ART, ART, palette.base);
  for (let y = 0; y < ART; y += 4) {
    for (let x = (y / 4) % 2 ? 0 : 4; x < ART; x += 8) p.rect(ox + x, oy + y, 4, 4, palette.dark);
  }
}

const PAINTERS = {
  grass: paintGrass, flowers: paintFlowers, road: paintRoad, floor: paintFloor, sand: paintSand,
  door: paintDoor, portal: paintPortal, wall: paintWall, water: paintWater, tree: paintTree,
  rock: paintRock,
};

function paintShadows(p, ox, oy, column, row, map) {
  // Blocking things cast a short shadow onto the walkable tile south and east of them.
  const kind = map.kindAt(column, row);
  if (BLOCKING_KINDS.has(kind) || kind === "water") return;
  if (map.kindAt(column, row - 1) === "wall") p.rect(ox, oy, ART, 3, BLACK, 0.22);
  if (map.kindAt(column - 1, row) === "wall") p.rect(ox, oy, 2, ART, BLACK, 0.16);
}

function paintChunk(map, chunkColumn, chunkRow) {
  const painter = new Painter(CHUNK * ART);
  for (let ty = 0; ty < CHUNK; ty += 1) {
    for (let tx = 0; tx < CHUNK; tx += 1) {
      const column = chunkColumn * CHUNK + tx;
      const row = chunkRow * CHUNK + ty;
      const kind = map.kindAt(column, row);
      if (kind === null) continue; // outside the map: stays transparent
      const paint = PAINTERS[kind] || paintUnknown;
      paint(painter, tx * ART, ty * ART, column, row, map);
      paintShadows(painter, tx * ART, ty * ART, column, row, map);
    }
  }
  const canvas = document.createElement("canvas");
  canvas.width = CHUNK * ART;
  canvas.height = CHUNK * ART;
  canvas.getContext("2d").putImageData(painter.image, 0, 0);
  return canvas;
}

// ---- characters ----------------------------------------------------------------------------

function facingVector(f) {
  const angle = (f * Math.PI) / 4;
  return { x: Math.sin(angle), y: -Math.cos(angle) };
}

function shade(hex, amount) {
  const [r, g, b] = rgb(hex);
  const mix = (c) => Math.round(amount < 0 ? c * (1 + amount) : c + (255 - c) * amount);
  return `rgb(${mix(r)}, ${mix(g)}, ${mix(b)})`;
}

function roundedRect(ctx, x, y, w, h, r) {
  ctx.beginPath();
  ctx.moveTo(x + r, y);
  ctx.arcTo(x + w, y, x + w, y + h, r);
  ctx.arcTo(x + w, y + h, x, y + h, r);
  ctx.arcTo(x, y + h, x, y, r);
  ctx.arcTo(x, y, x + w, y, r);
  ctx.closePath();
}

export class Renderer {
  constructor(canvas, { palette = {}, classes = {} } = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d", { alpha: false });
    this.palette = palette;
    this.classes = classes;
    this.map = null;
    this.chunks = new Map();
    this.minimap = null;
    this.zoomIndex = 0;
    this.zoomChosen = false;
    this.dpr = 1;
    this.width = 1;
    this.height = 1;
    this.originX = 0;
    this.originY = 0;
    this.unit = ART * ZOOMS[0];
    this.marker = null;
    this.frames = 0;
    this.resize();
  }

  resize() {
    const dpr = window.devicePixelRatio || 1;
    const rect = this.canvas.getBoundingClientRect();
    const width = Math.max(1, Math.round(rect.width * dpr));
    const height = Math.max(1, Math.round(rect.height * dpr));
    if (width !== this.canvas.width || height !== this.canvas.height) {
      this.canvas.width = width;
      this.canvas.height = height;
    }
    this.dpr = dpr;
    this.width = width;
    this.height = height;
    this.vignette = null; // sized to the canvas: rebuilt on the next frame
    this._autoZoom();
  }

  zoom(step) {
    this.zoomIndex = Math.min(ZOOMS.length - 1, Math.max(0, this.zoomIndex + step));
    this.zoomChosen = true;
  }

  // Until the player zooms, pick the closest zoom that still shows 32 tiles across.
  _autoZoom() {
    if (this.zoomChosen) return;
    const cssWidth = this.width / this.dpr;
    let index = 0;
    ZOOMS.forEach((zoom, candidate) => {
      if (cssWidth / (ART * zoom) >= 32) index = candidate;
    });
    this.zoomIndex = index;
  }

  setZone(map) {
    this.map = map;
    this.chunks.clear();
    this.minimap = this._paintMinimap(map);
    this.marker = null;
  }

  showMarker(x, y, ok, now) {
    this.marker = { x, y, ok, at: now };
  }

  /** CSS pixel position on the canvas -> world tiles (for click-to-move). */
  screenToWorld(cssX, cssY) {
    return {
      x: (cssX * this.dpr - this.originX) / this.unit,
      y: (cssY * this.dpr - this.originY) / this.unit,
    };
  }

  draw(now, scene) {
    const ctx = this.ctx;
    this.frames += 1;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.fillStyle = "#07080b";
    ctx.fillRect(0, 0, this.width, this.height);
    if (!this.map || !scene.self) return;
    this._placeCamera(scene.self);
    this._drawTiles();
    this._drawWaterGlints(now);
    this._drawPortals(now);
    this._drawMarker(now);
    const drawables = scene.others.map((entity) => ({ entity, self: false }));
    drawables.push({ entity: scene.self, self: true });
    drawables.sort((a, b) => a.entity.y - b.entity.y);
    for (const item of drawables) this._drawCharacter(item.entity, item.self, now);
    for (const item of drawables) this._drawLabel(item.entity, item.self, now);
    for (const item of drawables) this._drawSpeech(item.entity, now);
    this._drawVignette();
    this._drawMinimap(scene);
  }

  // --- camera and tiles -----------------------------------------------------------------------

  _placeCamera(self) {
    const scale = ZOOMS[this.zoomIndex] * this.dpr;
    const unit = ART * scale;
    this.unit = unit;
    const map = this.map;
    const centre = (size, extent, position) => {
      if (extent * unit <= size) return Math.round((size - extent * unit) / 2);
      const origin = size / 2 - position * unit;
      return Math.round(Math.min(0, Math.max(size - extent * unit, origin)));
    };
    this.originX = centre(this.width, map.width, self.x);
    this.originY = centre(this.height, map.height, self.y - 0.3);
  }

  _drawTiles() {
    const ctx = this.ctx;
    const unit = this.unit;
    const chunkSize = CHUNK * unit;
    const firstColumn = Math.max(0, Math.floor(-this.originX / chunkSize));
    const firstRow = Math.max(0, Math.floor(-this.originY / chunkSize));
    const lastColumn = Math.min(Math.ceil(this.map.width / CHUNK) - 1, Math.floor((this.width - this.originX) / chunkSize));
    const lastRow = Math.min(Math.ceil(this.map.height / CHUNK) - 1, Math.floor((this.height - this.originY) / chunkSize));
    for (let row = firstRow; row <= lastRow; row += 1) {
      for (let column = firstColumn; column <= lastColumn; column += 1) {
        const key = row * 4096 + column;
        let chunk = this.chunks.get(key);
        if (!chunk) {
          chunk = paintChunk(this.map, column, row);
          this.chunks.set(key, chunk);
        }
        const x = Math.round(this.originX + column * chunkSize);
        const y = Math.round(this.originY + row * chunkSize);
        ctx.drawImage(chunk, x, y, Math.round(this.originX + (column + 1) * chunkSize) - x,
          Math.round(this.originY + (row + 1) * chunkSize) - y);
      }
    }
  }

  _visibleTiles() {
    const unit = this.unit;
    return {
      c0: Math.max(0, Math.floor(-this.originX / unit)),
      r0: Math.max(0, Math.floor(-this.originY / unit)),
      c1: Math.min(this.map.width - 1, Math.floor((this.width - this.originX) / unit)),
      r1: Math.min(this.map.height - 1, Math.floor((this.height - this.originY) / unit)),
    };
  }

  _drawWaterGlints(now) {
    const ctx = this.ctx;
    const unit = this.unit;
    const pixel = unit / ART;
    const step = Math.floor(now / 450);
    const { c0, r0, c1, r1 } = this._visibleTiles();
    ctx.fillStyle = "rgba(200, 230, 255, 0.55)";
    for (let row = r0; row <= r1; row += 1) {
      for (let column = c0; column <= c1; column += 1) {
        if (this.map.kindAt(column, row) !== "water") continue;
        const h = hash(column, row, step);
        if (h % 4 !== 0) continue;
        const x = this.originX + column * unit + ((h >>> 4) % 12 + 2) * pixel;
        const y = this.originY + row * unit + ((h >>> 9) % 12 + 2) * pixel;
        ctx.fillRect(Math.round(x), Math.round(y), Math.ceil(pixel * 2), Math.ceil(pixel));
      }
    }
  }

  _drawPortals(now) {
    const ctx = this.ctx;
    const unit = this.unit;
    const pulse = 0.5 + 0.5 * Math.sin(now / 380);
    for (const portal of this.map.portals) {
      const x = this.originX + portal.x * unit;
      const y = this.originY + portal.y * unit;
      const w = portal.w * unit;
      const h = portal.h * unit;
      if (x > this.width || y > this.height || x + w < 0 || y + h < 0) continue;
      const glow = ctx.createRadialGradient(x + w / 2, y + h / 2, 0, x + w / 2, y + h / 2, Math.max(w, h));
      glow.addColorStop(0, `rgba(170, 140, 255, ${0.35 + 0.25 * pulse})`);
      glow.addColorStop(1, "rgba(120, 90, 255, 0)");
      ctx.fillStyle = glow;
      ctx.fillRect(x - w / 2, y - h / 2, w * 2, h * 2);
      ctx.strokeStyle = `rgba(200, 185, 255, ${0.5 + 0.4 * pulse})`;
      ctx.lineWidth = Math.max(1, this.dpr * 1.5);
      ctx.setLineDash([unit / 6, unit / 8]);
      ctx.lineDashOffset = -now / 40;
      ctx.strokeRect(x + 1, y + 1, w - 2, h - 2);
      ctx.setLineDash([]);
      // motes rising out of the portal
      ctx.fillStyle = "rgba(225, 215, 255, 0.85)";
      for (let i = 0; i < 4; i += 1) {
        const phase = ((now / 1600 + i / 4) % 1);
        const mx = x + w * ((hash(portal.x, portal.y, i) % 100) / 100);
        const my = y + h - phase * h * 1.2;
        const size = Math.max(1, Math.round(unit / 14));
        ctx.globalAlpha = 1 - phase;
        ctx.fillRect(Math.round(mx), Math.round(my), size, size);
      }
      ctx.globalAlpha = 1;
      const label = `→ ${titleCase(portal.to)}`;
      const margin = 40 * this.dpr; // keep the label on screen for portals at the map's edge
      const labelX = Math.min(Math.max(x + w / 2, margin), this.width - margin);
      this._text(label, labelX, y - unit * 0.15, { size: 11, colour: "#d9ccff", weight: 600 });
    }
  }

  _drawMarker(now) {
    const marker = this.marker;
    if (!marker) return;
    const age = (now - marker.at) / 700;
    if (age >= 1) {
      this.marker = null;
      return;
    }
    const ctx = this.ctx;
    const x = this.originX + marker.x * this.unit;
    const y = this.originY + marker.y * this.unit;
    ctx.strokeStyle = marker.ok ? `rgba(240, 197, 107, ${1 - age})` : `rgba(224, 98, 90, ${1 - age})`;
    ctx.lineWidth = 2 * this.dpr;
    ctx.beginPath();
    ctx.ellipse(x, y, this.unit * (0.45 - age * 0.25), this.unit * (0.2 - age * 0.1), 0, 0, Math.PI * 2);
    ctx.stroke();
    if (!marker.ok) {
      const s = this.unit * 0.18;
      ctx.beginPath();
      ctx.moveTo(x - s, y - s);
      ctx.lineTo(x + s, y + s);
      ctx.moveTo(x + s, y - s);
      ctx.lineTo(x - s, y + s);
      ctx.stroke();
    }
  }

  // --- characters ------------------------------------------------------------------------------

  _drawCharacter(entity, isSelf, now) {
    const ctx = this.ctx;
    const u = this.unit * SPRITE;
    const x = this.originX + entity.x * this.unit;
    const feet = this.originY + (entity.y + 0.3) * this.unit;
    if (x < -u || x > this.width + u || feet < -u || feet > this.height + 2 * u) return;
    const fadeIn = entity.enteredAt ? Math.min(1, (now - entity.enteredAt) / 250) : 1;
    ctx.globalAlpha = fadeIn;
    // shadow
    ctx.fillStyle = "rgba(0, 0, 0, 0.35)";
    ctx.beginPath();
    ctx.ellipse(x, feet, u * 0.26, u * 0.09, 0, 0, Math.PI * 2);
    ctx.fill();
    if (isSelf) {
      const pulse = 0.55 + 0.45 * Math.sin(now / 260);
      ctx.strokeStyle = `rgba(240, 197, 107, ${0.55 + 0.4 * pulse})`;
      ctx.lineWidth = Math.max(1.5, 2 * this.dpr);
      ctx.beginPath();
      ctx.ellipse(x, feet, u * 0.38, u * 0.15, 0, 0, Math.PI * 2);
      ctx.stroke();
    }
    if (entity.k && entity.k !== "player") {
      this._drawCreature(entity, x, feet, u, now);
    } else {
      this._drawPerson(entity, x, feet, u, now);
    }
    ctx.globalAlpha = 1;
  }

  _drawPerson(entity, x, feet, u, now) {
    const ctx = this.ctx;
    const app = entity.app || {};
    const cls = entity.cls || "adventurer";
    const main = this.palette[app.color] || CLASS_COLOURS[cls] || "#c9893a";
    const skin = SKIN_TONES[((app.body || 1) - 1 + SKIN_TONES.length) % SKIN_TONES.length];
    const hair = HAIR_COLOURS[((app.hair || 1) - 1 + HAIR_COLOURS.length) % HAIR_COLOURS.length];
    const facing = facingVector(Number.isInteger(entity.f) ? entity.f : 4);
    const walking = entity.walking;
    const phase = walking ? now / 90 : 0;
    const bob = walking ? Math.abs(Math.sin(phase)) * u * 0.05 : 0;
    const swing = walking ? Math.sin(phase) * u * 0.05 : 0;
    const robe = cls === "mage" || cls === "cleric";
    const hip = feet - u * 0.16 - bob;
    const shoulder = hip - u * 0.36;
    const headY = shoulder - u * 0.14;
    const outline = "rgba(20, 16, 24, 0.85)";
    ctx.lineWidth = Math.max(1, u / 28);
    ctx.strokeStyle = outline;
    // legs
    if (!robe) {
      ctx.fillStyle = "#3b3340";
      ctx.fillRect(x - u * 0.13, hip - u * 0.02, u * 0.1, u * 0.18 + swing);
      ctx.fillRect(x + u * 0.03, hip - u * 0.02, u * 0.1, u * 0.18 - swing);
    }
    // body
    ctx.fillStyle = main;
    if (robe) {
      ctx.beginPath();
      ctx.moveTo(x - u * 0.17, shoulder);
      ctx.lineTo(x + u * 0.17, shoulder);
      ctx.lineTo(x + u * 0.25, feet - bob - u * 0.02);
      ctx.lineTo(x - u * 0.25, feet - bob - u * 0.02);
      ctx.closePath();
      ctx.fill();
      ctx.stroke();
      ctx.fillStyle = cls === "cleric" ? "#f0cf5a" : shade(main, -0.35);
      ctx.fillRect(x - u * 0.03, shoulder + u * 0.04, u * 0.06, feet - shoulder - u * 0.1);
    } else {
      roundedRect(ctx, x - u * 0.2, shoulder, u * 0.4, u * 0.38, u * 0.08);
      ctx.fill();
      ctx.stroke();
      ctx.fillStyle = shade(main, -0.35);
      ctx.fillRect(x - u * 0.2, hip - u * 0.08, u * 0.4, u * 0.06); // belt
    }
    if (cls === "warrior") {
      ctx.fillStyle = "#a9adb8";
      for (const side of [-1, 1]) {
        ctx.beginPath();
        ctx.arc(x + side * u * 0.2, shoulder + u * 0.05, u * 0.09, 0, Math.PI * 2);
        ctx.fill();
        ctx.stroke();
      }
    }
    if (cls === "ranger" && facing.y < 0.5) {
      ctx.strokeStyle = "#6b4a2a";
      ctx.lineWidth = Math.max(1, u / 20);
      ctx.beginPath();
      ctx.moveTo(x - u * 0.18, shoulder);
      ctx.lineTo(x + u * 0.16, hip);
      ctx.stroke();
      ctx.strokeStyle = outline;
      ctx.lineWidth = Math.max(1, u / 28);
    }
    // head
    const headR = u * 0.17;
    ctx.fillStyle = skin;
    ctx.beginPath();
    ctx.arc(x, headY, headR, 0, Math.PI * 2);
    ctx.fill();
    ctx.stroke();
    const back = facing.y < -0.5;
    ctx.fillStyle = hair;
    ctx.beginPath();
    if (back) {
      ctx.arc(x, headY, headR * 0.95, 0, Math.PI * 2);
    } else {
      ctx.arc(x - facing.x * headR * 0.25, headY - headR * 0.25, headR * 0.92, Math.PI * 1.05, Math.PI * 1.95);
    }
    ctx.fill();
    if (!back) {
      ctx.fillStyle = "#1b1420";
      const eye = Math.max(1, u * 0.045);
      const ex = x + facing.x * headR * 0.45;
      const ey = headY + headR * 0.1;
      if (Math.abs(facing.x) > 0.9) {
        ctx.fillRect(ex + facing.x * headR * 0.2 - eye / 2, ey, eye, eye * 1.4);
      } else {
        ctx.fillRect(ex - headR * 0.4 - eye / 2, ey, eye, eye * 1.4);
        ctx.fillRect(ex + headR * 0.4 - eye / 2, ey, eye, eye * 1.4);
      }
    }
    // class headgear: the silhouette tells classes apart at a glance
    if (cls === "mage") {
      ctx.fillStyle = shade(main, -0.3);
      ctx.beginPath();
      ctx.moveTo(x - headR * 1.35, headY - headR * 0.45);
      ctx.lineTo(x + headR * 1.35, headY - headR * 0.45);
      ctx.lineTo(x + headR * 0.25 + facing.x * headR * 0.6, headY - headR * 2.6);
      ctx.closePath();
      ctx.fill();
      ctx.stroke();
    } else if (cls === "warrior") {
      ctx.fillStyle = "#9ba0ad";
      ctx.beginPath();
      ctx.arc(x, headY - headR * 0.1, headR * 1.02, Math.PI, Math.PI * 2);
      ctx.fill();
      ctx.stroke();
      ctx.fillStyle = "#c0392b";
      ctx.fillRect(x - u * 0.025, headY - headR * 1.5, u * 0.05, headR * 0.45);
    } else if (cls === "ranger") {
      ctx.fillStyle = shade(main, -0.25);
      ctx.beginPath();
      ctx.arc(x, headY, headR * 1.15, Math.PI * 0.95, Math.PI * 2.05);
      ctx.lineTo(x + headR * 1.1, headY + headR * 0.2);
      ctx.fill();
      ctx.stroke();
    } else if (cls === "cleric") {
      ctx.strokeStyle = "rgba(250, 220, 120, 0.9)";
      ctx.lineWidth = Math.max(1, u / 22);
      ctx.beginPath();
      ctx.ellipse(x, headY - headR * 1.35, headR * 0.75, headR * 0.25, 0, 0, Math.PI * 2);
      ctx.stroke();
    }
  }

  _drawCreature(entity, x, feet, u, now) {
    const ctx = this.ctx;
    const hue = hash(String(entity.k).length, entity.id % 97, 5) % 360;
    const squash = entity.walking ? Math.sin(now / 110) * 0.05 : Math.sin(now / 500) * 0.02;
    ctx.fillStyle = `hsl(${hue}, 55%, 45%)`;
    ctx.strokeStyle = "rgba(20, 16, 24, 0.85)";
    ctx.lineWidth = Math.max(1, u / 28);
    ctx.beginPath();
    ctx.ellipse(x, feet - u * 0.22, u * (0.3 + squash), u * (0.24 - squash), 0, 0, Math.PI * 2);
    ctx.fill();
    ctx.stroke();
    ctx.fillStyle = "#fff";
    ctx.fillRect(x - u * 0.12, feet - u * 0.3, u * 0.07, u * 0.08);
    ctx.fillRect(x + u * 0.05, feet - u * 0.3, u * 0.07, u * 0.08);
  }

  _drawLabel(entity, isSelf, now) {
    const u = this.unit;
    const x = this.originX + entity.x * u;
    const top = this.originY + (entity.y + 0.3) * u - u * SPRITE * spriteHeight(entity);
    if (x < -u * 3 || x > this.width + u * 3 || top < -u || top > this.height + u) return;
    const npc = entity.k && entity.k !== "player";
    const colour = isSelf ? "#f0c56b" : npc ? "#ff9b8a" : "#f3efe6";
    const level = Number.isInteger(entity.lvl) ? `  Lv ${entity.lvl}` : "";
    this._text(entity.name || `#${entity.id}`, x, top, {
      size: 12, colour, weight: 700, suffix: level, suffixColour: "#c9c2b3",
    });
    if (!isSelf && Number.isFinite(entity.hp) && Number.isFinite(entity.mhp) && entity.mhp > 0 && entity.hp < entity.mhp) {
      const ctx = this.ctx;
      const w = u * 0.7;
      const h = Math.max(2, 3 * this.dpr);
      ctx.fillStyle = "rgba(0, 0, 0, 0.6)";
      ctx.fillRect(x - w / 2, top + 2 * this.dpr, w, h);
      ctx.fillStyle = "#d65b4f";
      ctx.fillRect(x - w / 2, top + 2 * this.dpr, (w * Math.max(0, entity.hp)) / entity.mhp, h);
    }
  }

  _drawSpeech(entity, now) {
    const speech = entity.speech;
    if (!speech || now > speech.until) return;
    const ctx = this.ctx;
    const u = this.unit;
    const dpr = this.dpr;
    const x = this.originX + entity.x * u;
    const bottom = this.originY + (entity.y + 0.3) * u - u * SPRITE * spriteHeight(entity) - 16 * dpr;
    ctx.font = `${Math.round(12 * dpr)}px system-ui, sans-serif`;
    const lines = wrap(ctx, speech.text, 200 * dpr, 3);
    const lineHeight = 15 * dpr;
    const width = Math.max(...lines.map((line) => ctx.measureText(line).width)) + 14 * dpr;
    const height = lines.length * lineHeight + 8 * dpr;
    const left = x - width / 2;
    const top = bottom - height;
    const fade = Math.min(1, (speech.until - now) / 600);
    ctx.globalAlpha = fade;
    ctx.fillStyle = "rgba(250, 247, 240, 0.95)";
    roundedRect(ctx, left, top, width, height, 6 * dpr);
    ctx.fill();
    ctx.beginPath();
    ctx.moveTo(x - 5 * dpr, bottom);
    ctx.lineTo(x + 5 * dpr, bottom);
    ctx.lineTo(x, bottom + 6 * dpr);
    ctx.fill();
    ctx.fillStyle = "#1d1a22";
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    lines.forEach((line, index) => ctx.fillText(line, x, top + 4 * dpr + index * lineHeight));
    ctx.globalAlpha = 1;
  }

  _text(text, x, y, { size = 12, colour = "#fff", weight = 400, suffix = "", suffixColour = "#ccc" }) {
    const ctx = this.ctx;
    const dpr = this.dpr;
    ctx.font = `${weight} ${Math.round(size * dpr)}px system-ui, sans-serif`;
    ctx.textBaseline = "bottom";
    ctx.lineJoin = "round";
    ctx.lineWidth = 3 * dpr;
    ctx.strokeStyle = "rgba(8, 8, 12, 0.85)";
    const mainWidth = ctx.measureText(text).width;
    let suffixWidth = 0;
    const suffixFont = `500 ${Math.round((size - 2) * dpr)}px system-ui, sans-serif`;
    if (suffix) {
      ctx.font = suffixFont;
      suffixWidth = ctx.measureText(suffix).width;
      ctx.font = `${weight} ${Math.round(size * dpr)}px system-ui, sans-serif`;
    }
    const left = Math.round(x - (mainWidth + suffixWidth) / 2);
    ctx.textAlign = "left";
    ctx.strokeText(text, left, y);
    ctx.fillStyle = colour;
    ctx.fillText(text, left, y);
    if (suffix) {
      ctx.font = suffixFont;
      ctx.strokeText(suffix, left + mainWidth, y);
      ctx.fillStyle = suffixColour;
      ctx.fillText(suffix, left + mainWidth, y);
    }
  }

  // --- overlays ----------------------------------------------------------------------------------

  _drawVignette() {
    const ctx = this.ctx;
    if (!this.vignette) {
      const radius = Math.hypot(this.width, this.height) / 2;
      const gradient = ctx.createRadialGradient(this.width / 2, this.height / 2, radius * 0.55,
        this.width / 2, this.height / 2, radius);
      gradient.addColorStop(0, "rgba(0, 0, 0, 0)");
      gradient.addColorStop(1, "rgba(0, 0, 0, 0.45)");
      this.vignette = gradient;
    }
    ctx.fillStyle = this.vignette;
    ctx.fillRect(0, 0, this.width, this.height);
  }

  _paintMinimap(map) {
    const canvas = document.createElement("canvas");
    canvas.width = map.width;
    canvas.height = map.height;
    const context = canvas.getContext("2d");
    const image = context.createImageData(map.width, map.height);
    const colours = Object.fromEntries(Object.entries(MINIMAP_COLOURS).map(([k, v]) => [k, rgb(v)]));
    for (let row = 0; row < map.height; row += 1) {
      for (let column = 0; column < map.width; column += 1) {
        const [r, g, b] = colours[map.kindAt(column, row)] || colours.unknown;
        const i = (row * map.width + column) * 4;
        image.data[i] = r;
        image.data[i + 1] = g;
        image.data[i + 2] = b;
        image.data[i + 3] = 255;
      }
    }
    context.putImageData(image, 0, 0);
    return canvas;
  }

  _drawMinimap(scene) {
    if (!this.minimap) return;
    const ctx = this.ctx;
    const dpr = this.dpr;
    const maxSize = Math.min(170 * dpr, this.width * 0.26, this.height * 0.3);
    const scale = maxSize / Math.max(this.map.width, this.map.height);
    const w = Math.round(this.map.width * scale);
    const h = Math.round(this.map.height * scale);
    const left = Math.round(this.width - w - 12 * dpr);
    const top = Math.round(12 * dpr);
    ctx.fillStyle = "rgba(10, 12, 16, 0.75)";
    roundedRect(ctx, left - 5 * dpr, top - 5 * dpr, w + 10 * dpr, h + 10 * dpr, 8 * dpr);
    ctx.fill();
    ctx.globalAlpha = 0.92;
    ctx.drawImage(this.minimap, left, top, w, h);
    ctx.globalAlpha = 1;
    // what the screen shows
    ctx.strokeStyle = "rgba(255, 255, 255, 0.55)";
    ctx.lineWidth = Math.max(1, dpr);
    ctx.strokeRect(left + (-this.originX / this.unit) * scale, top + (-this.originY / this.unit) * scale,
      (this.width / this.unit) * scale, (this.height / this.unit) * scale);
    const dot = Math.max(2, 2.5 * dpr);
    for (const entity of scene.others) {
      ctx.fillStyle = entity.k && entity.k !== "player" ? "#ff7a66" : "#e8f1ff";
      ctx.fillRect(left + entity.x * scale - dot / 2, top + entity.y * scale - dot / 2, dot, dot);
    }
    ctx.fillStyle = "#f0c56b";
    ctx.beginPath();
    ctx.arc(left + scene.self.x * scale, top + scene.self.y * scale, dot * 1.1, 0, Math.PI * 2);
    ctx.fill();
    ctx.strokeStyle = "#1b1420";
    ctx.stroke();
    this._text(this.map.name, left + w / 2, top + h + 20 * dpr, { size: 12, colour: "#f3efe6", weight: 600 });
  }
}

function titleCase(id) {
  return String(id).replace(/_/g, " ").replace(/\b\w/g, (letter) => letter.toUpperCase());
}

/** Height of a character's drawing above its feet, in sprite units (labels go above it). */
function spriteHeight(entity) {
  if (entity.k && entity.k !== "player") return 0.62;
  return entity.cls === "mage" ? 1.18 : 1.0;
}

function wrap(ctx, text, maxWidth, maxLines) {
  const words = String(text).split(/\s+/);
  const lines = [];
  let line = "";
  for (const word of words) {
    const candidate = line ? `${line} ${word}` : word;
    if (ctx.measureText(candidate).width > maxWidth && line) {
      lines.push(line);
      line = word;
      if (lines.length === maxLines) break;
    } else {
      line = candidate;
    }
  }
  if (lines.length < maxLines && line) lines.push(line);
  if (lines.length === maxLines && words.join(" ").length > lines.join(" ").length) {
    lines[maxLines - 1] = `${lines[maxLines - 1].replace(/.{0,2}$/, "")}…`;
  }
  return lines;
}
