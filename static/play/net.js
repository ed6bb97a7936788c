// Connection to the world server (docs/protocol.md): join through the API (ticket or login
// queue), WebSocket + hello, JSON frames with sequence numbers, ping/RTT, and reconnection with a
// fresh join after transient closes. Never throws into the caller: problems become states and
// error callbacks.

export const PROTOCOL_VERSION = 1;
export const MAX_FRAME_BYTES = 1024;
const PING_INTERVAL_MS = 5000;
const MAX_RECONNECT_ATTEMPTS = 8;
const MAX_BACKOFF_MS = 15000;

export const CLOSE_CODES = {
  4000: "protocol error",
  4001: "authentication failed",
  4002: "signed in elsewhere",
  4003: "too many messages",
  4004: "idle for too long",
  4005: "server shutting down",
  4006: "world shard unavailable",
  4007: "removed by the server",
};

// Closes after which joining again may well work: the server restarts, a shard fails over, the
// network blips, the tab was asleep long enough to be dropped as idle.
const TRANSIENT_CLOSES = new Set([1001, 1006, 1011, 1012, 1013, 4004, 4005, 4006]);
// Error codes that come right before the server closes the socket; the close explains them.
export const FATAL_ERROR_CODES = new Set([
  "bad_frame", "frame_too_large", "hello_required", "hello_timeout", "unsupported_version",
  "unsupported_encoding", "auth_failed", "invalid_ticket", "account_restricted",
  "session_taken_over", "flood", "idle_timeout", "shard_unavailable",
]);

/**
 * The client clock for `ct` in moves and pings. It is the wall-clock-anchored monotonic time, not
 * plain performance.now(): that restarts at 0 when the page reloads, but the server resumes the
 * same entity (reconnect grace) with the move clock of the previous page, and would refuse every
 * move as "time went back".
 */
export function clientClock() {
  return Math.round((performance.timeOrigin + performance.now()) * 1000) / 1000;
}

const encoder = new TextEncoder();

function readCookie(name) {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return "";
}

export function resolveSocketUrl(wsUrl, location = window.location) {
  if (/^wss?:\/\//.test(wsUrl)) return wsUrl;
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const path = wsUrl.startsWith("/") ? wsUrl : `/${wsUrl}`;
  return `${scheme}//${location.host}${path}`;
}

export class WorldConnection {
  /**
   * @param {object} options
   * @param {string} options.joinUrl  POST endpoint answering ready (ticket) or queued
   * @param {string} options.csrfToken  fallback when the csrftoken cookie is not readable
   * @param {(frame: object) => void} options.onFrame  every decoded server frame, welcome included
   * @param {(state: string, detail: object) => void} options.onState  joining, queued,
   *   connecting, connected, reconnecting, closed, taken_over
   * @param {(error: {code: string, msg: string}) => void} options.onError  non-fatal problems
   */
  constructor({ joinUrl, csrfToken, onFrame, onState, onError }) {
    this.joinUrl = joinUrl;
    this.csrfToken = csrfToken;
    this.onFrame = onFrame;
    this.onState = onState;
    this.onError = onError;
    this.state = "idle";
    this.socket = null;
    this.ready = false;
    this.seq = 0;
    this.attempt = 0;
    this.rtt = null;
    this.rttSmoothed = null;
    this.lastPong = null;
    this.lastError = null;
    this.shard = null;
    this.framesIn = 0;
    this.framesOut = 0;
    this._early = []; // tick frames that arrived before this socket's welcome
    this._timer = null;
    this._pingTimer = null;
    this._stopped = true;
  }

  start() {
    this._stopped = false;
    this.attempt = 0;
    this._join();
  }

  // Each join attempt gets a number; an answer for an older attempt (the player pressed "Try
  // again" while a join was in flight) is dropped instead of opening a second socket.
  _nextAttempt() {
    this._attemptId = (this._attemptId || 0) + 1;
    return this._attemptId;
  }

  /** Join again now (the "Try again" button). */
  retry() {
    this._clearTimers();
    this._dropSocket();
    this.start();
  }

  stop() {
    this._stopped = true;
    this._clearTimers();
    this._dropSocket();
  }

  /**
   * Send one intent with the next sequence number. Returns the seq, or 0 when not connected or
   * the frame is too large (reported through onError).
   */
  send(type, fields = {}) {
    if (!this.ready || !this.socket || this.socket.readyState !== WebSocket.OPEN) return 0;
    const seq = this.seq + 1;
    const text = JSON.stringify({ t: type, seq, ...fields });
    if (encoder.encode(text).length > MAX_FRAME_BYTES) {
      this.onError({ code: "frame_too_large", msg: "That message is too long to send." });
      return 0;
    }
    this.seq = seq;
    this.socket.send(text);
    this.framesOut += 1;
    return seq;
  }

  // --- joining --------------------------------------------------------------------------------

  async _join() {
    if (this._stopped) return;
    const attemptId = this._nextAttempt();
    this._setState("joining", {});
    let response;
    let body = {};
    try {
      response = await fetch(this.joinUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": readCookie("csrftoken") || this.csrfToken, Accept: "application/json" },
      });
      body = await response.json().catch(() => ({}));
    } catch (error) {
      if (attemptId === this._attemptId) this._reconnectLater("The server cannot be reached.");
      return;
    }
    if (this._stopped || attemptId !== this._attemptId) return;
    if (response.ok && body.status === "ready" && typeof body.ticket === "string") {
      this._open(body);
    } else if (response.ok && body.status === "queued") {
      const waitSeconds = Math.min(Math.max(Number(body.poll_after_seconds) || 3, 1), 30);
      this._setState("queued", {
        position: body.position,
        estimatedWaitSeconds: body.estimated_wait_seconds,
      });
      this._timer = setTimeout(() => this._join(), waitSeconds * 1000);
    } else if (response.status === 429 || response.status >= 500) {
      this._reconnectLater(body.message || `The server is busy (HTTP ${response.status}).`);
    } else {
      const message = body.message || body.detail || `Joining failed (HTTP ${response.status}).`;
      const signIn = response.status === 401 || body.code === "not_authenticated";
      this._setState("closed", { message, code: body.code || response.status, signIn });
    }
  }

  // --- the socket -----------------------------------------------------------------------------

  _open(join) {
    this._setState("connecting", { shard: join.shard });
    let socket;
    try {
      socket = new WebSocket(resolveSocketUrl(join.ws_url));
    } catch (error) {
      this._reconnectLater("The world server address is invalid.");
      return;
    }
    this.socket = socket;
    this.seq = 0;
    this.ready = false;
    this.lastError = null;
    this.lastPong = null;
    this._early = [];
    socket.addEventListener("open", () => {
      const hello = { t: "hello", v: PROTOCOL_VERSION, enc: "json", ticket: join.ticket };
      socket.send(JSON.stringify(hello));
    });
    socket.addEventListener("message", (event) => {
      if (socket === this.socket) this._onMessage(event.data);
    });
    socket.addEventListener("close", (event) => {
      if (socket === this.socket) this._onClose(event);
    });
  }

  _onMessage(data) {
    if (typeof data !== "string") return; // we asked for JSON: binary frames are not ours
    let frame;
    try {
      frame = JSON.parse(data);
    } catch (error) {
      this.onError({ code: "bad_frame", msg: "The server sent a frame this client cannot read." });
      return;
    }
    if (frame === null || typeof frame !== "object" || typeof frame.t !== "string") return;
    this.framesIn += 1;
    if (frame.t === "error") this.lastError = frame;
    if (!this.ready && frame.t === "tick") {
      // A tick frame may overtake the welcome on a new socket (server-side ordering); it was
      // built after the welcome (it holds the re-sent entities), so apply it after the welcome.
      if (this._early.length < 200) this._early.push(frame);
      return;
    }
    this._deliver(frame);
    if (frame.t === "welcome") {
      const firstWelcome = !this.ready;
      this.ready = true;
      this.attempt = 0;
      if (typeof frame.shard === "string") this.shard = frame.shard;
      const early = this._early;
      this._early = [];
      for (const held of early) this._deliver(held);
      if (firstWelcome) {
        this._startPing();
        this._setState("connected", { shard: this.shard });
      }
    }
  }

  _deliver(frame) {
    if (Array.isArray(frame.ev)) {
      for (const event of frame.ev) {
        if (event && event.e === "pong") this._onPong(event);
      }
    }
    this.onFrame(frame);
  }

  _onClose(event) {
    const wasReady = this.ready;
    this.ready = false;
    this.socket = null;
    this._stopPing();
    if (this._stopped) return;
    const code = event.code;
    const error = this.lastError;
    const reason = (error && error.msg) || event.reason || CLOSE_CODES[code] || `closed (${code})`;
    if (code === 4002) {
      this._setState("taken_over", {
        code,
        message: "You signed in with this account somewhere else, so this window was disconnected.",
      });
    } else if (TRANSIENT_CLOSES.has(code)) {
      this._reconnectLater(wasReady ? `Connection lost: ${reason}.` : `Could not connect: ${reason}.`);
    } else {
      this._setState("closed", { code, message: reason, errorCode: error && error.code });
    }
  }

  _reconnectLater(reason) {
    this.attempt += 1;
    if (this.attempt > MAX_RECONNECT_ATTEMPTS) {
      this._setState("closed", { message: `${reason} Gave up after ${MAX_RECONNECT_ATTEMPTS} attempts.` });
      return;
    }
    const base = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (this.attempt - 1));
    const delay = Math.round(base * (0.75 + Math.random() * 0.5)); // jitter: no thundering herd
    this._setState("reconnecting", { message: reason, delayMs: delay, attempt: this.attempt });
    this._timer = setTimeout(() => this._join(), delay);
  }

  // --- heartbeat ------------------------------------------------------------------------------

  _startPing() {
    this._stopPing();
    this._sendPing();
    this._pingTimer = setInterval(() => this._sendPing(), PING_INTERVAL_MS);
  }

  _stopPing() {
    if (this._pingTimer !== null) clearInterval(this._pingTimer);
    this._pingTimer = null;
  }

  _sendPing() {
    const fields = { ct: clientClock() };
    if (this.lastPong) {
      // echo/held let the server measure the round trip on its own clock.
      fields.echo = this.lastPong.st;
      fields.held = Math.max(0, Math.round(performance.now() - this.lastPong.receivedAt));
    }
    this.send("ping", fields);
  }

  _onPong(event) {
    const rtt = clientClock() - Number(event.ct);
    if (Number.isFinite(rtt) && rtt >= 0 && rtt < 60000) {
      this.rtt = rtt;
      this.rttSmoothed = this.rttSmoothed === null ? rtt : this.rttSmoothed * 0.7 + rtt * 0.3;
    }
    if (Number.isFinite(Number(event.st))) {
      this.lastPong = { st: Number(event.st), receivedAt: performance.now() };
    }
  }

  // --- helpers --------------------------------------------------------------------------------

  _setState(state, detail) {
    this.state = state;
    this.onState(state, detail);
  }

  _clearTimers() {
    if (this._timer !== null) clearTimeout(this._timer);
    this._timer = null;
    this._stopPing();
  }

  _dropSocket() {
    const socket = this.socket;
    this.socket = null;
    this.ready = false;
    if (socket) {
      try {
        socket.close(1000, "client closed");
      } catch (error) {
        // already closing
      }
    }
  }
}
