'use strict';
// The key, the HTTP calls and the one WebSocket monitor. The key lives in
// this tab's sessionStorage only: never in a URL, sent as X-APIKey, and on
// the WebSocket as a subprotocol (browsers cannot set WebSocket headers).
// Without a key, the page works with the session of a sign-in through the
// identity provider: the HttpOnly cookie goes with every call, and every
// call carries X-Requested-With: scriptd, which the server requires of
// cookie-authenticated calls (another site's page cannot add it).

const KEY_ITEM = 'scriptd.apikey';
const WS_PROTOCOL = 'scriptd.v1';
const WS_KEY_PREFIX = 'scriptd.apikey.';

class ApiFailure extends Error {
  constructor(code, message, status) {
    super(message || code);
    this.code = code;
    this.status = status;
  }
}

const Api = {
  key() { return sessionStorage.getItem(KEY_ITEM); },
  remember(key) { sessionStorage.setItem(KEY_ITEM, key); },
  forget() { sessionStorage.removeItem(KEY_ITEM); },

  // One API call; resolves with the reply (JSON object, or text for logs),
  // rejects with an ApiFailure carrying the errorcode.
  async call(method, path, body, key) {
    const useKey = key || Api.key();
    const headers = useKey ? { 'X-APIKey': useKey } : { 'X-Requested-With': 'scriptd' };
    const credentials = useKey ? 'omit' : 'same-origin';
    const options = { method, headers, cache: 'no-store', credentials };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      options.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(path, options);
    } catch (err) {
      throw new ApiFailure('network', 'Cannot reach the server.');
    }
    const type = resp.headers.get('Content-Type') || '';
    if (resp.ok && type.startsWith('text/plain')) return resp.text();
    let data;
    try {
      data = await resp.json();
    } catch (err) {
      throw new ApiFailure('bad_reply', 'Unexpected reply from the server (HTTP ' + resp.status + ').', resp.status);
    }
    if (!data || data.success !== true) {
      throw new ApiFailure(data && data.errorcode, data && data.error, resp.status);
    }
    return data;
  },
  get(path) { return Api.call('GET', path); },
  post(path, body) { return Api.call('POST', path, body === undefined ? {} : body); },
};

// The one WebSocket: a verbose monitor that reconnects with `after` (the
// last event seq seen), so no push is lost while it is away.
class Monitor {
  constructor(name, handlers) {
    this.name = name;
    this.handlers = handlers;
    this.lastSeq = null;
    this.sequence = 0;
    this.retry = 0;
    this.wasLost = false;
    this.stopped = false;
    this.ws = null;
    this.timer = null;
  }

  start() { this.open(); }

  open() {
    if (this.stopped) return;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    let ws;
    try {
      // With a session, the cookie goes with the upgrade (same origin).
      const protocols = Api.key() ? [WS_PROTOCOL, WS_KEY_PREFIX + Api.key()] : [WS_PROTOCOL];
      ws = new WebSocket(scheme + '//' + location.host + '/scripts/v1', protocols);
    } catch (err) {
      this.lost();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.subscription = ++this.sequence;
      const request = {
        api_method: 'GET', api_path: '/scripts/v1/monitor', api_sequence: this.subscription,
        name: this.name, verbose: true,
      };
      if (this.lastSeq !== null) request.after = this.lastSeq;
      ws.send(JSON.stringify(request));
    };
    ws.onmessage = (event) => this.receive(event.data);
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.lost();
    };
  }

  receive(text) {
    let msg;
    try { msg = JSON.parse(text); } catch (err) { return; }
    if (msg.api_sequence !== this.subscription) return;
    if (msg.success === false) {
      this.stop();
      this.handlers.refused(msg);
      return;
    }
    if (msg.enabled === true && msg.state === undefined) {
      this.retry = 0;
      this.handlers.up(this.wasLost);
      this.wasLost = false;
      return;
    }
    if (typeof msg.seq === 'number') this.lastSeq = Math.max(this.lastSeq || 0, msg.seq);
    if (msg.state) this.handlers.push(msg);
  }

  lost() {
    if (this.stopped) return;
    this.wasLost = true;
    this.handlers.down();
    const delay = Math.min(4000, 250 * Math.pow(2, this.retry++));
    this.timer = setTimeout(() => this.open(), delay);
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close();
    }
  }
}

// Builds an element; text only ever goes in as text nodes.
function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'text') el.textContent = String(value);
    else if (name === 'class') el.className = value;
    else if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else if (name === 'value' || name === 'checked' || name === 'selected') el[name] = value;
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

// Replaces a container's children, keeping focus on the element with the
// same id if it had it (re-rendering must not throw keyboard users out).
function replace(container, ...kids) {
  const focused = document.activeElement && container.contains(document.activeElement)
    ? document.activeElement.id : null;
  container.replaceChildren(...kids.flat(Infinity).filter((k) => k));
  labelCells(container);
  if (focused) {
    const again = document.getElementById(focused);
    if (again) again.focus();
  }
}

// Gives every body cell its column's name, which a phone-width window
// shows in front of the cell when rows are stacked (see style.css).
function labelCells(root) {
  for (const table of root.querySelectorAll('table')) {
    if (!table.tHead || !table.tHead.rows.length) continue;
    const labels = [...table.tHead.rows[0].cells].map((c) => c.textContent);
    for (const body of table.tBodies) {
      for (const row of body.rows) {
        [...row.cells].forEach((cell, i) => {
          if (labels[i] && cell.dataset.label !== labels[i]) cell.dataset.label = labels[i];
        });
      }
    }
  }
}

function now() { return Date.now() / 1000; }

function pad2(n) { return String(n).padStart(2, '0'); }

// The browser's time zone as it names it ("UTC", "CET", "GMT+1"), else
// its offset: every time the page shows says which zone it is in.
function zoneName(date) {
  try {
    const parts = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(date);
    const zone = parts.find((p) => p.type === 'timeZoneName');
    if (zone) return zone.value;
  } catch (err) {
    // No Intl time zone names: the offset below.
  }
  const off = -date.getTimezoneOffset();
  if (!off) return 'UTC';
  const a = Math.abs(off);
  return 'UTC' + (off < 0 ? '-' : '+') + pad2(Math.floor(a / 60)) + ':' + pad2(a % 60);
}

// "2026-12-06" in the browser's zone.
function fmtDate(secs) {
  const d = new Date(secs * 1000);
  return d.getFullYear() + '-' + pad2(d.getMonth() + 1) + '-' + pad2(d.getDate());
}

// "2026-12-06 23:47:16 UTC": the command line's format, in the browser's
// zone, named.
function fmtTime(secs) {
  if (typeof secs !== 'number' || !secs) return '—';
  const d = new Date(secs * 1000);
  return fmtDate(secs) + ' ' + pad2(d.getHours()) + ':' + pad2(d.getMinutes()) + ':' +
    pad2(d.getSeconds()) + ' ' + zoneName(d);
}

function fmtDuration(secs) {
  if (typeof secs !== 'number' || !isFinite(secs)) return '—';
  if (secs < 0) secs = 0;
  if (secs < 10) return secs.toFixed(1) + ' s';
  const s = Math.round(secs);
  if (s < 60) return s + ' s';
  const m = Math.floor(s / 60);
  if (m < 60) return m + ' min ' + (s % 60) + ' s';
  const hr = Math.floor(m / 60);
  if (hr < 48) return hr + ' h ' + (m % 60) + ' min';
  return Math.floor(hr / 24) + ' d ' + (hr % 24) + ' h';
}

// "+30s", "+5m", "+2h", "+1d" or a local date/time → UNIX seconds.
function parseWhen(text) {
  const t = text.trim();
  if (!t) return null;
  const rel = /^\+(\d+)\s*([smhd])$/.exec(t);
  if (rel) {
    const unit = { s: 1, m: 60, h: 3600, d: 86400 }[rel[2]];
    return Math.floor(now()) + Number(rel[1]) * unit;
  }
  const abs = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(t);
  if (abs) {
    const d = new Date(+abs[1], +abs[2] - 1, +abs[3], +(abs[4] || 0), +(abs[5] || 0), +(abs[6] || 0));
    if (!isNaN(d.getTime())) return Math.floor(d.getTime() / 1000);
  }
  return undefined;
}
