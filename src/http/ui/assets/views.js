'use strict';
// Scripts, runs now, the start form and guest management.

const Views = {
  confirming: null, // id of the run whose cancel/kill awaits confirmation

  counts(name) {
    let queued = 0, running = 0, scheduled = 0;
    for (const run of State.active.values()) {
      if (run.name !== name) continue;
      if (run.state === 'running') running++;
      else {
        queued++;
        if (run.queued > now()) scheduled++;
      }
    }
    return { queued, running, scheduled };
  },

  options(opts) {
    const parts = [];
    if (opts.simultaneous !== undefined) parts.push('-s=' + opts.simultaneous + ' at once');
    if (opts.max_queued !== undefined && opts.max_queued !== null) parts.push('-m=' + opts.max_queued + ' max');
    if (opts.timeout) parts.push('-t=' + opts.timeout + ' s timeout');
    if (opts.stdin) parts.push('-i stdin allowed');
    if (opts.noexec) parts.push('-n no process');
    if (opts.forget) parts.push('-r forgotten when done');
    if (opts.args) parts.push(opts.args + ' argument' + (opts.args === 1 ? '' : 's'));
    return parts.length ? parts.join(', ') : 'no options';
  },

  scripts() {
    const names = Object.keys(State.scripts).sort();
    const body = document.getElementById('scripts-body');
    if (!names.length) {
      replace(body, h('p', { text: 'No scripts: add lines to exectab.txt.' }));
      return;
    }
    const rows = names.map((name) => {
      const opts = State.scripts[name];
      const c = Views.counts(name);
      const last = State.lastOutcome[name];
      return h('tr', { 'data-script': name },
        h('th', { scope: 'row', text: name }),
        h('td', { text: Views.options(opts) }),
        h('td', { class: 'num', text: c.queued + (c.scheduled ? ' (' + c.scheduled + ' scheduled)' : '') }),
        h('td', { class: 'num', text: c.running }),
        h('td', {}, last ? Views.outcomeBadge(last.outcome) : '—',
          last ? ' ' + fmtTime(last.finished) : ''));
    });
    replace(body, h('table', {},
      h('thead', {}, h('tr', {}, ['Script', 'Options', 'Queued', 'Running', 'Last outcome']
        .map((t) => h('th', { scope: 'col', text: t })))),
      h('tbody', {}, rows)));
  },

  outcomeBadge(outcome) {
    return h('span', { class: 'badge o-' + (outcome || 'none'), text: outcome || '—' });
  },

  progressText(run) {
    const parts = [];
    if (run.maxtasks > 0) parts.push('Task ' + (run.tasknum + 1) + ' of ' + run.maxtasks);
    else if (run.task !== false && run.task !== undefined) parts.push('Task ' + (run.tasknum + 1));
    if (run.task) parts.push(run.task);
    if (run.subtask) parts.push(run.subtask + ' ' + run.subtaskpercent + '%');
    return parts.length ? parts.join(' — ') : 'started';
  },

  percent(run) {
    const sub = (run.subtaskpercent || 0) / 100;
    if (run.maxtasks > 0) return Math.min(100, Math.round(((run.tasknum || 0) + sub) / run.maxtasks * 100));
    return Math.round(sub * 100);
  },

  runs() {
    const body = document.getElementById('runs-body');
    const runs = [...State.active.values()];
    if (!runs.length) {
      Views.rowCache.clear();
      replace(body, h('p', { text: 'Nothing is queued or running.' }));
      return;
    }
    const queued = runs.filter((r) => r.state !== 'running')
      .sort((a, b) => (a.queued - b.queued) || (a.id < b.id ? -1 : 1));
    const position = new Map();
    const seen = {};
    for (const run of queued) {
      position.set(run.id, seen[run.name] || 0);
      seen[run.name] = (seen[run.name] || 0) + 1;
    }
    const running = runs.filter((r) => r.state === 'running').sort((a, b) => a.started - b.started);
    let tbody = document.getElementById('runs-tbody');
    if (!tbody) {
      tbody = h('tbody', { id: 'runs-tbody' });
      replace(body, h('table', {},
        h('thead', {}, h('tr', {}, ['Run', 'Script', 'State', 'Progress', 'Time', 'Action']
          .map((t) => h('th', { scope: 'col', text: t })))), tbody));
    }
    // Rows are updated in place, never rebuilt while shown: a button that
    // is being clicked or has the focus must stay the same element.
    const wanted = running.concat(queued).map((run) => Views.runRow(run, position.get(run.id)));
    for (const [id, row] of Views.rowCache) {
      if (!State.active.has(id)) {
        row.remove();
        Views.rowCache.delete(id);
      }
    }
    wanted.forEach((row, i) => {
      if (tbody.children[i] !== row) tbody.insertBefore(row, tbody.children[i] || null);
    });
    labelCells(body);
  },

  rowCache: new Map(),

  setText(el, text) {
    if (el.textContent !== text) el.textContent = text;
  },

  runRow(run, position) {
    let row = Views.rowCache.get(run.id);
    if (!row) {
      row = h('tr', { 'data-run': run.id },
        h('td', {}, Detail.link(run.id)),
        h('th', { scope: 'row', text: run.name }),
        h('td', { class: 'state' }),
        h('td', { class: 'prog' }),
        h('td', { class: 'time' }),
        h('td', { class: 'act' }));
      Views.rowCache.set(run.id, row);
    }
    const isRunning = run.state === 'running';
    row.dataset.state = run.state;
    const cell = (name) => row.querySelector('.' + name);
    const prog = cell('prog');
    if (isRunning) {
      const pct = Views.percent(run);
      Views.setText(cell('state'), 'running');
      let bar = prog.querySelector('progress');
      if (!bar) {
        bar = h('progress', { max: '100', 'aria-label': 'Progress of ' + run.name });
        prog.replaceChildren(h('div', { class: 'progress' }, bar, h('span', { class: 'ptext' })));
      }
      bar.value = pct;
      bar.dataset.percent = pct;
      Views.setText(prog.querySelector('.ptext'), Views.progressText(run) + ' (' + pct + '%)');
      Views.setText(cell('time'), 'elapsed ' + fmtDuration(now() - run.started));
    } else {
      Views.setText(cell('state'), 'queued, position ' + (position === undefined ? run.position : position));
      Views.setText(cell('time'), run.queued > now()
        ? 'starts in ' + fmtDuration(run.queued - now()) + ' (' + fmtTime(run.queued) + ')'
        : 'waiting since ' + fmtTime(run.queued));
    }
    const act = cell('act');
    const key = (can.cancel() ? run.state : 'none') + '|' + (Views.confirming === run.id);
    if (act.dataset.key !== key) {
      act.dataset.key = key;
      replace(act, can.cancel() ? Views.action(run, isRunning) : '');
    }
    return row;
  },

  action(run, isRunning) {
    const verb = isRunning ? 'Kill' : 'Cancel';
    if (Views.confirming !== run.id) {
      return h('button', {
        type: 'button', id: 'act-' + run.id, class: 'danger',
        'aria-label': verb + ' run ' + run.id.slice(-8) + ' of ' + run.name,
        text: verb,
        onclick: () => {
          Views.confirming = run.id;
          Views.runs();
          document.getElementById('no-' + run.id).focus();
        },
      });
    }
    const doIt = async () => {
      Views.confirming = null;
      try {
        await Api.post('/scripts/v1/' + (isRunning ? 'kill/' : 'cancel/') + run.id);
        if (!isRunning) State.active.delete(run.id);
        notice('');
      } catch (err) {
        failed(err);
      }
      render();
    };
    return h('span', { class: 'confirm', role: 'group', 'aria-label': 'Confirm' },
      h('span', { text: verb + ' this run? ' }),
      h('button', { type: 'button', id: 'yes-' + run.id, class: 'danger', text: 'Yes, ' + verb.toLowerCase(), onclick: doIt }),
      h('button', {
        type: 'button', id: 'no-' + run.id, text: 'No',
        onclick: () => {
          Views.confirming = null;
          Views.runs();
          const back = document.getElementById('act-' + run.id);
          if (back) back.focus();
        },
      }));
  },

  fillScriptSelects() {
    const names = Object.keys(State.scripts).sort();
    const fill = (id, withAny) => {
      const select = document.getElementById(id);
      const old = select.value;
      const options = names.map((n) => h('option', { value: n, text: n }));
      if (withAny) options.unshift(h('option', { value: '', text: 'any' }));
      select.replaceChildren(...options);
      if ([...select.options].some((o) => o.value === old)) select.value = old;
    };
    fill('start-name', false);
    fill('hist-name', true);
    fill('guest-name', false);
    Views.startFields();
  },

  startFields() {
    const name = document.getElementById('start-name').value;
    const opts = State.scripts[name] || {};
    const box = document.getElementById('start-args');
    const have = box.querySelectorAll('input').length;
    const need = opts.args || 0;
    if (have !== need || box.dataset.name !== name) {
      box.dataset.name = name;
      const fields = [];
      for (let i = 1; i <= need; i++) {
        fields.push(h('div', { class: 'field' },
          h('label', { for: 'start-arg-' + i, text: 'Argument ' + i + ' (@@' + i + ')' }),
          h('input', { id: 'start-arg-' + i, type: 'text', class: 'arg', spellcheck: 'false', required: true })));
      }
      box.replaceChildren(...fields);
    }
    document.getElementById('start-stdin-field').hidden = !opts.stdin;
  },

  async start(event) {
    event.preventDefault();
    const result = document.getElementById('start-result');
    const name = document.getElementById('start-name').value;
    const inputs = [...document.querySelectorAll('#start-args input')];
    // Every @@N is needed: an empty one is refused here, not run.
    const empty = inputs.findIndex((i) => !i.value);
    if (empty >= 0) {
      result.textContent = 'Argument ' + (empty + 1) + ' (@@' + (empty + 1) + ') is required.';
      inputs[empty].focus();
      return;
    }
    const body = { name, args: inputs.map((i) => i.value) };
    if (State.scripts[name] && State.scripts[name].stdin) body.stdin = document.getElementById('start-stdin').value;
    const when = parseWhen(document.getElementById('start-at').value);
    if (when === undefined) {
      result.textContent = 'The start time is not understood: use +30s, +5m, +2h, +1d or 2026-12-31 23:59.';
      return;
    }
    if (when !== null) body.queue = when;
    try {
      const reply = await Api.post('/scripts/v1/run', body);
      result.textContent = 'Queued run ' + reply.id + ' of ' + reply.name + '.';
      runQueued(reply);
    } catch (err) {
      if (err.code === 'invalid_missing_apikey') return failed(err);
      result.textContent = 'Not started: ' + err.message;
    }
  },

  async loadGuests() {
    if (!can.guests()) return;
    const reply = await Api.get('/scripts/v1/guest/list');
    const guests = reply.guests || [];
    // Read every 5 s: redrawn only when something changed, so a focused
    // Delete button stays where it is.
    const seen = JSON.stringify(guests);
    const body = document.getElementById('guests-body');
    if (body.dataset.seen === seen) return;
    body.dataset.seen = seen;
    const rows = guests.map((g) => {
      const rights = ['run', 'cancel', 'status', 'monitor'].filter((r) => g.info && g.info[r]);
      return h('tr', { 'data-guest': g.id },
        h('td', { text: g.id }),
        h('th', { scope: 'row', text: g.info ? g.info.name : '' }),
        h('td', { text: rights.join(', ') || 'none' }),
        h('td', { text: fmtTime(g.expires) }),
        h('td', {}, h('button', {
          type: 'button', class: 'danger', id: 'guest-delete-' + g.id, text: 'Delete', 'aria-label': 'Delete guest ' + g.id,
          onclick: () => Views.deleteGuest(g.id),
        })));
    });
    replace(body, rows.length
      ? h('table', {}, h('thead', {}, h('tr', {}, ['Guest', 'Script', 'Rights', 'Expires', 'Action']
        .map((t) => h('th', { scope: 'col', text: t })))), h('tbody', {}, rows))
      : h('p', { text: 'No guests.' }));
  },

  async deleteGuest(id) {
    if (!window.confirm('Delete guest ' + id + '? Its key stops working at once.')) return;
    try {
      await Api.call('DELETE', '/scripts/v1/guest/delete/' + id);
      await Views.loadGuests();
    } catch (err) {
      failed(err);
    }
  },

  async createGuest(event) {
    event.preventDefault();
    const out = document.getElementById('guest-newkey');
    const expires = parseWhen(document.getElementById('guest-expires').value);
    if (!expires) {
      out.replaceChildren(h('p', { class: 'error', text: 'The expiry is not understood: use +7d, +2h or 2026-12-31 23:59.' }));
      return;
    }
    const flag = (id) => document.getElementById(id).checked;
    try {
      const reply = await Api.post('/scripts/v1/guest/create', {
        name: document.getElementById('guest-name').value, expires,
        run: flag('guest-run'), cancel: flag('guest-cancel'), status: flag('guest-status'), monitor: flag('guest-monitor'),
      });
      out.replaceChildren(
        h('p', { text: 'New guest key (shown only this once, copy it now):' }),
        h('code', { id: 'guest-key', tabindex: '0', text: reply.info.apikey }));
      await Views.loadGuests();
    } catch (err) {
      out.replaceChildren(h('p', { class: 'error', text: 'Not created: ' + err.message }));
    }
  },

  wire() {
    document.getElementById('start-name').addEventListener('change', Views.startFields);
    document.getElementById('start-form').addEventListener('submit', Views.start);
    document.getElementById('guest-form').addEventListener('submit', Views.createGuest);
  },
};
