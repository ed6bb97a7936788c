// The /play client: wires the connection, the world view, our prediction, the renderer and the
// HUD together, applies server frames in the order docs/protocol.md prescribes, and runs the
// requestAnimationFrame loop. window.__mmo exposes the live state for tests and the console.

import { FATAL_ERROR_CODES, WorldConnection } from "./net.js";
import { WorldView } from "./world.js";
import { Predictor } from "./predict.js";
import { Renderer } from "./render.js";
import { Hud } from "./hud.js";

const KEY_DIRECTIONS = {
  KeyW: [0, -1], ArrowUp: [0, -1],
  KeyS: [0, 1], ArrowDown: [0, 1],
  KeyA: [-1, 0], ArrowLeft: [-1, 0],
  KeyD: [1, 0], ArrowRight: [1, 0],
};

function start() {
  const root = document.getElementById("play");
  const configElement = document.getElementById("play-config");
  if (!root || !configElement) return;
  const config = JSON.parse(configElement.textContent);
  const canvas = root.querySelector("[data-play-canvas]");

  const world = new WorldView();
  const predictor = new Predictor();
  const renderer = new Renderer(canvas, { palette: config.palette, classes: config.classes });
  let limits = { max_speed: 6, emotes: [], chat_max_length: 256 };
  let zone = null;
  let welcomed = false;

  const hud = new Hud(root, {
    onRetry: () => connection.retry(),
    onChat: (text) => sendChat(text),
  });

  const connection = new WorldConnection({
    joinUrl: config.join_url,
    csrfToken: root.dataset.csrf || "",
    onFrame: (frame) => {
      try {
        handleFrame(frame);
      } catch (error) {
        // A frame this client does not understand must not stop the game loop.
        console.error("frame handling failed", error, frame);
        hud.toast("Something in the last update could not be shown.", "error");
      }
    },
    onState: (state, detail) => {
      predictor.enabled = state === "connected";
      if (state !== "connected") predictor.setInput(0, 0);
      hud.setConnection(state, detail);
      if (state === "reconnecting") hud.system(detail.message || "Connection lost; reconnecting…");
    },
    onError: (error) => hud.toast(error.msg || error.code, "error"),
  });

  // --- server frames ---------------------------------------------------------------------------

  function handleFrame(frame) {
    if (frame.t === "welcome") return handleWelcome(frame);
    if (frame.t === "tick") return handleTick(frame);
    if (frame.t === "error") {
      if (!FATAL_ERROR_CODES.has(frame.code)) hud.toast(frame.msg || frame.code, "error");
      return undefined;
    }
    if (frame.t === "bye") hud.system(frame.msg || `The server said goodbye (${frame.reason}).`);
    return undefined;
  }

  function handleWelcome(frame) {
    limits = { ...limits, ...(frame.limits || {}) };
    const you = frame.you;
    enterZone(frame.zone, you, frame.tick_hz);
    if (!welcomed) hud.system(`Welcome to ${frame.zone.name}, ${you.name}.`);
    welcomed = true;
  }

  function enterZone(zonePayload, you, tickHz) {
    zone = zonePayload;
    predictor.setZone(zonePayload);
    predictor.place(you, limits);
    renderer.setZone(predictor.map);
    world.reset({ self: you, tickHz: tickHz || 1000 / world.tickMs });
    refreshHud(true);
  }

  function handleTick(frame) {
    const now = performance.now();
    const events = Array.isArray(frame.ev) ? frame.ev : [];
    // 1. a zone change first: it replaces the map and everything we knew
    for (const event of events) {
      if (event && event.e === "zone" && event.zone) {
        const { e: _kind, zone: nextZone, ...you } = event;
        enterZone(nextZone, you, 0);
        hud.toast(`You enter ${event.zone.name}.`, "success");
        hud.system(`You enter ${event.zone.name}.`);
      }
    }
    // 2. a correction of our own position
    if (frame.you) predictor.correct(frame.you);
    predictor.acknowledge(frame.ack);
    // 3-6. the others
    if (Array.isArray(frame.leave)) world.leave(frame.leave);
    if (Array.isArray(frame.enter)) world.enter(frame.enter);
    if (Array.isArray(frame.upd)) world.update(frame.upd, frame.tick, now);
    if (Array.isArray(frame.chg)) world.change(frame.chg);
    // 7. the remaining events
    for (const event of events) {
      if (!event || typeof event.e !== "string") continue;
      if (event.e === "chat") {
        hud.chat({ name: event.name, text: event.text, channel: event.ch || "say" });
        world.speak(event.from, event.text, now);
      } else if (event.e === "emote") {
        const who = event.from === world.selfId ? world.self : world.entities.get(event.from);
        const name = (who && who.name) || "Someone";
        hud.chat({ text: `${name} ${emoteVerb(event.emote)}`, kind: "emote" });
        world.speak(event.from, `*${event.emote}*`, now);
      } else if (event.e === "error") {
        hud.toast(event.msg || event.code, "error");
      }
    }
  }

  // --- chat and commands ---------------------------------------------------------------------------

  function sendChat(text) {
    if (connection.state !== "connected") {
      hud.toast("Not connected: the message was not sent.", "error");
      return;
    }
    if (text.startsWith("/")) {
      const [command, ...rest] = text.slice(1).split(/\s+/);
      const body = rest.join(" ");
      const name = command.toLowerCase();
      if (name === "zone" || name === "z") {
        if (body) connection.send("chat", { ch: "zone", text: body.slice(0, limits.chat_max_length) });
      } else if (name === "say" || name === "s") {
        if (body) connection.send("chat", { ch: "say", text: body.slice(0, limits.chat_max_length) });
      } else if ((limits.emotes || []).includes(name)) {
        connection.send("emote", { emote: name });
      } else if (name === "help" || name === "emotes") {
        hud.system(`Commands: /zone text (whole zone), /say text. Emotes: ${(limits.emotes || []).map((e) => `/${e}`).join(" ")}`);
      } else {
        hud.toast(`Unknown command /${command}. Try /help.`, "error");
      }
      return;
    }
    connection.send("chat", { ch: "say", text: text.slice(0, limits.chat_max_length) });
  }

  // --- input -----------------------------------------------------------------------------------

  const held = new Set();
  function applyKeys() {
    let x = 0;
    let y = 0;
    for (const code of held) {
      x += KEY_DIRECTIONS[code][0];
      y += KEY_DIRECTIONS[code][1];
    }
    predictor.setInput(Math.sign(x), Math.sign(y));
  }

  function typing(event) {
    const target = event.target;
    return target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target?.isContentEditable;
  }

  window.addEventListener("keydown", (event) => {
    if (typing(event)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    if (event.key === "Enter") {
      event.preventDefault();
      held.clear();
      applyKeys();
      hud.chatInput.focus();
      return;
    }
    if (event.key === "+" || event.key === "=") renderer.zoom(1);
    if (event.key === "-" || event.key === "_") renderer.zoom(-1);
    if (KEY_DIRECTIONS[event.code] && !event.ctrlKey && !event.metaKey && !event.altKey) {
      event.preventDefault(); // arrows must not scroll the page
      held.add(event.code);
      applyKeys();
    }
  });
  window.addEventListener("keyup", (event) => {
    if (held.delete(event.code)) applyKeys();
  });
  // Keys released while the window had no focus never send keyup: forget them.
  window.addEventListener("blur", () => {
    held.clear();
    applyKeys();
  });
  hud.chatInput.addEventListener("focus", () => {
    held.clear();
    applyKeys();
  });

  canvas.addEventListener("pointerdown", (event) => {
    if (event.button !== 0 || !predictor.map || !predictor.enabled) return;
    canvas.focus();
    const rect = canvas.getBoundingClientRect();
    const point = renderer.screenToWorld(event.clientX - rect.left, event.clientY - rect.top);
    const ok = predictor.moveTo(point.x, point.y);
    renderer.showMarker(point.x, point.y, ok, performance.now());
  });
  canvas.addEventListener("wheel", (event) => {
    event.preventDefault();
    renderer.zoom(event.deltaY < 0 ? 1 : -1);
  }, { passive: false });

  new ResizeObserver(() => renderer.resize()).observe(canvas);
  window.addEventListener("resize", () => renderer.resize()); // devicePixelRatio changes (zoom)

  // --- the loop ----------------------------------------------------------------------------------

  function selfForDrawing() {
    if (!world.self) return null;
    return { ...world.self, x: predictor.x, y: predictor.y, f: predictor.f, walking: predictor.moving };
  }

  function refreshHud(force = false) {
    hud.refresh(performance.now(), {
      zone,
      position: zone ? { x: predictor.x, y: predictor.y } : null,
      ping: connection.rttSmoothed,
      nearby: world.entities.size,
      self: world.self,
    }, force);
  }

  let last = performance.now();
  let fps = 60;
  let frameMs = 0; // time spent in our own per-frame work
  function frame(now) {
    const dt = Math.min(0.1, Math.max(0, (now - last) / 1000));
    last = now;
    if (dt > 0) fps = fps * 0.95 + (1 / dt) * 0.05;
    try {
      predictor.update(dt, now);
      predictor.flush(now, (type, fields) => connection.send(type, fields));
      world.sample(now);
      const self = selfForDrawing();
      renderer.draw(now, { self, others: world.visible() });
      refreshHud();
      frameMs = frameMs * 0.95 + (performance.now() - now) * 0.05;
    } catch (error) {
      console.error("frame failed", error);
    }
    requestAnimationFrame(frame);
  }
  requestAnimationFrame(frame);

  window.__mmo = {
    get state() { return connection.state; },
    get self() {
      return world.self ? { ...world.self, x: predictor.x, y: predictor.y, f: predictor.f, cid: predictor.cid } : null;
    },
    get zone() { return zone ? { id: zone.id, name: zone.name, w: zone.w, h: zone.h } : null; },
    get ping() { return connection.rttSmoothed; },
    get stats() {
      return {
        ...predictor.stats, pending: predictor.pending.length, fps: Math.round(fps),
        frameMs: Math.round(frameMs * 10) / 10, rtt: connection.rtt,
        lastCorrection: predictor.lastCorrection,
        framesIn: connection.framesIn, framesOut: connection.framesOut, frames: renderer.frames,
      };
    },
    // Canvas geometry in device pixels: a tile is `unit` wide, tile (0, 0) starts at origin.
    get view() {
      return { unit: renderer.unit, originX: renderer.originX, originY: renderer.originY, dpr: renderer.dpr };
    },
    entities: () => world.snapshot(),
    moveTo: (x, y) => predictor.moveTo(x, y),
    say: (text) => sendChat(text),
  };

  connection.start();
}

function emoteVerb(emote) {
  const verbs = {
    wave: "waves.", bow: "bows.", cheer: "cheers!", dance: "dances.", laugh: "laughs.",
    sit: "sits down.", point: "points.", cry: "cries.",
  };
  return verbs[emote] || `does "${emote}".`;
}

start();
