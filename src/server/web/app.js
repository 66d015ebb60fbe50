// The packers' page: reads the /v1 API and its event stream, and acts through the same API.
// Everything is drawn as DOM nodes and text, never parsed as HTML: order ids come from outside.
// Only order ids and tracking numbers are shown; buyer data appears only inside a label preview.
'use strict';

const TOKEN_KEY = 'labeld_token';
const ACTIVE = ['queued', 'rendering', 'ready', 'sending', 'sent'];
const ATTENTION = ['held', 'in_doubt', 'failed'];
const CANCELLABLE = ['queued', 'rendering', 'ready', 'held', 'failed', 'in_doubt'];
const REPRINTABLE = ['sent', 'done', 'in_doubt', 'failed', 'cancelled'];

const DOC_WORDS = {
  queued: 'Waiting', rendering: 'Preparing', ready: 'Ready', sending: 'Printing', sent: 'Sent',
  done: 'Printed', held: 'Held', failed: 'Failed', cancelled: 'Cancelled', in_doubt: 'In doubt',
};
const PRINTER_WORDS = {
  ready: 'Ready', printing: 'Printing', paper_out: 'Paper out', head_open: 'Head open', paused: 'Paused',
  offline: 'Offline', error: 'Printer error', silent: 'Not answering', unknown: 'No status answer',
  no_status: 'Sends blind', starting: 'Starting',
};
const RULE_WORDS = {
  hyperlink: 'Web link', qr_code: 'QR code', off_platform_contact: 'Outside contact',
  unrelated_content: 'Marketing text', unknown_warehouse: 'Unknown warehouse', tracking_number: 'Bad tracking number',
  duplicate_tracking_number: 'Tracking number used twice', missing_glyph: 'Character cannot print',
  overflow: 'Text does not fit', barcode: 'Barcode', link_too_slow: 'Link too slow',
  document_tracking_mismatch: 'Wrong label for this parcel', document_barcode_unreadable: 'Barcode does not scan',
  document_does_not_fit: 'Page too large for the label',
};

const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- API ----

function headers(extra) {
  const h = Object.assign({}, extra || {});
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) h.Authorization = 'Bearer ' + token;
  return h;
}

class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || 'HTTP ' + status);
    this.status = status;
    this.code = e.code;
    this.field = e.field;
    this.detail = e.detail;
  }
}

async function api(method, path, body) {
  const init = { method, headers: headers(body === undefined ? {} : { 'Content-Type': 'application/json' }), cache: 'no-store' };
  if (body !== undefined) init.body = JSON.stringify(body);
  const resp = await fetch(path, init);
  if (resp.status === 401) askForToken();
  const type = resp.headers.get('content-type') || '';
  if (!resp.ok) throw new ApiError(resp.status, type.includes('json') ? await resp.json().catch(() => null) : null);
  return type.includes('json') ? resp.json() : resp.blob();
}

// ---- messages ----

let errorTimer;
function showError(text) {
  const el = $('error');
  el.textContent = text;
  el.hidden = false;
  clearTimeout(errorTimer);
  errorTimer = setTimeout(() => { el.hidden = true; }, 8000);
}

function explain(err) {
  if (err instanceof ApiError) return err.field ? `${err.message} (${err.field})` : err.message;
  return 'The daemon cannot be reached: ' + err.message;
}

function askForToken() {
  $('token-form').hidden = false;
  $('token').focus();
}

// ---- drawing helpers ----

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'onclick') node.addEventListener('click', v);
    else if (k.startsWith('data-') || k === 'type' || k === 'title' || k.startsWith('aria-')) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) node.append(c);
  return node;
}

function badge(kind, state, words) {
  return el('span', { class: `badge ${kind}-${state}`, 'data-state': state }, words[state] || state);
}

// A destructive button asks for a second tap instead of a pop-up.
function confirmButton(label, confirmLabel, action) {
  let armed = false;
  let timer;
  const b = el('button', { type: 'button', class: 'danger' }, label);
  b.addEventListener('click', async () => {
    if (!armed) {
      armed = true;
      b.textContent = confirmLabel;
      b.classList.add('armed');
      timer = setTimeout(() => { armed = false; b.textContent = label; b.classList.remove('armed'); }, 4000);
      return;
    }
    clearTimeout(timer);
    b.disabled = true;
    try { await action(); } finally { b.disabled = false; }
  });
  return b;
}

function busy(button, action) {
  return async () => {
    button.disabled = true;
    try { await action(); } catch (e) { showError(explain(e)); } finally { button.disabled = false; }
  };
}

// ---- printers ----

const printers = new Map(); // name -> view
let queueByPrinter = new Map();

function drawPrinters() {
  const list = $('printers');
  list.replaceChildren();
  for (const p of printers.values()) {
    const queued = queueByPrinter.get(p.name) || 0;
    const pause = el('button', { type: 'button', class: p.held_by_operator ? 'primary' : '' }, p.held_by_operator ? 'Resume' : 'Pause');
    pause.addEventListener('click', busy(pause, async () => {
      const view = await api('POST', `/v1/printers/${encodeURIComponent(p.name)}/${p.held_by_operator ? 'resume' : 'pause'}`);
      // Only the operator flag: the printer's own state may already have moved on (its event can
      // arrive before this answer), and events keep it current.
      const known = printers.get(view.name);
      if (known) known.held_by_operator = view.held_by_operator; else printers.set(view.name, view);
      drawPrinters();
    }));
    const test = el('button', { type: 'button' }, 'Test print');
    test.addEventListener('click', busy(test, async () => {
      await api('POST', `/v1/printers/${encodeURIComponent(p.name)}/test-print`);
      scheduleRefresh();
    }));
    const state = p.held_by_operator ? 'paused' : p.state;
    list.append(el('li', { class: `card printer state-${state}`, 'data-printer': p.name, 'data-state': state },
      el('div', { class: 'card-head' },
        el('h3', {}, p.name),
        badge('printer', state, PRINTER_WORDS)),
      el('p', { class: 'meta' }, `${p.driver} · ${String(p.language).toUpperCase()} · ${p.dpi} dpi · ${p.role}`),
      p.held_by_operator ? el('p', { class: 'paused-note' }, 'Paused by an operator: nothing prints until Resume.') : null,
      p.status_channel === false ? el('p', { class: 'blind-note' }, 'No status channel: labels are sent without checking paper or head.') : null,
      p.detail && !p.held_by_operator ? el('p', { class: 'detail' }, p.detail) : null,
      el('p', { class: 'queue-length' }, el('b', { 'data-queue': p.name }, String(queued)), ' in queue'),
      el('div', { class: 'actions' }, pause, test)));
  }
}

// ---- documents ----

function docTitle(d) {
  if (d.kind === 'test_page') return 'Test page';
  if (d.kind === 'picklist') return 'Pick list';
  return d.order_id || `Document ${d.id}`;
}

function reasons(d) {
  const out = [];
  if (d.state === 'held' && d.report && d.report.hold) {
    const h = d.report.hold;
    out.push(el('li', { class: 'reason' }, el('b', {}, RULE_WORDS[h.reason] || h.reason), ' — ', h.message));
  } else if (d.state === 'held' && d.report && Array.isArray(d.report.refusals)) {
    // Rule, field and the rule's sentence; never the refused text itself (it can be buyer data).
    for (const r of d.report.refusals) {
      out.push(el('li', { class: 'reason' },
        el('b', {}, RULE_WORDS[r.rule] || r.rule), ' ', el('code', {}, r.path), ' — ', r.message));
    }
  } else if (d.error && (d.state === 'failed' || d.state === 'in_doubt' || d.state === 'ready')) {
    out.push(el('li', { class: 'reason' }, d.error));
  }
  return out.length ? el('ul', { class: 'reasons' }, ...out) : null;
}

function docRow(d) {
  if (d.scan === 'awaiting' && d.state === 'ready') d = Object.assign({}, d, { state_words: 'Waits for scan' });
  const actions = el('div', { class: 'actions' });
  if (d.kind !== 'picklist' && !d.purged) {
    const b = el('button', { type: 'button' }, 'Preview');
    b.addEventListener('click', () => openPreview(d));
    actions.append(b);
  }
  if (d.state === 'in_doubt' && !d.purged) {
    // A person at the printer says what happened; "did not come out" prints it again, once.
    const came = el('button', { type: 'button', class: 'primary', 'data-resolve': 'printed' }, 'Came out');
    came.addEventListener('click', () => openResolve(d, 'printed'));
    const not = el('button', { type: 'button', 'data-resolve': 'not_printed' }, 'Did not come out');
    not.addEventListener('click', () => openResolve(d, 'not_printed'));
    actions.append(came, not);
  } else if (REPRINTABLE.includes(d.state) && !d.purged) {
    const b = el('button', { type: 'button' }, 'Reprint');
    b.addEventListener('click', () => openReprint(d));
    actions.append(b);
  }
  if (CANCELLABLE.includes(d.state)) {
    actions.append(confirmButton('Cancel', 'Tap again to cancel', async () => {
      try {
        await api('POST', `/v1/documents/${d.id}/cancel`);
      } catch (e) { showError(explain(e)); }
      scheduleRefresh();
    }));
  }
  return el('li', { class: `doc state-${d.state}`, 'data-id': d.id, 'data-state': d.state, 'data-kind': d.kind },
    el('div', { class: 'doc-head' },
      el('span', { class: 'order' }, docTitle(d)),
      d.late ? el('span', { class: 'badge late', title: 'Printed after its ship-by time' }, 'Late') : null,
      d.state_words ? el('span', { class: 'badge doc-awaiting', 'data-state': 'awaiting_scan' }, d.state_words) : badge('doc', d.state, DOC_WORDS)),
    el('p', { class: 'meta' },
      d.kind === 'document' ? el('span', { class: 'doc-kind' }, 'Marketplace label') : null,
      d.tracking_number ? el('span', { class: 'tracking' }, d.tracking_number) : null,
      el('span', {}, `${d.printer} · #${d.id}`),
      d.reprint_of ? el('span', { class: 'reprint-of' }, `reprint of #${d.reprint_of}: ${d.reprint_reason || ''}`) : null),
    reasons(d),
    actions);
}

// ---- the "due" strip: counts of orders by clock; a click lists order ids and tracking numbers ----

const DUE_WINDOWS = ['overdue', 'soon', 'today', 'not_handed_over'];
let due = null;
let dueOpen = null;

function drawDue() {
  if (!due) return;
  for (const w of DUE_WINDOWS) {
    $('due-' + w).textContent = String(due[w].orders);
    const box = document.querySelector(`.due-box[data-window="${w}"]`);
    box.classList.toggle('zero', due[w].orders === 0);
    box.setAttribute('aria-expanded', dueOpen === w ? 'true' : 'false');
  }
  const list = $('due-list');
  if (!dueOpen) { list.hidden = true; list.replaceChildren(); return; }
  const parcels = due[dueOpen].parcels;
  list.replaceChildren(...parcels.map((p) => el('li', { 'data-order': p.order_id || '' },
    el('span', { class: 'order' }, p.order_id || `Document ${p.document}`),
    el('span', { class: 'tracking' }, p.tracking_number || ''))));
  if (!parcels.length) list.append(el('li', { class: 'empty' }, 'None.'));
  list.dataset.window = dueOpen;
  list.hidden = false;
}

function drawList(id, docs, emptyId) {
  $(id).replaceChildren(...docs.map(docRow));
  if (emptyId) $(emptyId).hidden = docs.length > 0;
}

// ---- refresh ----

let refreshTimer = null;
let refreshing = false;
let again = false;

function scheduleRefresh(delay) {
  if (refreshTimer) return;
  refreshTimer = setTimeout(() => { refreshTimer = null; refresh(); }, delay === undefined ? 150 : delay);
}

async function refresh() {
  if (refreshing) { again = true; return; }
  refreshing = true;
  try {
    const [p, active, attention, recent, health, clocks] = await Promise.all([
      api('GET', '/v1/printers'),
      api('GET', `/v1/jobs?state=${ACTIVE.join(',')}&limit=500`),
      api('GET', `/v1/jobs?state=${ATTENTION.join(',')}&limit=200`),
      api('GET', '/v1/jobs?state=done,cancelled&limit=15'),
      api('GET', '/healthz'),
      api('GET', '/v1/due'),
    ]);
    due = clocks;
    drawDue();
    printers.clear();
    for (const v of p.printers) printers.set(v.name, v);
    queueByPrinter = new Map();
    for (const d of active.documents) queueByPrinter.set(d.printer, (queueByPrinter.get(d.printer) || 0) + 1);
    drawPrinters();
    drawBenchPrinters();
    const waiting = active.documents.filter((d) => d.scan === 'awaiting').length;
    $('bench-waiting').textContent = waiting ? String(waiting) : '';
    // Most urgent first, as printers take them (a batch keeps its walking order on the printer).
    const urgency = (d) => (d.ship_by ? Date.parse(d.ship_by) : Infinity);
    const queue = active.documents.slice().sort((a, b) => (urgency(a) - urgency(b)) || (a.id - b.id));
    drawList('queue', queue, 'queue-empty');
    $('queue-count').textContent = queue.length ? String(queue.length) : '';
    drawList('attention', attention.documents, 'attention-empty');
    $('attention-count').textContent = attention.documents.length ? String(attention.documents.length) : '';
    drawList('recent', recent.documents);
    showFeed(health.feed);
    $('token-form').hidden = true;
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) showError(explain(e));
  } finally {
    refreshing = false;
    if (again) { again = false; scheduleRefresh(); }
  }
}

function showFeed(feed) {
  // Only when the daemon has a feed (/healthz `feed` other than disabled, or a feed event).
  const row = $('feed');
  if (!feed || !feed.state || feed.state === 'disabled') { row.hidden = true; return; }
  row.hidden = false;
  row.dataset.state = feed.state;
  $('feed-state').textContent = feed.state;
}

// ---- live events (server-sent events over fetch, so the token header can be sent) ----

function setLive(on, text) {
  const l = $('live');
  l.classList.toggle('off', !on);
  l.textContent = text || (on ? 'live' : 'reconnecting…');
  document.body.dataset.live = on ? 'yes' : 'no';
}

function onEvent(type, data) {
  if (type === 'printer') {
    const p = printers.get(data.printer);
    if (p) {
      p.state = data.state;
      p.detail = data.detail || null;
      drawPrinters();
    }
  } else if (type === 'feed') {
    showFeed(data);
  }
  // Job changes (and anything missed) are read back from the API: one source of truth.
  if (type === 'job' || type === 'lagged') scheduleRefresh();
}

function dispatch(block) {
  let type = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) type = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
  }
  if (!data.length) return;
  let parsed = data.join('\n');
  try { parsed = JSON.parse(parsed); } catch (_) { /* lagged carries a number */ }
  onEvent(type, parsed);
}

async function streamEvents() {
  let wait = 500;
  for (;;) {
    try {
      const resp = await fetch('/v1/events', { headers: headers({ Accept: 'text/event-stream' }), cache: 'no-store' });
      if (resp.status === 401) {
        askForToken();
        setLive(false, 'token needed');
        await tokenSaved();
        continue;
      }
      if (!resp.ok || !resp.body) throw new Error('HTTP ' + resp.status);
      setLive(true);
      wait = 500;
      refresh(); // catch up with what happened while disconnected
      const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value.replace(/\r\n?/g, '\n');
        let cut;
        while ((cut = buf.indexOf('\n\n')) >= 0) {
          dispatch(buf.slice(0, cut));
          buf = buf.slice(cut + 2);
        }
      }
    } catch (_) { /* the daemon restarted or the network dropped: try again */ }
    setLive(false);
    await sleep(wait);
    wait = Math.min(wait * 2, 10000);
  }
}

let tokenWaiters = [];
function tokenSaved() { return new Promise((r) => tokenWaiters.push(r)); }

// ---- carrier handover manifest ----

const HANDOVER_WORDS = { pickup: 'PICK UP', dropoff: 'DROP OFF' };

// A datetime-local value (the browser's own time zone) for a moment.
function localInput(date) {
  const p = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${p(date.getMonth() + 1)}-${p(date.getDate())}T${p(date.getHours())}:${p(date.getMinutes())}`;
}

async function fetchOk(path) {
  const resp = await fetch(path, { headers: headers(), cache: 'no-store' });
  if (resp.status === 401) askForToken();
  if (!resp.ok) throw new ApiError(resp.status, await resp.json().catch(() => null));
  return resp;
}

// A keyboard-wedge scanner types into whatever has the focus, so while a scan panel is open its
// field keeps it: a tap on the panel's text does not move the focus, a key typed elsewhere goes to
// the field, and a blur puts it back. Only the controls named in `allowed` (and a dialog's head, or
// another dialog opened over the panel) may take it.
function keepScanFocus(panel, input, active, allowed) {
  const on = () => active() && !panel.hidden;
  // Another dialog over the panel (a reprint's reason) has the keyboard until it closes.
  const covered = () => [...document.querySelectorAll('dialog[open]')].some((d) => !d.contains(panel));
  panel.addEventListener('mousedown', (ev) => {
    if (!ev.target.closest('input, button, a, select')) ev.preventDefault();
  });
  document.addEventListener('keydown', () => {
    const at = document.activeElement;
    if (on() && !covered() && at !== input && !allowed.includes(at && at.id)) input.focus();
  }, true);
  input.addEventListener('blur', (ev) => {
    const to = ev.relatedTarget;
    if (!on() || (to && (allowed.includes(to.id) || to.closest('.sheet-head')))) return;
    setTimeout(() => { if (on() && !covered()) input.focus(); }, 0);
  });
}

// ---- scan to print at the packing bench ----

let bench = null; // { printer } while the bench scans
const BENCH_FLAG = {
  printing: 'ok', checking: 'twice', already_scanned: 'twice', already_printed: 'twice',
  not_printable: 'unknown', not_waiting: 'unknown', unknown: 'unknown',
};
let benchAgain = null; // the document "Reprint with a reason" copies, after "already printed"

function drawBenchPrinters() {
  const select = $('bench-printer');
  const chosen = select.value;
  const names = [...printers.values()].filter((p) => p.role === 'label').map((p) => p.name);
  if (names.join('\n') === [...select.options].map((o) => o.value).join('\n')) return;
  select.replaceChildren(...names.map((n) => el('option', { value: n }, n)));
  if (names.includes(chosen)) select.value = chosen;
}

function startBench() {
  bench = { printer: $('bench-printer').value };
  $('bench-log').replaceChildren();
  $('bench-again').hidden = true;
  $('bench-status').textContent = `Ready: scan an order. Labels print on ${bench.printer}.`;
  $('bench-panel').dataset.last = '';
  $('bench-panel').hidden = false;
  $('bench-start').disabled = true;
  $('bench-input').focus();
}

function stopBench() {
  bench = null;
  $('bench-panel').hidden = true;
  $('bench-start').disabled = false;
}

async function onBenchScan(text) {
  const code = text.trim();
  if (!code || !bench) return;
  const panel = $('bench-panel');
  let answer;
  try {
    answer = await api('POST', '/v1/scans', { code, printer: bench.printer });
  } catch (e) {
    answer = { code, result: 'unknown', message: explain(e), documents: [] };
  }
  const flag = BENCH_FLAG[answer.result] || 'unknown';
  panel.dataset.last = flag;
  panel.dataset.result = answer.result;
  $('bench-status').textContent = answer.message;
  // "Already printed": a new label only through the logged reprint, with a reason.
  benchAgain = answer.result === 'already_printed' && answer.documents.length ? answer.documents[0] : null;
  $('bench-again').hidden = !benchAgain;
  $('bench-log').prepend(el('li', { 'data-flag': flag, 'data-result': answer.result },
    el('span', { class: 'order' }, answer.order_id || code),
    el('span', { class: 'tracking' }, answer.documents.map((d) => d.tracking_number).filter(Boolean).join(', ')),
    el('span', {}, answer.result.replace(/_/g, ' '))));
  beep(flag === 'ok');
  scheduleRefresh();
}

// What the open manifest was asked with: closing the handover asks the daemon with the same.
let manifestAsk = null;

// ---- handover scan: a keyboard-wedge scanner types the tracking number and Enter ----

let scan = null; // { parcels: Map tracking -> parcel, ticked: Set, scanned: [] }
let audio = null;

// A short high tone for a parcel ticked off, a long low one for a problem.
function beep(ok) {
  try {
    audio = audio || new AudioContext();
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = ok ? 'sine' : 'square';
    osc.frequency.value = ok ? 1320 : 220;
    gain.gain.value = 0.25;
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + (ok ? 0.08 : 0.45));
  } catch (e) { /* no sound device: the colour still says it */ }
}

function drawScan() {
  const rows = (list) => list.map((p) => el('li', { 'data-tracking': p.tracking_number },
    el('span', { class: 'tracking' }, p.tracking_number), el('span', { class: 'order' }, p.order_id)));
  const all = [...scan.parcels.values()];
  $('scan-missing').replaceChildren(...rows(all.filter((p) => !scan.ticked.has(p.tracking_number))));
  $('scan-ticked').replaceChildren(...rows(all.filter((p) => scan.ticked.has(p.tracking_number))));
  $('scan-done').textContent = String(scan.ticked.size);
  $('scan-total').textContent = String(scan.parcels.size);
}

function onScan(text) {
  const code = text.trim();
  if (!code || !scan) return;
  scan.scanned.push(code);
  const panel = $('scan-panel');
  const parcel = scan.parcels.get(code);
  let last;
  if (parcel && !scan.ticked.has(code)) {
    scan.ticked.add(code);
    last = 'ok';
    $('scan-status').textContent = `✓ ${code} · order ${parcel.order_id}`;
  } else {
    last = parcel ? 'twice' : 'unknown';
    const words = parcel ? 'scanned twice' : 'not on this manifest';
    $('scan-status').textContent = `✗ ${code}: ${words}`;
    $('scan-flags').prepend(el('li', { 'data-flag': last }, el('span', { class: 'tracking' }, code), words));
  }
  panel.dataset.last = last;
  beep(last === 'ok');
  drawScan();
}

async function startScan() {
  const data = await api('GET', `/v1/manifests?${manifestAsk.query}&format=json`);
  const parcels = new Map();
  for (const section of data.sections) for (const p of section.parcels) parcels.set(p.tracking_number, p);
  scan = { parcels, ticked: new Set(), scanned: [] };
  $('scan-flags').replaceChildren();
  $('scan-result').hidden = true;
  $('scan-status').textContent = 'Ready: scan the first parcel.';
  $('scan-panel').dataset.last = '';
  $('scan-panel').hidden = false;
  $('manifest-pages').hidden = true;
  drawScan();
  $('scan-input').focus();
}

async function closeHandover() {
  const by = $('scan-by').value.trim();
  if (!by) { $('scan-by').focus(); return; }
  const body = Object.assign({}, manifestAsk.params, { scanned: scan.scanned, by });
  const done = await api('POST', '/v1/handovers', body);
  const missing = done.missing.map((m) => `  ${m.tracking_number} (order ${m.order_id})`);
  const result = $('scan-result');
  result.textContent = `Recorded: ${done.handed_over.length} handed over, ${done.missing.length} missing, by ${done.by}`
    + (missing.length ? '\nMissing, still here:\n' + missing.join('\n') : '');
  result.dataset.closed = 'yes';
  result.dataset.handedOver = String(done.handed_over.length);
  result.dataset.missing = String(done.missing.length);
  result.hidden = false;
  scan = null;
  scheduleRefresh(0);
}

let manifestUrls = [];
function dropManifest() {
  for (const u of manifestUrls) URL.revokeObjectURL(u);
  manifestUrls = [];
  $('manifest-pages').replaceChildren();
  $('manifest-pages').hidden = false;
  $('manifest-pdf').removeAttribute('href');
  $('scan-panel').hidden = true;
  scan = null;
}

async function openManifest() {
  const carrier = $('manifest-carrier').value.trim();
  const handover = $('manifest-handover').value;
  const sinceValue = $('manifest-since').value;
  if (!carrier) { $('manifest-carrier').focus(); return; }
  if (!sinceValue) { $('manifest-since').focus(); return; }
  const since = new Date(sinceValue);
  // Until now, written down: the scan and its closing look at the same parcels.
  const params = { carrier, handover, since: since.toISOString(), until: new Date().toISOString() };
  const query = new URLSearchParams(params);
  dropManifest();
  manifestAsk = { params, query: query.toString() };
  // The PDF is what gets printed and signed; the pages show the same layout on screen.
  const pdf = await fetchOk(`/v1/manifests?${query}&format=pdf`);
  const parcels = Number(pdf.headers.get('x-manifest-parcels') || 0);
  const pdfUrl = URL.createObjectURL(await pdf.blob());
  manifestUrls.push(pdfUrl);
  const link = $('manifest-pdf');
  link.href = pdfUrl;
  link.download = `manifest-${carrier.replace(/[^A-Za-z0-9]+/g, '-')}-${handover}-${sinceValue.slice(0, 10)}.pdf`;
  $('manifest-title').textContent = `${carrier} · ${HANDOVER_WORDS[handover]}`;
  $('manifest-summary').textContent = `${parcels} parcel${parcels === 1 ? '' : 's'} printed since ${since.toLocaleString()}`;
  $('manifest-summary').dataset.parcels = String(parcels);
  $('manifest-dialog').showModal();
  let pages = 1;
  for (let n = 1; n <= pages; n += 1) {
    const png = await fetchOk(`/v1/manifests?${query}&format=png&page=${n}`);
    pages = Number(png.headers.get('x-manifest-pages') || 1);
    const url = URL.createObjectURL(await png.blob());
    manifestUrls.push(url);
    $('manifest-pages').append(el('img', { src: url, alt: `Manifest page ${n} of ${pages}` }));
  }
}

// ---- dialogs ----

let previewUrl = null;
async function openPreview(d) {
  const dialog = $('preview-dialog');
  const img = $('preview-img');
  const problem = $('preview-problem');
  $('preview-title').textContent = `${docTitle(d)}${d.tracking_number ? ' · ' + d.tracking_number : ''}`;
  problem.hidden = true;
  img.hidden = true;
  if (previewUrl) { URL.revokeObjectURL(previewUrl); previewUrl = null; }
  dialog.showModal();
  try {
    const blob = await api('GET', `/v1/documents/${d.id}/preview.png`);
    previewUrl = URL.createObjectURL(blob);
    img.src = previewUrl;
    img.hidden = false;
  } catch (e) {
    const lines = e instanceof ApiError && e.detail && Array.isArray(e.detail.refusals)
      ? e.detail.refusals.map((r) => `${RULE_WORDS[r.rule] || r.rule} (${r.path}): ${r.message}`)
      : [explain(e)];
    problem.textContent = lines.join('\n');
    problem.hidden = false;
  }
}

let reprintDoc = null;
let reprintPrinter = null; // the bench's printer, for a reprint asked at the bench
function openReprint(d, printer) {
  reprintDoc = d;
  reprintPrinter = printer || null;
  $('reprint-title').textContent = `Reprint ${docTitle(d)}`;
  $('reprint-reason').value = '';
  $('reprint-dialog').showModal();
  $('reprint-reason').focus();
}

let resolving = null;
function openResolve(d, outcome) {
  resolving = { doc: d, outcome };
  $('resolve-title').textContent = `${docTitle(d)}: ${outcome === 'printed' ? 'came out' : 'did not come out'}`;
  $('resolve-question').textContent = outcome === 'printed'
    ? 'It is marked printed and not printed again.'
    : 'It is cancelled and printed again, once.';
  $('resolve-go').textContent = outcome === 'printed' ? 'It came out' : 'Print it again';
  $('resolve-reason').value = '';
  $('resolve-dialog').showModal();
  $('resolve-reason').focus();
}

function setup() {
  const startOfDay = new Date();
  startOfDay.setHours(0, 0, 0, 0);
  $('manifest-since').value = localInput(startOfDay);
  $('manifest-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const go = $('manifest-go');
    busy(go, openManifest)();
  });
  $('manifest-dialog').addEventListener('close', dropManifest);
  $('scan-start').addEventListener('click', busy($('scan-start'), startScan));
  $('scan-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    onScan($('scan-input').value);
    $('scan-input').value = '';
  });
  // The scan field keeps focus while scanning; only the name field and the close button may take it.
  keepScanFocus($('scan-panel'), $('scan-input'), () => scan !== null, ['scan-by', 'scan-close']);
  $('bench-start-form').addEventListener('submit', (ev) => { ev.preventDefault(); startBench(); });
  $('bench-stop').addEventListener('click', stopBench);
  $('bench-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const code = $('bench-input').value;
    $('bench-input').value = '';
    onBenchScan(code);
  });
  keepScanFocus($('bench-panel'), $('bench-input'), () => bench !== null, ['bench-printer', 'bench-stop', 'bench-reprint']);
  $('bench-reprint').addEventListener('click', () => { if (benchAgain) openReprint(benchAgain, bench && bench.printer); });
  $('scan-close-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    busy($('scan-close'), closeHandover)();
  });
  $('resolve-cancel').addEventListener('click', () => $('resolve-dialog').close());
  $('resolve-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const reason = $('resolve-reason').value.trim();
    if (!reason) { $('resolve-reason').focus(); return; }
    const go = $('resolve-go');
    go.disabled = true;
    try {
      await api('POST', `/v1/documents/${resolving.doc.id}/resolve`, { outcome: resolving.outcome, reason });
      $('resolve-dialog').close();
      scheduleRefresh(0);
    } catch (e) {
      showError(explain(e));
    } finally {
      go.disabled = false;
    }
  });
  $('preview-dialog').addEventListener('close', () => {
    $('preview-img').removeAttribute('src');
    if (previewUrl) { URL.revokeObjectURL(previewUrl); previewUrl = null; }
  });
  for (const b of document.querySelectorAll('#reprint-form [data-reason]')) {
    b.addEventListener('click', () => { $('reprint-reason').value = b.dataset.reason; $('reprint-go').focus(); });
  }
  $('reprint-cancel').addEventListener('click', () => $('reprint-dialog').close());
  $('reprint-dialog').addEventListener('close', () => { if (bench && !$('bench-panel').hidden) $('bench-input').focus(); });
  for (const b of document.querySelectorAll('.due-box')) {
    b.addEventListener('click', () => { dueOpen = dueOpen === b.dataset.window ? null : b.dataset.window; drawDue(); });
  }
  $('reprint-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const reason = $('reprint-reason').value.trim();
    if (!reason) { $('reprint-reason').focus(); return; }
    const go = $('reprint-go');
    go.disabled = true;
    try {
      const body = reprintPrinter ? { reason, printer: reprintPrinter } : { reason };
      await api('POST', `/v1/documents/${reprintDoc.id}/reprint`, body);
      $('reprint-dialog').close();
      if (bench && reprintPrinter) {
        $('bench-status').textContent = `Reprinting order ${reprintDoc.order_id} on ${reprintPrinter}: ${reason}`;
        $('bench-again').hidden = true;
        $('bench-panel').dataset.last = 'ok';
        $('bench-panel').dataset.result = 'reprinting';
      }
      scheduleRefresh(0);
    } catch (e) {
      showError(explain(e));
    } finally {
      go.disabled = false;
    }
  });
  $('token-open').addEventListener('click', () => {
    const f = $('token-form');
    f.hidden = !f.hidden;
    if (!f.hidden) $('token').focus();
  });
  $('token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const t = $('token').value.trim();
    if (t) sessionStorage.setItem(TOKEN_KEY, t); else sessionStorage.removeItem(TOKEN_KEY);
    $('token').value = '';
    $('token-form').hidden = true;
    const waiting = tokenWaiters;
    tokenWaiters = [];
    for (const w of waiting) w();
    refresh();
  });
  refresh();
  streamEvents();
  // A slow safety net: printer status and counts also change without events (e.g. a paused queue).
  setInterval(() => scheduleRefresh(0), 15000);
}

setup();
