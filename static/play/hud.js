// The HTML layer over the canvas: status panel (connection, zone, position, ping, players in
// view), chat log and input, toasts, and the overlay shown while joining, queued, reconnecting
// or disconnected. Every text goes in through textContent: nothing from the server is HTML.
// The same facts are mirrored as data-* attributes on the root element for tests and tools.

const CHAT_LOG_LIMIT = 80;
const TOAST_LIMIT = 4;
const TOAST_MS = 5000;
const REFRESH_MS = 100;

const STATE_LABELS = {
  loading: "Loading",
  joining: "Joining",
  queued: "In queue",
  connecting: "Connecting",
  connected: "Connected",
  reconnecting: "Reconnecting",
  closed: "Disconnected",
  taken_over: "Signed in elsewhere",
};

export class Hud {
  constructor(root, { onRetry, onChat }) {
    this.root = root;
    this.parts = {};
    for (const element of root.querySelectorAll("[data-hud]")) {
      this.parts[element.dataset.hud] = element;
    }
    this.lastRefresh = -Infinity;
    this.parts["overlay-retry"].addEventListener("click", () => onRetry());
    this.parts["chat-form"].addEventListener("submit", (event) => {
      event.preventDefault();
      const input = this.parts["chat-input"];
      const text = input.value.trim();
      input.value = "";
      if (text) onChat(text);
      input.blur();
    });
  }

  get chatInput() {
    return this.parts["chat-input"];
  }

  // --- connection state and overlay ---------------------------------------------------------

  setConnection(state, detail = {}) {
    this.root.dataset.state = state;
    const badge = this.parts.connection;
    badge.textContent = STATE_LABELS[state] || state;
    badge.dataset.conn = state;
    if (state === "connected") {
      this._overlay(null);
    } else if (state === "joining" || state === "connecting") {
      this._overlay({ title: "Entering the world…", text: detail.shard ? `Shard ${detail.shard}` : "", busy: true });
    } else if (state === "queued") {
      const wait = Number.isFinite(detail.estimatedWaitSeconds)
        ? ` · about ${formatDuration(detail.estimatedWaitSeconds)}` : "";
      this._overlay({
        title: "The realm is full",
        text: `You are number ${detail.position ?? "?"} in line${wait}. Keep this page open.`,
        busy: true,
      });
    } else if (state === "reconnecting") {
      this._overlay({
        title: "Reconnecting…",
        text: `${detail.message || "Connection lost."} Trying again in ${Math.ceil((detail.delayMs || 0) / 1000)} s.`,
        busy: true,
        retry: true,
      });
    } else if (state === "taken_over") {
      this._overlay({ title: "Signed in elsewhere", text: detail.message, retry: true, retryLabel: "Play here instead" });
    } else if (state === "closed") {
      this._overlay({
        title: "Disconnected",
        text: detail.message || "The connection was closed.",
        retry: !detail.signIn,
        signIn: detail.signIn,
      });
    }
  }

  _overlay(options) {
    const overlay = this.parts.overlay;
    if (!options) {
      overlay.hidden = true;
      return;
    }
    overlay.hidden = false;
    this.parts["overlay-title"].textContent = options.title;
    this.parts["overlay-text"].textContent = options.text || "";
    this.parts["overlay-spinner"].hidden = !options.busy;
    const retry = this.parts["overlay-retry"];
    retry.hidden = !options.retry;
    retry.textContent = options.retryLabel || "Try again";
    if (options.signIn) {
      this.parts["overlay-text"].append(" ");
      const link = document.createElement("a");
      link.href = `/accounts/login/?next=${encodeURIComponent(location.pathname + location.search)}`;
      link.textContent = "Sign in again";
      this.parts["overlay-text"].append(link);
    }
  }

  // --- status panel -----------------------------------------------------------------------------

  /** Refresh the status panel (at most 10 times a second; the canvas runs at 60). */
  refresh(now, status, force = false) {
    if (!force && now - this.lastRefresh < REFRESH_MS) return;
    this.lastRefresh = now;
    const parts = this.parts;
    const dataset = this.root.dataset;
    if (status.zone) {
      parts.zone.textContent = status.zone.name;
      dataset.zone = status.zone.id;
    }
    if (status.position) {
      const { x, y } = status.position;
      parts.position.textContent = `${x.toFixed(1)}, ${y.toFixed(1)}`;
      dataset.x = x.toFixed(2);
      dataset.y = y.toFixed(2);
    }
    if (Number.isFinite(status.ping)) {
      const ping = Math.round(status.ping);
      parts.ping.textContent = `${ping} ms`;
      parts.ping.dataset.quality = ping < 80 ? "good" : ping < 200 ? "fair" : "poor";
      dataset.ping = String(ping);
    }
    parts.nearby.textContent = String(status.nearby);
    dataset.nearby = String(status.nearby);
    if (status.self) {
      parts.level.textContent = Number.isInteger(status.self.lvl) ? `Level ${status.self.lvl}` : "";
      const hp = Number(status.self.hp);
      const max = Number(status.self.mhp);
      if (Number.isFinite(hp) && Number.isFinite(max) && max > 0) {
        parts.hp.textContent = `${hp} / ${max}`;
        parts["hp-bar"].style.width = `${Math.max(0, Math.min(100, (hp / max) * 100))}%`;
      }
    }
  }

  // --- chat and toasts --------------------------------------------------------------------------

  chat({ name, text, channel = "say", kind = "chat" }) {
    const log = this.parts["chat-log"];
    const item = document.createElement("li");
    item.className = `chat-${kind} chat-${channel}`;
    if (kind === "chat") {
      if (channel !== "say") {
        const tag = document.createElement("span");
        tag.className = "chat-channel";
        tag.textContent = `[${channel}] `;
        item.append(tag);
      }
      const who = document.createElement("span");
      who.className = "chat-name";
      who.textContent = name;
      item.append(who, `: ${text}`);
    } else {
      item.textContent = text;
    }
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 24;
    log.append(item);
    while (log.children.length > CHAT_LOG_LIMIT) log.firstElementChild.remove();
    if (atBottom) log.scrollTop = log.scrollHeight;
  }

  system(text) {
    this.chat({ text, kind: "system" });
  }

  toast(text, level = "info") {
    const container = this.parts.toasts;
    const toast = document.createElement("div");
    toast.className = `toast toast-${level}`;
    toast.textContent = text;
    container.append(toast);
    while (container.children.length > TOAST_LIMIT) container.firstElementChild.remove();
    setTimeout(() => {
      toast.classList.add("is-leaving");
      setTimeout(() => toast.remove(), 450);
    }, TOAST_MS);
  }
}

function formatDuration(seconds) {
  if (seconds < 90) return `${Math.max(1, Math.round(seconds))} s`;
  return `${Math.round(seconds / 60)} min`;
}
