// The live feed: a WebSocket that reconnects with backoff. Where WebSockets are not served
// (the API on Lambda behind a REST API Gateway), it falls back to polling on its own and keeps
// trying the socket now and then.
import { getJson, liveSocketUrl } from "./api.js";

const POLL_MS = 2000;
const SOCKET_RETRY_WHILE_POLLING_MS = 30000;

export class LiveFeed {
  constructor({ hosts = [], onSamples, onState, poll }) {
    this.hosts = hosts;
    this.onSamples = onSamples;
    this.onState = onState;
    // async () => [{host, samples}], used when the socket is not available; null when the view
    // refreshes itself anyway.
    this.poll = poll;
    this.socket = null;
    this.stopped = false;
    this.everOpened = false;
    this.failures = 0;
    this.timer = null;
    this.pollTimer = null;
  }

  start() {
    this.begin();
    return this;
  }

  // Where the API says it serves no WebSocket (on Lambda behind a REST API Gateway), poll at
  // once; otherwise, or when it cannot say, try the socket and fall back on failure.
  async begin() {
    try {
      const { websocket } = await getJson("api/v1/live");
      if (websocket === false) {
        if (this.poll) this.startPolling();
        else this.onState("polling");
        return;
      }
    } catch {
      // an older API or a passing failure: the socket attempt decides
    }
    if (!this.stopped) this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.pollTimer);
    if (this.socket) this.socket.close();
  }

  connect() {
    if (this.stopped) return;
    let socket;
    try {
      socket = new WebSocket(liveSocketUrl(this.hosts));
    } catch {
      this.fail();
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      this.everOpened = true;
      this.failures = 0;
      this.stopPolling();
      this.onState("live");
      // A ping now and then keeps proxies from closing an idle socket.
      this.keepAlive = setInterval(() => socket.readyState === 1 && socket.send("ping"), 25000);
    };
    socket.onmessage = (event) => {
      const frame = JSON.parse(event.data);
      if (frame.type === "status") {
        this.onState(frame.source === "down" ? "reconnecting" : "live");
      } else if (frame.host) {
        this.onSamples(frame.host, frame.samples);
      }
    };
    socket.onclose = () => {
      clearInterval(this.keepAlive);
      if (this.socket === socket) this.socket = null;
      if (!this.stopped) this.fail();
    };
  }

  fail() {
    this.failures += 1;
    if (!this.everOpened && this.failures >= 2) {
      // No socket here at all (not a lost one): poll, and try the socket again now and then.
      if (this.poll) this.startPolling();
      else this.onState("polling");
      this.timer = setTimeout(() => this.connect(), SOCKET_RETRY_WHILE_POLLING_MS);
      return;
    }
    this.onState("reconnecting");
    const delay = Math.min(10000, 500 * 2 ** Math.min(this.failures, 5)) * (0.5 + Math.random());
    this.timer = setTimeout(() => this.connect(), delay);
  }

  startPolling() {
    if (this.pollTimer) return;
    const tick = async () => {
      try {
        for (const { host, samples } of await this.poll()) {
          if (samples.length) this.onSamples(host, samples);
        }
        this.onState("polling");
      } catch {
        this.onState("reconnecting");
      }
      if (!this.stopped && this.pollTimer) this.pollTimer = setTimeout(tick, POLL_MS);
    };
    this.pollTimer = setTimeout(tick, 0);
  }

  stopPolling() {
    clearTimeout(this.pollTimer);
    this.pollTimer = null;
  }
}
