'use strict';
// Sign-in, the shared state and the monitor's pushes. Views render from
// `State`; every change calls `render()`, which redraws on the next frame.

const State = {
  access: null,        // from GET scripts: who this key is
  scripts: {},         // name → options
  active: new Map(),   // id → queued or running shape
  lastOutcome: {},     // name → last finished run
  monitor: null,
  ticker: null,
};

// A signed-in person's role (viewer < operator < owner), else -1.
const ROLES = ['viewer', 'operator', 'owner'];
function roleRank() {
  return State.access && State.access.kind === 'person' ? ROLES.indexOf(State.access.role) : -1;
}

const can = {
  user() { return State.access && State.access.kind === 'user'; },
  person() { return State.access && State.access.kind === 'person'; },
  right(name) {
    if (can.person()) return name === 'status' || name === 'monitor' || roleRank() >= 1;
    return can.user() || Boolean(State.access && State.access.rights && State.access.rights[name]);
  },
  run() { return can.right('run'); },
  cancel() { return can.right('cancel'); },
  status() { return can.right('status'); },
  monitor() { return can.right('monitor'); },
  guests() { return (can.user() && State.access.guests === true) || roleRank() >= 2; },
  log() { return can.user() || can.person(); },
};

let frame = 0;
function render() {
  if (frame) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    Views.scripts();
    Schedules.render();
    Schedules.refreshIfDue();
    Views.runs();
    Detail.render();
  });
}

function notice(text) {
  document.getElementById('notice').textContent = text || '';
}

function setConn(state, text) {
  const conn = document.getElementById('conn');
  conn.dataset.state = state;
  conn.textContent = text;
}

async function signIn(key) {
  const error = document.getElementById('signin-error');
  error.textContent = '';
  if (!/^[A-Za-z0-9._~-]+$/.test(key)) {
    error.textContent = 'That does not look like an API key: keys are letters and digits only.';
    return false;
  }
  let reply;
  try {
    reply = await Api.call('GET', '/scripts/v1/scripts', undefined, key);
  } catch (err) {
    error.textContent = err.code === 'invalid_missing_apikey'
      ? 'Sign-in failed: the server did not accept this API key (wrong, removed or expired).'
      : 'Sign-in failed: ' + err.message;
    return false;
  }
  Api.remember(key);
  State.access = reply.access || { kind: 'user' };
  State.scripts = reply.scripts || {};
  showDashboard();
  return true;
}

// With no key, a session cookie from the identity provider's sign-in may
// be there: the page asks the server whether it is signed in.
async function resumeSession() {
  try {
    const reply = await Api.call('GET', '/scripts/v1/scripts');
    State.access = reply.access;
    State.scripts = reply.scripts || {};
    showDashboard();
    return true;
  } catch (err) {
    return false;
  }
}

// Offers "Sign in with …" when the server has an identity provider, and
// hides the key form when it allows nothing else.
async function offerSignIn() {
  let offer;
  try {
    const resp = await fetch('/ui/oidc/config', { cache: 'no-store', credentials: 'omit' });
    offer = await resp.json();
  } catch (err) {
    return false;
  }
  const sso = document.getElementById('signin-sso');
  if (!offer || !offer.oidc) return false;
  sso.textContent = 'Sign in with ' + (offer.name || 'single sign-on');
  sso.hidden = false;
  if (offer.only) {
    document.getElementById('signin-form').hidden = true;
    document.getElementById('signin-keyhints').hidden = true;
  }
  return true;
}

function signOut(message) {
  if (can.person()) {
    Api.call('POST', '/ui/oidc/logout').catch(() => {});
  }
  if (State.monitor) State.monitor.stop();
  State.monitor = null;
  clearInterval(State.ticker);
  Detail.close();
  Api.forget();
  State.access = null;
  State.scripts = {};
  State.active.clear();
  State.lastOutcome = {};
  Schedules.clear();
  document.getElementById('guests-body').dataset.seen = '';
  document.getElementById('hooks-body').dataset.seen = '';
  document.getElementById('dash').hidden = true;
  document.getElementById('signin').hidden = false;
  document.getElementById('signout').hidden = true;
  document.getElementById('who').textContent = '';
  document.getElementById('signin-error').textContent = message || '';
  setConn('off', '');
  const input = document.getElementById('apikey');
  input.value = '';
  input.focus();
}

function describeKey() {
  const a = State.access;
  if (a.kind === 'person') return a.name + ' (' + a.role + ' in ' + a.account + ')';
  if (a.kind === 'guest') return 'Guest key for ' + a.script + ' (expires ' + fmtTime(a.expires) + ')';
  return 'Signed in as ' + (a.name || 'user');
}

function showDashboard() {
  document.getElementById('signin').hidden = true;
  document.getElementById('dash').hidden = false;
  document.getElementById('signout').hidden = false;
  document.getElementById('who').textContent = describeKey();
  document.getElementById('nav-start').hidden = !can.run();
  document.getElementById('start').hidden = !can.run();
  document.getElementById('nav-history').hidden = !can.status();
  document.getElementById('history').hidden = !can.status();
  document.getElementById('nav-guests').hidden = !can.guests();
  document.getElementById('guests').hidden = !can.guests();
  document.getElementById('nav-hooks').hidden = !can.user();
  document.getElementById('hooks').hidden = !can.user();
  Views.fillScriptSelects();
  if (can.monitor()) {
    const name = State.access.kind === 'guest' ? State.access.script : '';
    State.monitor = new Monitor(name, {
      up: (wasLost) => {
        setConn('live', wasLost ? 'Connection is back: live again' : 'Live');
        if (wasLost) refresh();
      },
      down: () => {
        setConn('lost', 'Connection lost: reconnecting…');
        // A refused upgrade looks like a lost connection: ask over HTTP
        // whether the key itself is still accepted.
        Api.get('/scripts/v1/scripts').catch((err) => {
          if (err.code === 'invalid_missing_apikey') failed(err);
        });
      },
      push: onPush,
      refused: (msg) => {
        if (msg.errorcode === 'invalid_missing_apikey') signOut('The server no longer accepts this API key.');
        else setConn('off', 'Live updates refused: ' + msg.error);
      },
    });
    State.monitor.start();
  } else {
    setConn('off', 'This key may not monitor: updates every 5 s');
  }
  let ticks = 0;
  State.ticker = setInterval(() => {
    ticks++;
    if (!can.monitor()) refresh();
    else if (State.active.size || Schedules.list.length) render();
    // Guests change from elsewhere (the command line, another tab) and
    // push nothing: their list is read again every 5 s.
    if (can.monitor() && ticks % 5 === 0) Views.loadGuests().catch(failed);
    if (ticks % 5 === 0) Hooks.load().catch(failed);
  }, can.monitor() ? 1000 : 5000);
  refresh();
  Detail.route();
}

// Reloads everything the page shows (at sign-in and after a reconnect).
async function refresh() {
  try {
    const reply = await Api.get('/scripts/v1/scripts');
    State.scripts = reply.scripts || {};
    Views.fillScriptSelects();
    await Promise.all([loadActive(), loadLastOutcomes(), Schedules.load(), History.load(), Views.loadGuests(), Hooks.load()]);
    notice('');
  } catch (err) {
    failed(err);
  }
  render();
}

function failed(err) {
  if (err && err.code === 'invalid_missing_apikey') {
    signOut(can.person() ? 'Your session ended: sign in again.' : 'The server no longer accepts this API key.');
  } else notice(err && err.message ? err.message : String(err));
}

async function loadActive() {
  if (!can.status()) return;
  const reply = await Api.get('/scripts/v1/status');
  const ids = [];
  for (const group of [reply.queued || {}, reply.running || {}]) {
    for (const list of Object.values(group)) if (Array.isArray(list)) ids.push(...list);
  }
  const runs = await Promise.all(ids.map((id) => Api.get('/scripts/v1/status/' + id).catch(() => null)));
  State.active.clear();
  for (const run of runs) if (run && run.state !== 'done') State.active.set(run.id, run);
}

async function loadLastOutcomes() {
  if (!can.status()) return;
  const names = Object.keys(State.scripts);
  const replies = await Promise.all(names.map((name) =>
    Api.get('/scripts/v1/history?limit=1&name=' + encodeURIComponent(name)).catch(() => null)));
  State.lastOutcome = {};
  names.forEach((name, i) => {
    const run = replies[i] && replies[i].runs && replies[i].runs[0];
    if (run) State.lastOutcome[name] = run;
  });
}

function onPush(msg) {
  if (msg.state === 'done') {
    State.active.delete(msg.id);
    const last = State.lastOutcome[msg.name];
    if (!last || (msg.finished || 0) >= (last.finished || 0)) State.lastOutcome[msg.name] = msg;
    History.changed();
  } else {
    const old = State.active.get(msg.id);
    State.active.set(msg.id, Object.assign({}, old, msg));
  }
  Detail.pushed(msg);
  render();
}

// Called by the start form: the new run shows at once, before any push.
function runQueued(reply) {
  if (!State.active.has(reply.id)) State.active.set(reply.id, reply);
  render();
}

document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('signin-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const button = document.getElementById('signin-button');
    button.disabled = true;
    await signIn(document.getElementById('apikey').value.trim());
    button.disabled = false;
  });
  document.getElementById('signout').addEventListener('click', () => signOut(''));
  Views.wire();
  Hooks.wire();
  History.wire();
  Detail.wire();
  const key = Api.key();
  if (key) signIn(key);
  else document.getElementById('apikey').focus();
  // A session is looked for only where sign-in through a provider exists.
  offerSignIn().then((oidc) => { if (oidc && !key) resumeSession(); });
});
