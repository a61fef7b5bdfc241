/**
 * The live status page served at `/` of the metrics listener: one self-contained HTML document (no
 * external script, style, font or image; the Content-Security-Policy forbids any) that reads
 * `/status.json` every two seconds and draws the apps, the flows between apps and destinations as a
 * graph with their rates, the queues, the lanes, the dead letters with their reasons and the pending
 * consent requests. Read-only. Every text from the database goes in with `textContent`: app names, JIDs
 * and dead-letter reasons come from remote parties too.
 */

const STYLE = `
:root { color-scheme: light dark; --fg: #1d2733; --muted: #5b6875; --bg: #f6f8fa; --card: #fff; --line: #d0d7de;
  --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --accent: #0969da; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --muted: #9da7b3; --bg: #0d1117; --card: #161b22; --line: #30363d;
  --ok: #3fb950; --warn: #d29922; --bad: #f85149; --accent: #58a6ff; } }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; flex-wrap: wrap; gap: 8px 24px; align-items: baseline; padding: 14px 20px; border-bottom: 1px solid var(--line); background: var(--card); }
header h1 { font-size: 18px; margin: 0; }
main { padding: 16px 20px; display: grid; gap: 16px; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 12px 14px; overflow-x: auto; }
h2 { font-size: 15px; margin: 0 0 8px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.muted { color: var(--muted); }
.ok { color: var(--ok); } .warn { color: var(--warn); } .bad { color: var(--bad); }
.pill { display: inline-block; padding: 0 8px; border-radius: 10px; border: 1px solid currentColor; font-size: 12px; }
svg text { fill: var(--fg); font-size: 12px; }
svg .node rect { fill: var(--card); stroke: var(--line); stroke-width: 1.5; }
svg .node.local rect { stroke: var(--accent); }
svg .sub { fill: var(--muted); font-size: 11px; }
svg .edge path { fill: none; stroke: var(--muted); stroke-width: 1.5; }
svg .edge.active path { stroke: var(--accent); stroke-width: 2.5; }
svg .edge.held path { stroke: var(--bad); stroke-dasharray: 5 4; }
svg .edge text { font-size: 11px; }
#stale { display: none; }
`;

const SCRIPT = `
'use strict';
var previous = null;

function el(tag, attrs, children) {
  var e = document.createElement(tag);
  for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
  (children || []).forEach(function (c) { e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
  return e;
}
function svg(tag, attrs, children) {
  var e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
  (children || []).forEach(function (c) { e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
  return e;
}
function text(id, value) { document.getElementById(id).textContent = value; }
function num(n) { return Number(n).toLocaleString('en'); }
function rate(n) { return n >= 10 ? Math.round(n).toLocaleString('en') : n.toFixed(n >= 1 ? 1 : 2); }
function ago(isoTime) {
  if (!isoTime) return '';
  var s = Math.max(0, Math.round((Date.now() - Date.parse(isoTime)) / 1000));
  if (s < 60) return s + ' s ago';
  if (s < 3600) return Math.round(s / 60) + ' min ago';
  if (s < 86400) return Math.round(s / 3600) + ' h ago';
  return Math.round(s / 86400) + ' d ago';
}
function short(jid, domain) { return jid.slice(-domain.length - 1) === '@' + domain ? jid.slice(0, -domain.length - 1) : jid; }
function table(id, head, rows, empty) {
  var t = document.getElementById(id);
  t.replaceChildren();
  if (rows.length === 0) { t.appendChild(el('tr', {}, [el('td', { class: 'muted' }, [empty])])); return; }
  t.appendChild(el('tr', {}, head.map(function (h) { return el('th', {}, [h]); })));
  rows.forEach(function (r) {
    t.appendChild(el('tr', {}, r.map(function (c) {
      if (c && typeof c === 'object' && !(c instanceof Node)) return el('td', { class: c.cls || '' }, [c.node || String(c.v)]);
      return el('td', {}, [c instanceof Node ? c : String(c)]);
    })));
  });
}
function flowKey(f) { return f.from + ' > ' + f.to; }

/** Records and messages per second on each flow, from two successive readings. */
function rates(s) {
  var out = {};
  var now = Date.now();
  s.flows.forEach(function (f) {
    var p = previous && previous.flows[flowKey(f)];
    var dt = p ? (now - previous.at) / 1000 : 0;
    out[flowKey(f)] = dt > 0 ? { messages: Math.max(0, f.messages - p.messages) / dt, records: Math.max(0, f.records - p.records) / dt } : { messages: 0, records: 0 };
  });
  var keep = {};
  s.flows.forEach(function (f) { keep[flowKey(f)] = { messages: f.messages, records: f.records }; });
  previous = { at: now, flows: keep };
  return out;
}

/** Sources on the left, our apps in the middle, destinations on the right; one curve per flow. */
function drawGraph(s, r) {
  var domain = s.domain;
  var local = {}; s.apps.forEach(function (a) { local[a.jid] = a; });
  var left = [], right = [], seen = {};
  s.flows.forEach(function (f) {
    if (!local[f.from] && !seen[f.from]) { seen[f.from] = 1; left.push(f.from); }
    if (!local[f.to] && !seen[f.to]) { seen[f.to] = 1; right.push(f.to); }
  });
  var middle = s.apps.map(function (a) { return a.jid; });
  var W = 980, NW = 220, NH = 44, GAP = 18;
  // The columns that have nodes, spread evenly: the space between them carries the flows' labels.
  var cols = [left, middle, right].filter(function (c) { return c.length > 0; });
  var space = (W - cols.length * NW) / (cols.length + 1);
  var pos = {}, H = 60;
  cols.forEach(function (c, k) {
    var x = space + k * (NW + space);
    c.forEach(function (jid, i) { pos[jid] = { x: x, y: 30 + i * (NH + GAP) }; });
    H = Math.max(H, 40 + c.length * (NH + GAP));
  });
  var g = document.getElementById('graph');
  g.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
  g.setAttribute('height', String(H));
  g.replaceChildren();
  s.flows.forEach(function (f) {
    var a = pos[f.from], b = pos[f.to];
    if (!a || !b) return;
    var x1 = a.x + NW, y1 = a.y + NH / 2, x2 = b.x, y2 = b.y + NH / 2;
    if (a.x >= b.x) { x1 = a.x + NW / 2; x2 = b.x + NW / 2; y1 = a.y + NH; y2 = b.y; }
    var mx = (x1 + x2) / 2;
    var fr = r[flowKey(f)];
    var cls = 'edge' + (fr.messages > 0 ? ' active' : '') + (f.lane && f.lane.heldUntil ? ' held' : '');
    var my = (y1 + y2) / 2;
    var second = num(f.records) + ' records' + (f.queued ? ' · ' + num(f.queued) + ' queued' : '') + (f.lane && f.lane.heldUntil ? ' · held' : '');
    g.appendChild(svg('g', { class: cls, 'data-flow': flowKey(f) }, [
      svg('path', { d: 'M' + x1 + ',' + y1 + ' C' + mx + ',' + y1 + ' ' + mx + ',' + y2 + ' ' + x2 + ',' + y2, 'marker-end': 'url(#arrow)' }),
      svg('text', { x: String(mx), y: String(my - 16), 'text-anchor': 'middle' }, [rate(fr.records) + ' records/s']),
      svg('text', { x: String(mx), y: String(my - 3), 'text-anchor': 'middle', class: 'sub' }, [second]),
    ]));
  });
  var defs = svg('defs', {}, [svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: '10', refY: '5', markerWidth: '7', markerHeight: '7', orient: 'auto-start-reverse' },
    [svg('path', { d: 'M0,0 L10,5 L0,10 z', fill: 'currentColor' })])]);
  g.insertBefore(defs, g.firstChild);
  Object.keys(pos).forEach(function (jid) {
    var p = pos[jid], app = local[jid];
    var sub = app ? app.kind + ' · ' + app.state : 'remote';
    g.appendChild(svg('g', { class: 'node' + (app ? ' local' : ''), 'data-jid': jid }, [
      svg('rect', { x: String(p.x), y: String(p.y), width: String(NW), height: String(NH), rx: '6' }),
      svg('text', { x: String(p.x + 10), y: String(p.y + 18) }, [short(jid, domain)]),
      svg('text', { x: String(p.x + 10), y: String(p.y + 35), class: 'sub' }, [sub]),
    ]));
  });
}

function render(s) {
  var r = rates(s);
  text('domain', s.domain);
  var state = document.getElementById('state');
  state.textContent = s.running ? 'running' : 'not running';
  state.className = 'pill ' + (s.running ? 'ok' : 'bad');
  var link = document.getElementById('link');
  link.textContent = 'link ' + s.link + (s.server ? ' to ' + s.server : '') + (s.serverKind && s.serverKind !== 'unknown' ? ' (' + s.serverKind + ')' : '');
  link.className = 'pill ' + (s.link === 'online' ? 'ok' : 'bad');
  text('uptime', s.uptimeSeconds === null ? '' : 'up ' + Math.floor(s.uptimeSeconds / 60) + ' min');
  text('lasterror', s.lastLinkError ? 'last link error: ' + s.lastLinkError.reason + ' (' + s.lastLinkError.server + ', ' + ago(s.lastLinkError.at) + ')' : '');
  text('purgeheld', s.purgeHeld ? 'retention purge held: the clock is ' + s.purgeHeld.hoursSince + ' h past the last purge; if the time is right, run fedgate retention purge' : '');
  text('totals', num(s.totals.outbox) + ' in the outbox · ' + num(s.totals.inboxPending) + ' pending in the inbox · ' + num(s.totals.deadLetters) + ' dead letters');
  drawGraph(s, r);
  table('apps', ['app', 'kind', 'state', 'outbox', 'inbox pending', 'dead letters'], s.apps.map(function (a) {
    return [a.name, a.kind, { v: a.state + (a.startError ? ' (failed to start: ' + a.startError + ')' : ''), cls: a.state === 'ready' ? 'ok' : 'warn' }, { v: num(a.outbox), cls: 'n' }, { v: num(a.inboxPending), cls: 'n' },
      { v: num(a.deadLetters), cls: 'n' + (a.deadLetters ? ' bad' : '') }];
  }), 'no applications');
  table('flows', ['from', 'to', 'kind', 'records/s', 'messages/s', 'queued', 'carried', 'lane'], s.flows.map(function (f) {
    var fr = r[flowKey(f)];
    var lane = f.lane ? f.lane.mode + (f.lane.heldUntil ? ', held (' + (f.lane.lastError || 'retrying') + ')' : '') : '';
    return [short(f.from, s.domain), short(f.to, s.domain), f.kind, { v: rate(fr.records), cls: 'n' }, { v: rate(fr.messages), cls: 'n' }, { v: num(f.queued), cls: 'n' },
      { v: num(f.records) + ' records' + (f.lastAt ? ', last ' + ago(f.lastAt) : ''), cls: 'muted' }, { v: lane, cls: f.lane && f.lane.heldUntil ? 'bad' : 'muted' }];
  }), 'no flows');
  table('dead', ['id', 'direction', 'app', 'peer', 'records', 'reason', 'died'], s.deadLetters.map(function (d) {
    return [String(d.id), d.direction, short(d.app, s.domain), d.peer, { v: num(d.records), cls: 'n' }, { v: d.reason, cls: 'bad' }, ago(d.diedAt)];
  }), 'no dead letters');
  var consent = s.consent;
  text('consentcount', consent ? '(' + consent.count + ')' : '');
  table('consent', ['app', 'requester', 'purpose', 'requested'], consent ? consent.requests.map(function (c) {
    return [c.app, c.requester, c.purpose, ago(c.requestedAt)];
  }) : [], consent ? 'no pending requests' : 'this gateway keeps no consent requests');
  text('updated', 'updated ' + new Date().toLocaleTimeString());
  document.getElementById('stale').style.display = 'none';
  document.body.setAttribute('data-ready', 'true');
}

function refresh() {
  fetch('status.json', { cache: 'no-store' })
    .then(function (res) { if (!res.ok) throw new Error(res.status); return res.json(); })
    .then(render)
    .catch(function () { document.getElementById('stale').style.display = 'inline'; })
    .finally(function () { setTimeout(refresh, 2000); });
}
refresh();
`;

/** The page; `nonce` must match the Content-Security-Policy header sent with it. */
export function statusPageHtml(nonce: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fedgate status</title>
<style nonce="${nonce}">${STYLE}</style>
</head>
<body>
<header>
  <h1>fedgate · <span id="domain"></span></h1>
  <span id="state" class="pill"></span>
  <span id="link" class="pill"></span>
  <span id="uptime" class="muted"></span>
  <span id="lasterror" class="warn"></span>
  <span id="purgeheld" class="warn"></span>
  <span id="stale" class="bad">no answer from the gateway; retrying</span>
  <span id="updated" class="muted"></span>
</header>
<main>
  <section><h2>Flows</h2><div id="totals" class="muted"></div><svg id="graph" width="100%" role="img" aria-label="flows between applications and destinations"></svg></section>
  <section><h2>Applications</h2><table id="apps"></table></section>
  <section><h2>Flows and lanes</h2><table id="flows"></table></section>
  <section><h2>Dead letters</h2><table id="dead"></table></section>
  <section><h2>Pending consent requests <span id="consentcount" class="muted"></span></h2><table id="consent"></table></section>
</main>
<script nonce="${nonce}">${SCRIPT}</script>
</body>
</html>
`;
}

/** Headers of the page: nothing but itself may load, nothing may frame it. */
export function statusPageHeaders(nonce: string): Record<string, string> {
  return {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
  };
}
