'use strict';
// One run in detail: status, timing, the task timeline, the result, who
// asked for it, and its log, followed live while it runs. The log is
// script output: it only ever goes into the page as text.

const Detail = {
  id: null,
  run: null,
  audit: null,
  log: '',
  logTimer: null,

  link(id, known) {
    return h('button', {
      type: 'button', class: 'link', text: id.slice(-12), title: id,
      'aria-label': 'Show run ' + id, onclick: () => Detail.open(id, known),
    });
  },

  async open(id, known) {
    // Its own address (#/run/ID), so a run can be linked and Back closes it.
    const hash = '#/run/' + encodeURIComponent(id);
    if (location.hash !== hash) history.pushState(null, '', hash);
    Detail.id = id;
    Detail.run = known || State.active.get(id) || null;
    Detail.audit = known && known.requested_by !== undefined ? known : null;
    Detail.log = '';
    document.getElementById('log').textContent = '';
    const section = document.getElementById('detail');
    section.hidden = false;
    Detail.render();
    section.focus();
    await Detail.reload();
  },

  close() {
    if (Detail.linked()) history.pushState(null, '', location.pathname + location.search);
    Detail.id = null;
    Detail.run = null;
    clearTimeout(Detail.logTimer);
    document.getElementById('detail').hidden = true;
  },

  // The run the address names (#/run/ID), if any.
  linked() {
    const m = /^#\/run\/([^/]+)$/.exec(location.hash);
    return m ? decodeURIComponent(m[1]) : null;
  },

  // Follows the address: a run link opens its detail, no link closes it.
  route() {
    if (!State.access) return;
    const id = Detail.linked();
    if (id && id !== Detail.id) Detail.open(id);
    else if (!id && !location.hash && Detail.id) Detail.close();
  },

  async reload() {
    const id = Detail.id;
    if (!id) return;
    try {
      const run = await Api.get('/scripts/v1/status/' + id);
      if (Detail.id !== id) return;
      Detail.run = run;
      if (run.state === 'done' && !Detail.audit) Detail.audit = await Detail.findAudit(run);
    } catch (err) {
      if (err.code === 'invalid_missing_apikey') return failed(err);
      if (!Detail.run) Detail.run = { id, state: 'unknown', error: err.message };
    }
    Detail.render();
    Detail.followLog();
  },

  // The audit fields are in the history: look the run up there.
  async findAudit(run) {
    if (!can.status() || !run.finished) return null;
    const path = '/scripts/v1/history?limit=1000&name=' + encodeURIComponent(run.name) +
      '&since=' + Math.floor(run.finished - 1) + '&until=' + Math.ceil(run.finished + 1);
    try {
      const reply = await Api.get(path);
      return (reply.runs || []).find((r) => r.id === run.id) || null;
    } catch (err) {
      return null;
    }
  },

  async followLog() {
    clearTimeout(Detail.logTimer);
    const id = Detail.id;
    if (!id || !can.log() || !Detail.run || Detail.run.state === 'queued') return;
    try {
      const text = await Api.get('/scripts/v1/log/' + id);
      if (Detail.id !== id) return;
      const pre = document.getElementById('log');
      const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      if (text !== Detail.log) {
        Detail.log = text;
        pre.textContent = text;
        if (atBottom) pre.scrollTop = pre.scrollHeight;
      }
    } catch (err) {
      // The log may not exist yet; the next round tries again.
    }
    if (Detail.run && Detail.run.state === 'running') Detail.logTimer = setTimeout(Detail.followLog, 1000);
  },

  pushed(msg) {
    if (msg.id !== Detail.id) return;
    if (msg.state === 'done') {
      Detail.run = msg;
      Detail.reload();
    } else {
      const wasQueued = !Detail.run || Detail.run.state !== 'running';
      Detail.run = Object.assign({}, Detail.run, msg);
      if (wasQueued && msg.state === 'running') Detail.followLog();
    }
  },

  rows(run) {
    const rows = [['Run', run.id], ['Script', run.name], ['State', run.state]];
    if (run.state === 'queued') {
      rows.push(['Queued for', fmtTime(run.queued)]);
    } else if (run.state === 'running') {
      rows.push(['Started', fmtTime(run.started)], ['Elapsed', fmtDuration(now() - run.started)],
        ['Progress', Views.progressText(run) + ' (' + Views.percent(run) + '%)']);
    } else if (run.state === 'done') {
      rows.push(['Outcome', run.outcome], ['Started', fmtTime(run.started)], ['Finished', fmtTime(run.finished)],
        ['Duration', fmtDuration(run.duration)], ['Exit code', run.exit_code ?? '—'], ['Signal', run.signal ?? '—'],
        ['CPU', run.cpu_user === undefined ? '—' : 'user ' + fmtDuration(run.cpu_user) + ', system ' + fmtDuration(run.cpu_system)],
        ['Memory (max RSS)', run.max_rss_kb ? Math.round(run.max_rss_kb / 1024 * 10) / 10 + ' MiB' : '—']);
      if (run.error) rows.push(['Error', run.error]);
      if (run.first) rows.push(['First line', run.first]);
      if (run.last) rows.push(['Last line', run.last]);
    } else if (run.error) {
      rows.push(['Error', run.error]);
    }
    if (run.attempt) rows.push(['Attempt', run.attempt + (run.max_attempts ? ' of ' + run.max_attempts : '')]);
    if (run.args && run.args.params) rows.push(['Arguments', JSON.stringify(run.args.params)]);
    const audit = Detail.audit || {};
    for (const [label, by, from] of [['Requested by', 'requested_by', 'requested_from'],
      ['Cancelled by', 'cancelled_by', 'cancelled_from'], ['Killed by', 'killed_by', 'killed_from']]) {
      if (audit[by]) rows.push([label, Detail.who(audit[by], audit[by + '_name']) + (audit[from] ? ' from ' + audit[from] : '')]);
    }
    return rows;
  },

  // "admin (user:1)", "guest 0192…": a person reads a name, not an id.
  who(by, name) {
    if (name) return name + ' (' + by + ')';
    if (by.startsWith('guest:')) return 'guest ' + by.slice(6);
    return by;
  },

  timeline(run) {
    const tasks = run.tasks || [];
    if (!tasks.length) return null;
    // The list numbers the tasks; the names go in as they are.
    const items = tasks.map((t) => h('li', {},
      h('span', { class: 'task', text: t.task }),
      ' started +' + fmtDuration(t.start - run.started) + ', took ' + fmtDuration(t.end - t.start)));
    return [h('h3', { text: 'Tasks' }), Charts.timeline(run), h('ol', { class: 'timeline' }, items)];
  },

  // A run with retries (-R): one line per ended attempt.
  attempts(run) {
    const attempts = run.attempts || [];
    if (!attempts.length) return null;
    const items = attempts.map((a) => h('li', { class: 'attempt' },
      'attempt ' + a.attempt + ': ' + a.outcome +
      (a.exit_code !== null && a.exit_code !== undefined ? ', exit code ' + a.exit_code : '') +
      (a.signal ? ', signal ' + a.signal : '') +
      ', ' + (a.start ? fmtTime(a.start) + ' to ' : 'ended ') + fmtTime(a.end)));
    return [h('h3', { text: 'Attempts' }), h('ol', { class: 'attempts' }, items)];
  },

  render() {
    if (!Detail.id) return;
    const run = Detail.run || { id: Detail.id, state: 'loading' };
    document.getElementById('detail-title').textContent = 'Run ' + Detail.id + (run.name ? ' of ' + run.name : '');
    const dl = h('dl', { class: 'facts' }, Detail.rows(run).map(([k, v]) =>
      [h('dt', { text: k }), h('dd', { 'data-field': k, text: String(v) })]));
    replace(document.getElementById('detail-body'), dl, Detail.attempts(run), Detail.timeline(run));
    document.getElementById('log-title').hidden = !can.log();
    document.getElementById('log').hidden = !can.log();
  },

  wire() {
    document.getElementById('detail-close').addEventListener('click', Detail.close);
    window.addEventListener('hashchange', Detail.route);
    window.addEventListener('popstate', Detail.route);
  },
};
