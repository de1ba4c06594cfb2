'use strict';
// Webhooks: the owner's hooks, a form to add one (its secret is shown
// once), and each hook's recent deliveries with their attempts.

const TRIGGERS = ['started', 'success', 'failed', 'timeout', 'killed', 'cancelled', 'interrupted', 'retrying'];

const Hooks = {
  async load() {
    if (!can.user()) return;
    const reply = await Api.get('/scripts/v1/hook/list');
    const hooks = reply.hooks || [];
    // Redrawn only when something changed, so a focused button stays.
    const seen = JSON.stringify(hooks);
    const body = document.getElementById('hooks-body');
    if (body.dataset.seen === seen) return;
    body.dataset.seen = seen;
    const rows = hooks.map((k) => h('tr', { 'data-hook': k.id },
      h('td', { text: k.id }),
      h('th', { scope: 'row', text: k.url }),
      h('td', { text: k.name || 'every script' }),
      h('td', { text: (k.on || []).join(', ') }),
      h('td', { text: k.format }),
      h('td', { text: k.paused ? 'paused: ' + (k.paused_reason || '') : 'active' }),
      h('td', {},
        h('button', {
          type: 'button', id: 'hook-deliveries-' + k.id, text: 'Deliveries', 'aria-label': 'Deliveries of hook ' + k.id,
          onclick: () => Hooks.deliveries(k.id),
        }),
        h('button', {
          type: 'button', class: 'danger', id: 'hook-delete-' + k.id, text: 'Delete', 'aria-label': 'Delete hook ' + k.id,
          onclick: () => Hooks.remove(k.id),
        }))));
    replace(body, rows.length
      ? h('table', {}, h('thead', {}, h('tr', {}, ['Hook', 'URL', 'Script', 'On', 'Format', 'State', 'Action']
        .map((t) => h('th', { scope: 'col', text: t })))), h('tbody', {}, rows))
      : h('p', { text: 'No hooks.' }));
  },

  async deliveries(id) {
    const out = document.getElementById('hook-deliveries');
    try {
      const reply = await Api.get('/scripts/v1/hook/deliveries?hook=' + encodeURIComponent(id));
      const rows = (reply.deliveries || []).map((d) => h('tr', {},
        h('td', { text: d.id }),
        h('td', { text: fmtTime(d.created) }),
        h('th', { scope: 'row', text: d.name }),
        h('td', { text: d.event }),
        h('td', { text: d.state + (d.folded ? ' (+' + d.folded + ' folded)' : '') }),
        h('td', { class: 'attempts' }, String(d.attempts), Hooks.attempts(d)),
        h('td', { text: d.status == null ? '-' : String(d.status) }),
        h('td', { text: d.error || '' })));
      replace(out, rows.length
        ? h('table', {}, h('caption', { text: 'Deliveries of hook ' + id }),
          h('thead', {}, h('tr', {}, ['Delivery', 'When', 'Script', 'Event', 'State', 'Attempts', 'HTTP', 'Error']
            .map((t) => h('th', { scope: 'col', text: t })))), h('tbody', {}, rows))
        : h('p', { text: 'No deliveries yet for hook ' + id + '.' }));
    } catch (err) {
      failed(err);
    }
  },

  // Each kept attempt (the last 20) with its time and answer.
  attempts(d) {
    const log = d.attempt_log || [];
    if (!log.length) return '';
    const items = log.map((a) => h('li', { 'data-attempt': String(a.attempt) },
      '#' + a.attempt + ' ' + (a.at ? fmtTime(a.at) : '-') + ': ' +
      (a.error || (a.status == null ? '-' : 'HTTP ' + a.status))));
    if (d.attempts > log.length) {
      items.unshift(h('li', { text: (d.attempts - log.length) + ' earlier not kept' }));
    }
    return h('ol', { class: 'attempt-log' }, items);
  },

  async remove(id) {
    if (!window.confirm('Delete hook ' + id + '? Its pending deliveries are dropped.')) return;
    try {
      await Api.post('/scripts/v1/hook/delete/' + id, {});
      await Hooks.load();
    } catch (err) {
      failed(err);
    }
  },

  async create(event) {
    event.preventDefault();
    const out = document.getElementById('hook-secret');
    const on = TRIGGERS.filter((t) => document.getElementById('hook-on-' + t).checked);
    const body = {
      url: document.getElementById('hook-url').value,
      on,
      format: document.getElementById('hook-format').value,
    };
    const name = document.getElementById('hook-name').value;
    if (name) body.name = name;
    try {
      const reply = await Api.post('/scripts/v1/hook/create', body);
      out.replaceChildren(
        h('p', { text: 'Signing secret of hook ' + reply.id + ' (shown only this once, copy it now):' }),
        h('code', { id: 'hook-key', tabindex: '0', text: reply.secret }));
      await Hooks.load();
    } catch (err) {
      out.replaceChildren(h('p', { class: 'error', text: 'Not created: ' + err.message }));
    }
  },

  wire() {
    const boxes = document.getElementById('hook-on');
    for (const t of TRIGGERS) {
      const checked = ['failed', 'timeout', 'interrupted'].includes(t);
      boxes.append(h('label', {}, h('input', { id: 'hook-on-' + t, type: 'checkbox', checked }), ' ' + t));
    }
    document.getElementById('hook-form').addEventListener('submit', Hooks.create);
  },
};
