'use strict';
// Scheduled scripts: the schedule in words (croner's description, with
// the expression), its zone, whether it is paused, the next start as a
// live countdown and the last tick; the owner pauses and resumes (with a
// confirm), guests only see. Read from GET schedules at sign-in, after a
// reconnect, after a pause or resume, and when a shown start has passed.

const Schedules = {
  list: [],          // GET schedules' rows, by name
  confirming: null,  // the name whose pause or resume awaits confirmation
  loading: false,

  async load() {
    if (!can.status()) {
      Schedules.list = [];
      return;
    }
    const reply = await Api.get('/scripts/v1/schedules');
    Schedules.list = reply.schedules || [];
  },

  clear() {
    Schedules.list = [];
    Schedules.confirming = null;
  },

  // The first shown start has passed: the next ones move up, read them.
  refreshIfDue() {
    if (Schedules.loading) return;
    const due = Schedules.list.some((s) => !s.paused && s.next && s.next.length && s.next[0] <= now());
    if (!due) return;
    Schedules.loading = true;
    Schedules.load().catch(failed).finally(() => {
      Schedules.loading = false;
      render();
    });
  },

  words(s) {
    return s.description && s.description !== s.cron ? s.description + ' (' + s.cron + ')' : s.cron;
  },

  nextText(s) {
    if (s.paused) return 'paused';
    const next = (s.next || []).find((t) => t > now());
    if (next === undefined) return '—';
    return 'in ' + fmtDuration(next - now()) + ' (' + fmtTime(next) + ')';
  },

  lastText(s) {
    const last = s.last;
    if (!last) return 'never';
    const what = last.skipped ? 'skipped: ' + last.skipped : (last.outcome || 'started');
    return fmtTime(last.tick) + ', ' + what;
  },

  render() {
    const section = document.getElementById('schedules');
    const shown = Schedules.list.length > 0;
    section.hidden = !shown;
    document.getElementById('nav-schedules').hidden = !shown;
    const body = document.getElementById('schedules-body');
    if (!shown) {
      if (body.dataset.key !== '') replace(body);
      body.dataset.key = '';
      return;
    }
    // Rebuilt only when what it shows changed, so a focused button stays
    // the same element; the countdowns are updated in place every second.
    const key = JSON.stringify([Schedules.list, Schedules.confirming, can.user()]);
    if (body.dataset.key !== key) {
      body.dataset.key = key;
      const rows = Schedules.list.map((s) => h('tr', { 'data-schedule': s.name, 'data-paused': String(s.paused) },
        h('th', { scope: 'row', text: s.name }),
        h('td', { class: 'words', text: Schedules.words(s) }),
        h('td', { class: 'zone', text: s.zone + ', -C=' + s.catch_up }),
        h('td', { class: 'next' }),
        h('td', { class: 'last', text: Schedules.lastText(s) }),
        h('td', { class: 'act' }, Schedules.action(s))));
      const head = ['Script', 'Schedule', 'Zone', 'Next start', 'Last tick', 'Action'];
      replace(body, h('table', {},
        h('thead', {}, h('tr', {}, head.map((t) => h('th', { scope: 'col', text: t })))),
        h('tbody', {}, rows)));
    }
    for (const s of Schedules.list) {
      const cell = body.querySelector('tr[data-schedule="' + CSS.escape(s.name) + '"] .next');
      if (cell) Views.setText(cell, Schedules.nextText(s));
    }
  },

  action(s) {
    if (!can.user()) return '';
    const verb = s.paused ? 'Resume' : 'Pause';
    if (Schedules.confirming !== s.name) {
      return h('button', {
        type: 'button', id: 'sched-act-' + s.name,
        'aria-label': verb + ' the schedule of ' + s.name, text: verb,
        onclick: () => {
          Schedules.confirming = s.name;
          Schedules.render();
          document.getElementById('sched-no-' + s.name).focus();
        },
      });
    }
    const doIt = async () => {
      Schedules.confirming = null;
      try {
        await Api.post('/scripts/v1/schedule/' + verb.toLowerCase() + '/' + encodeURIComponent(s.name));
        await Schedules.load();
        notice('');
      } catch (err) {
        failed(err);
      }
      render();
    };
    const why = s.paused ? ' (missed ticks are caught up by -C=' + s.catch_up + ')' : ' (no run starts until resumed)';
    return h('span', { class: 'confirm', role: 'group', 'aria-label': 'Confirm' },
      h('span', { text: verb + ' the schedule of ' + s.name + why + '? ' }),
      h('button', { type: 'button', id: 'sched-yes-' + s.name, text: 'Yes, ' + verb.toLowerCase(), onclick: doIt }),
      h('button', {
        type: 'button', id: 'sched-no-' + s.name, text: 'No',
        onclick: () => {
          Schedules.confirming = null;
          Schedules.render();
          const back = document.getElementById('sched-act-' + s.name);
          if (back) back.focus();
        },
      }));
  },
};
