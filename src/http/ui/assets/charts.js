'use strict';
// History (filters, paging, live refresh) and the SVG charts the page draws
// itself: run durations over time coloured by outcome, outcomes per day,
// and a run's task timeline.

const SVG = 'http://www.w3.org/2000/svg';
const OUTCOMES = ['success', 'failed', 'killed', 'timeout', 'cancelled', 'start_failed', 'interrupted', 'noexec'];

function s(tag, attrs, ...kids) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

const Charts = {
  W: 640,
  H: 200,
  PAD: 36,

  frame(title, desc) {
    return s('svg', { viewBox: '0 0 ' + Charts.W + ' ' + Charts.H, role: 'img', class: 'chart', 'aria-label': title },
      s('title', {}, title), s('desc', {}, desc));
  },

  // Duration ticks: 1 s, 10 s, 1 min, 10 min, 1 h, 10 h, 1 d.
  DURATION_TICKS: [[0, '0'], [1, '1 s'], [10, '10 s'], [60, '1 min'], [600, '10 min'],
    [3600, '1 h'], [36000, '10 h'], [86400, '1 d']],

  // A time tick: the date past two days, else the time of day (with
  // seconds within ten minutes, so that no two ticks read the same).
  timeTick(secs, span) {
    if (span > 2 * 86400) return fmtDate(secs).slice(5);
    const d = new Date(secs * 1000);
    const hm = pad2(d.getHours()) + ':' + pad2(d.getMinutes());
    return span < 600 ? hm + ':' + pad2(d.getSeconds()) : hm;
  },

  // Durations on a log scale (of 1 + seconds), so that one 300 s run does
  // not flatten the 2 s ones; time ticks across, in the browser's zone.
  durations(runs) {
    const svg = Charts.frame('Run durations over time', 'Each dot is a finished run: time across, duration up (log scale), colour by outcome.');
    svg.id = 'chart-durations';
    svg.setAttribute('data-scale', 'log');
    const done = runs.filter((r) => typeof r.finished === 'number');
    if (!done.length) return Charts.empty(svg);
    const { W, H, PAD } = Charts;
    const left = 60;
    const x0 = Math.min(...done.map((r) => r.finished));
    const x1 = Math.max(x0 + 60, ...done.map((r) => r.finished));
    const yMax = Math.max(10, ...done.map((r) => r.duration || 0));
    const top = Math.log10(1 + yMax);
    const xOf = (t) => left + (t - x0) / (x1 - x0) * (W - left - 16);
    const yOf = (d) => H - PAD - Math.log10(1 + Math.max(0, d || 0)) / top * (H - PAD - 16);
    svg.append(
      s('line', { x1: left, y1: H - PAD, x2: W - 8, y2: H - PAD, class: 'axis' }),
      s('line', { x1: left, y1: 8, x2: left, y2: H - PAD, class: 'axis' }),
      s('text', { x: W - 8, y: 16, class: 'label end' }, 'times in ' + zoneName(new Date(x1 * 1000))));
    for (const [secs, label] of Charts.DURATION_TICKS) {
      if (secs > yMax) break;
      const y = yOf(secs).toFixed(1);
      svg.append(s('line', { x1: left - 4, y1: y, x2: W - 8, y2: y, class: 'grid' }),
        s('text', { x: left - 6, y: (Number(y) + 4).toFixed(1), class: 'label end tick y' }, label));
    }
    const ticks = 4;
    for (let i = 0; i <= ticks; i++) {
      const t = x0 + (x1 - x0) * i / ticks;
      const x = xOf(t).toFixed(1);
      const anchor = i === 0 ? '' : i === ticks ? ' end' : ' mid';
      svg.append(s('line', { x1: x, y1: H - PAD, x2: x, y2: H - PAD + 4, class: 'axis' }),
        s('text', { x, y: H - 18, class: 'label tick x' + anchor }, Charts.timeTick(t, x1 - x0)));
    }
    for (const r of done) {
      svg.append(s('circle', { cx: xOf(r.finished).toFixed(1), cy: yOf(r.duration).toFixed(1), r: 4, class: 'o-' + r.outcome, 'data-run': r.id },
        s('title', {}, r.name + ' ' + r.outcome + ', ' + fmtDuration(r.duration) + ', ' + fmtTime(r.finished))));
    }
    return svg;
  },

  perDay(runs) {
    const svg = Charts.frame('Outcomes per day', 'One stacked bar per day, one colour per outcome.');
    svg.id = 'chart-days';
    const days = new Map();
    for (const r of runs) {
      if (typeof r.finished !== 'number') continue;
      const day = fmtDate(r.finished);
      if (!days.has(day)) days.set(day, {});
      days.get(day)[r.outcome] = (days.get(day)[r.outcome] || 0) + 1;
    }
    if (!days.size) return Charts.empty(svg);
    const list = [...days.entries()].reverse();
    const { W, H, PAD } = Charts;
    const max = Math.max(...list.map(([, c]) => Object.values(c).reduce((a, b) => a + b, 0)));
    svg.append(s('line', { x1: PAD, y1: H - PAD, x2: W - 8, y2: H - PAD, class: 'axis' }),
      s('text', { x: 4, y: 16, class: 'label' }, 'runs ≤ ' + max));
    const slot = (W - PAD - 8) / list.length;
    const bar = Math.min(48, slot * 0.7);
    list.forEach(([day, counts], i) => {
      let y = H - PAD;
      const x = PAD + i * slot + (slot - bar) / 2;
      for (const outcome of OUTCOMES) {
        const n = counts[outcome] || 0;
        if (!n) continue;
        const height = n / max * (H - PAD - 24);
        y -= height;
        svg.append(s('rect', { x: x.toFixed(1), y: y.toFixed(1), width: bar.toFixed(1), height: height.toFixed(1), class: 'o-' + outcome },
          s('title', {}, day + ': ' + n + ' ' + outcome)));
      }
      if (list.length <= 10 || i % Math.ceil(list.length / 10) === 0) {
        svg.append(s('text', { x: (x + bar / 2).toFixed(1), y: H - 20, class: 'label mid' }, day));
      }
    });
    return svg;
  },

  empty(svg) {
    svg.append(s('text', { x: Charts.W / 2, y: Charts.H / 2, class: 'label mid' }, 'No finished runs yet'));
    return svg;
  },

  legend() {
    return h('ul', { class: 'legend', 'aria-label': 'Outcome colours' },
      OUTCOMES.map((o) => h('li', {}, h('span', { class: 'swatch o-' + o }), o)));
  },

  timeline(run) {
    const tasks = run.tasks || [];
    const end = run.finished || Math.max(...tasks.map((t) => t.end));
    const span = Math.max(0.001, end - run.started);
    const rowH = 18;
    const svg = s('svg', { viewBox: '0 0 ' + Charts.W + ' ' + (tasks.length * rowH + 4), role: 'img', class: 'chart tasks', 'aria-label': 'Task timeline' });
    tasks.forEach((t, i) => {
      const x = (t.start - run.started) / span * (Charts.W - 8);
      const w = Math.max(2, (t.end - t.start) / span * (Charts.W - 8));
      svg.append(s('rect', { x: x.toFixed(1), y: i * rowH + 2, width: w.toFixed(1), height: rowH - 4, class: 'taskbar' },
        s('title', {}, t.task + ': ' + fmtDuration(t.end - t.start))));
    });
    return svg;
  },
};

const History = {
  cursors: [],   // cursors of the pages before the current one
  cursor: null,  // `before` of the current page (null = newest)
  next: null,
  runs: [],
  timer: null,

  query(limit, before) {
    const params = new URLSearchParams();
    const name = document.getElementById('hist-name').value;
    const outcome = document.getElementById('hist-outcome').value;
    const since = document.getElementById('hist-since').value;
    const until = document.getElementById('hist-until').value;
    if (name) params.set('name', name);
    if (outcome) params.set('outcome', outcome);
    if (since) params.set('since', Math.floor(new Date(since + 'T00:00:00').getTime() / 1000));
    if (until) params.set('until', Math.floor(new Date(until + 'T23:59:59').getTime() / 1000));
    params.set('limit', limit);
    if (before !== null && before !== undefined) params.set('before', before);
    return '/scripts/v1/history?' + params.toString();
  },

  async load() {
    if (!can.status()) return;
    const [page, chart] = await Promise.all([
      Api.get(History.query(20, History.cursor)),
      Api.get(History.query(500, null)),
    ]);
    History.runs = page.runs || [];
    History.next = page.next;
    History.render(chart.runs || []);
  },

  // A run finished: refresh the newest page (debounced: bursts of pushes).
  changed() {
    if (History.cursor !== null || !can.status()) return;
    clearTimeout(History.timer);
    History.timer = setTimeout(() => History.load().catch(failed), 200);
  },

  render(chartRuns) {
    const rows = History.runs.map((r) => h('tr', { 'data-run': r.id, 'data-outcome': r.outcome },
      h('td', {}, Detail.link(r.id, r)),
      h('th', { scope: 'row', text: r.name }),
      h('td', { class: 'outcome' }, Views.outcomeBadge(r.outcome)),
      h('td', { text: fmtTime(r.finished) }),
      h('td', { class: 'num', text: fmtDuration(r.duration) }),
      h('td', { class: 'num', text: r.exit_code ?? (r.signal ? 'signal ' + r.signal : '—') })));
    replace(document.getElementById('history-body'), rows.length
      ? h('table', {}, h('thead', {}, h('tr', {}, ['Run', 'Script', 'Outcome', 'Finished', 'Duration', 'Exit']
        .map((t) => h('th', { scope: 'col', text: t })))), h('tbody', {}, rows))
      : h('p', { text: 'No finished runs match.' }));
    document.getElementById('hist-older').disabled = !History.next;
    document.getElementById('hist-newest').disabled = History.cursor === null;
    replace(document.getElementById('charts'), Charts.durations(chartRuns), Charts.perDay(chartRuns), Charts.legend());
  },

  wire() {
    document.getElementById('history-form').addEventListener('submit', (event) => {
      event.preventDefault();
      History.cursors = [];
      History.cursor = null;
      History.load().catch(failed);
    });
    document.getElementById('hist-older').addEventListener('click', () => {
      if (!History.next) return;
      History.cursors.push(History.cursor);
      History.cursor = History.next;
      History.load().catch(failed);
    });
    document.getElementById('hist-newest').addEventListener('click', () => {
      History.cursors = [];
      History.cursor = null;
      History.load().catch(failed);
    });
  },
};
