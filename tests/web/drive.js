// Drives Debian's Chromium (headless, through playwright-core) through labeld's packers' page, for
// tests/web.rs. The daemon is already running with two printers and an API token; this script plays
// both the order backend (submits over HTTP from Node) and the packer (taps in the browser).
//
// Environment: LABELD_URL, LABELD_TOKEN, ORDER_OK, ORDER_HELD, ORDER_LATE, ORDER_DOUBT_A, ORDER_DOUBT_B
// (order JSON files; the DOUBT ones go to dock-3, which stops on "ribbon out" after a label, and dock-4,
// which drops the link mid-label once), DOC_OK and DOC_WRONG (marketplace label PDFs for dock-5, with
// DOC_OK_TRACKING the tracking number DOC_OK carries and DOC_WRONG does not), SCAN_BATCH (a JSON array
// of two orders, the second with one item: a scan-to-print batch for bench-6),
// SHOT_DIR (where screenshots go), CHROMIUM (the browser binary), PROFILE_DIR (a fresh, empty user
// data dir: Playwright passes it to Chromium as --user-data-dir).
// Prints one JSON line on success: the document ids it made, for the Rust side to check.
'use strict';
const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const BASE = env('LABELD_URL');
const TOKEN = env('LABELD_TOKEN');
const SHOTS = env('SHOT_DIR');
const STEP_MS = 30000;

function step(what) {
  process.stderr.write(`web: ${what}\n`);
}

// The order backend's side: a plain API client with the token, no browser.
async function submit(printer, file) {
  const order = JSON.parse(fs.readFileSync(file, 'utf8'));
  const resp = await fetch(`${BASE}/v1/jobs`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ printer, order }),
  });
  const body = await resp.json();
  if (resp.status !== 202) throw new Error(`submit ${file}: ${resp.status} ${JSON.stringify(body)}`);
  return { id: body.documents[0].document, order_id: order.order_id, tracking: order.shipment.tracking_number, order };
}

// A marketplace label document, as the backend sends it.
async function submitDocument(printer, file, orderId, tracking) {
  const data = fs.readFileSync(file).toString('base64');
  const resp = await fetch(`${BASE}/v1/jobs`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ printer, kind: 'document', order_id: orderId, tracking_number: tracking,
      document: { content_type: 'application/pdf', data } }),
  });
  const body = await resp.json();
  if (resp.status !== 202) throw new Error(`submit document ${file}: ${resp.status} ${JSON.stringify(body)}`);
  return { id: body.documents[0].document, order_id: orderId, tracking };
}

async function apiGet(p) {
  const resp = await fetch(`${BASE}${p}`, { headers: { Authorization: `Bearer ${TOKEN}` } });
  if (!resp.ok) throw new Error(`GET ${p}: ${resp.status}`);
  return resp.json();
}

async function main() {
  // A fresh profile directory, a phone-sized screen with touch: the smallest the page must work on.
  const context = await chromium.launchPersistentContext(env('PROFILE_DIR'), {
    executablePath: env('CHROMIUM'),
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
    viewport: { width: 412, height: 915 },
    hasTouch: true,
    isMobile: true,
    deviceScaleFactor: 1,
  });
  try {
    // Switch off the page's slow safety-net poll, so every live change below must come over SSE.
    await context.addInitScript(() => { window.setInterval = () => 0; });
    // Hear the page: each tone it starts is recorded by its pitch.
    await context.addInitScript(() => {
      const start = OscillatorNode.prototype.start;
      OscillatorNode.prototype.start = function (...args) {
        (window.__tones = window.__tones || []).push(this.frequency.value);
        return start.apply(this, args);
      };
    });
    const page = await context.newPage();
    const problems = [];
    // The page's first requests are refused until it has the token (expected, and reported late by
    // the console); any 401 after that is a failure, named by its request.
    let tokenGiven = false;
    page.on('console', (m) => { if (m.type() === 'error' && !/status of 401/.test(m.text())) problems.push(`console: ${m.text()}`); });
    page.on('response', (r) => { if (r.status() === 401 && tokenGiven) problems.push(`401 after the token: ${r.request().method()} ${r.url()}`); });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => { if (!r.url().endsWith('/v1/events')) problems.push(`request failed: ${r.url()}`); });
    let navigations = 0;
    page.on('framenavigated', (f) => { if (f === page.mainFrame()) navigations += 1; });
    page.setDefaultTimeout(STEP_MS);

    step('open the page: the daemon wants a token, the page asks for it');
    await page.goto(BASE + '/');
    await page.locator('#token-form').waitFor({ state: 'visible' });
    await page.fill('#token', TOKEN);
    await page.click('#token-form button[type=submit]');
    tokenGiven = true;
    await page.locator('body[data-live="yes"]').waitFor();
    // The 401s that made the page ask were expected; from here on, any browser error is a failure.
    problems.length = 0;

    step('both printers are listed with their state');
    for (const name of ['dock-1', 'desk-2']) {
      await page.locator(`.card[data-printer="${name}"] .badge`).waitFor();
    }
    await page.locator('.card[data-printer="dock-1"][data-state="ready"]').waitFor();
    const feedShown = await page.locator('#feed').isVisible();
    if (feedShown) throw new Error('the feed row shows although the daemon has no feed (/healthz feed.state = disabled)');

    step('a submitted job appears and reaches done, live');
    const loads = navigations;
    const ok = await submit('dock-1', env('ORDER_OK'));
    const okRow = page.locator(`#recent .doc[data-id="${ok.id}"][data-state="done"]`);
    await okRow.waitFor();
    const okText = await okRow.innerText();
    if (!okText.includes(ok.order_id) || !okText.includes(ok.tracking)) throw new Error(`done row lacks order id or tracking: ${okText}`);

    step('a held job shows its rule, field and message');
    const held = await submit('dock-1', env('ORDER_HELD'));
    const heldRow = page.locator(`#attention .doc[data-id="${held.id}"][data-state="held"]`);
    await heldRow.waitFor();
    const heldText = await heldRow.locator('.reasons').innerText();
    if (!heldText.includes('label_note') || !heldText.includes('Outside contact')) throw new Error(`held reason: ${heldText}`);

    step('a marketplace document prints; one that is not this parcel\'s is held with its reason and a preview');
    const docOk = await submitDocument('dock-5', env('DOC_OK'), 'MKT-1', env('DOC_OK_TRACKING'));
    const docOkRow = page.locator(`#recent .doc[data-id="${docOk.id}"][data-kind="document"][data-state="done"]`);
    await docOkRow.waitFor();
    const docOkText = await docOkRow.innerText();
    if (!docOkText.includes('Marketplace label') || !docOkText.includes(docOk.tracking)) throw new Error(`document row: ${docOkText}`);
    const docWrong = await submitDocument('dock-5', env('DOC_WRONG'), 'MKT-2', 'NOT0000000000');
    const docWrongRow = page.locator(`#attention .doc[data-id="${docWrong.id}"][data-state="held"]`);
    await docWrongRow.waitFor();
    const docWhy = await docWrongRow.locator('.reasons').innerText();
    if (!docWhy.includes('Wrong label for this parcel')) throw new Error(`held document reason: ${docWhy}`);
    await docWrongRow.getByRole('button', { name: 'Preview' }).click();
    await page.locator('#preview-img').waitFor({ state: 'visible' });
    await page.waitForFunction(() => document.getElementById('preview-img').naturalWidth > 0);
    const docSize = await page.locator('#preview-img').evaluate((i) => [i.naturalWidth, i.naturalHeight]);
    if (docSize[0] < 700 || docSize[1] < 1100) throw new Error(`document preview is ${docSize}`);
    await page.screenshot({ path: path.join(SHOTS, 'web-document.png') });
    await page.click('#preview-dialog button[type=submit]');

    step('the page shows order ids and tracking numbers, never buyer data');
    const bodyText = await page.locator('body').innerText();
    for (const o of [ok.order, held.order]) {
      for (const buyer of [o.recipient.name, o.recipient.phone, ...o.recipient.address.lines]) {
        if (buyer && buyer.length >= 5 && bodyText.includes(buyer)) throw new Error(`buyer data on the page: ${buyer}`);
      }
    }

    step('preview of the printed label');
    await okRow.getByRole('button', { name: 'Preview' }).click();
    const img = page.locator('#preview-img');
    await img.waitFor({ state: 'visible' });
    await page.waitForFunction(() => document.getElementById('preview-img').naturalWidth > 0);
    const size = await img.evaluate((i) => [i.naturalWidth, i.naturalHeight]);
    if (size[0] < 700 || size[1] < 1100) throw new Error(`preview is ${size}`);
    await page.screenshot({ path: path.join(SHOTS, 'web-preview.png') });
    await page.click('#preview-dialog button[type=submit]');

    step('reprint needs a reason, then prints a new document');
    await okRow.getByRole('button', { name: 'Reprint' }).click();
    await page.locator('#reprint-dialog[open]').waitFor();
    await page.click('#reprint-go');
    if (!(await page.locator('#reprint-dialog[open]').count())) throw new Error('reprint went ahead without a reason');
    await page.click('#reprint-form [data-reason="Label damaged"]');
    await page.click('#reprint-go');
    await page.locator('#reprint-dialog[open]').waitFor({ state: 'detached' });
    const reprintRow = page.locator(`#recent .doc[data-state="done"]:has(.reprint-of)`).first();
    await reprintRow.waitFor();
    const reprintId = Number(await reprintRow.getAttribute('data-id'));
    const reprint = (await apiGet(`/v1/jobs?order_id=${encodeURIComponent(ok.order_id)}`)).documents.find((d) => d.id === reprintId);
    if (!reprint || reprint.reprint_of !== ok.id || reprint.reprint_reason !== 'Label damaged') throw new Error(`reprint: ${JSON.stringify(reprint)}`);

    step('test print on the second printer');
    await page.locator('.card[data-printer="desk-2"]').getByRole('button', { name: 'Test print' }).click();
    const testRow = page.locator('#recent .doc[data-kind="test_page"][data-state="done"]');
    await testRow.waitFor();
    const testId = Number(await testRow.getAttribute('data-id'));

    step('pause shows paused; a job waits, and a double tap cancels it');
    const dock = page.locator('.card[data-printer="dock-1"]');
    await dock.getByRole('button', { name: 'Pause' }).click();
    await page.locator('.card[data-printer="dock-1"][data-state="paused"]').waitFor();
    const late = await submit('dock-1', env('ORDER_LATE'));
    const lateRow = page.locator(`#queue .doc[data-id="${late.id}"][data-state="queued"]`);
    await lateRow.waitFor();
    await page.locator('[data-queue="dock-1"]', { hasText: '1' }).waitFor();
    await page.screenshot({ path: path.join(SHOTS, 'web-phone.png'), fullPage: true });
    await lateRow.getByRole('button', { name: 'Cancel' }).click();
    await lateRow.getByRole('button', { name: 'Tap again to cancel' }).click();
    await page.locator(`#recent .doc[data-id="${late.id}"][data-state="cancelled"]`).waitFor();
    await dock.getByRole('button', { name: 'Resume' }).click();
    await page.locator('.card[data-printer="dock-1"]:not([data-state="paused"])').waitFor();

    step('labels in doubt: "came out" settles one, "did not come out" prints the other again, once');
    const a = await submit('dock-3', env('ORDER_DOUBT_A'));
    const b = await submit('dock-4', env('ORDER_DOUBT_B'));
    const aRow = page.locator(`#attention .doc[data-id="${a.id}"][data-state="in_doubt"]`);
    const bRow = page.locator(`#attention .doc[data-id="${b.id}"][data-state="in_doubt"]`);
    await aRow.waitFor();
    await bRow.waitFor();
    const aWhy = await aRow.locator('.reasons').innerText();
    if (!aWhy.includes('ribbon out')) throw new Error(`in-doubt reason should be the printer's condition: ${aWhy}`);
    const bWhy = await bRow.locator('.reasons').innerText();
    if (!bWhy.includes('disconnected') && !bWhy.includes('link dropped')) throw new Error(`in-doubt reason should be the link: ${bWhy}`);
    await page.screenshot({ path: path.join(SHOTS, 'web-in-doubt.png'), fullPage: true });
    await aRow.getByRole('button', { name: 'Came out' }).click();
    await page.locator('#resolve-dialog[open]').waitFor();
    await page.click('#resolve-go');
    if (!(await page.locator('#resolve-dialog[open]').count())) throw new Error('resolved without a reason');
    await page.fill('#resolve-reason', 'on the printer, barcode readable');
    await page.click('#resolve-go');
    await page.locator('#resolve-dialog[open]').waitFor({ state: 'detached' });
    await page.locator(`#recent .doc[data-id="${a.id}"][data-state="done"]`).waitFor();
    await bRow.getByRole('button', { name: 'Did not come out' }).click();
    await page.locator('#resolve-dialog[open]').waitFor();
    await page.fill('#resolve-reason', 'nothing came out');
    await page.click('#resolve-go');
    await page.locator('#resolve-dialog[open]').waitFor({ state: 'detached' });
    await page.locator(`#recent .doc[data-id="${b.id}"][data-state="cancelled"]`).waitFor();
    const copyRow = page.locator(`#recent .doc[data-state="done"]:has(.reprint-of:text("reprint of #${b.id}:"))`);
    await copyRow.waitFor();
    const copyId = Number(await copyRow.getAttribute('data-id'));
    const copies = (await apiGet(`/v1/jobs?order_id=${encodeURIComponent(b.order_id)}`)).documents.filter((d) => d.reprint_of === b.id);
    if (copies.length !== 1 || copies[0].id !== copyId || !copies[0].reprint_reason.includes('nothing came out')) {
      throw new Error(`one reprint with the reason: ${JSON.stringify(copies)}`);
    }

    step('the carrier handover manifest: J&T pick-ups printed in the last hour, each once');
    const anHourAgo = await page.evaluate(() => {
      const d = new Date(Date.now() - 3600e3);
      const p = (n) => String(n).padStart(2, '0');
      return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
    });
    await page.fill('#manifest-carrier', ok.order.shipment.carrier);
    await page.selectOption('#manifest-handover', 'pickup');
    await page.fill('#manifest-since', anHourAgo);
    await page.getByRole('button', { name: 'Manifest' }).click();
    await page.locator('#manifest-dialog[open]').waitFor();
    await page.waitForFunction(() => {
      const img = document.querySelector('#manifest-pages img');
      return img && img.naturalWidth > 0;
    });
    const parcels = await page.locator('#manifest-summary').getAttribute('data-parcels');
    // The first label and its reprint are one parcel; the one that did not come out is its reprint.
    if (parcels !== '2') throw new Error(`manifest parcels: ${parcels} (${await page.locator('#manifest-summary').innerText()})`);
    const sheet = await page.locator('#manifest-dialog').innerText();
    for (const o of [ok.order, a.order, b.order]) {
      for (const buyer of [o.recipient.name, o.recipient.phone, ...o.recipient.address.lines]) {
        if (buyer && buyer.length >= 5 && sheet.includes(buyer)) throw new Error(`buyer data in the manifest dialog: ${buyer}`);
      }
    }
    await page.screenshot({ path: path.join(SHOTS, 'web-manifest.png') });
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#manifest-pdf')]);
    const manifestPdf = path.join(SHOTS, 'manifest.pdf');
    await download.saveAs(manifestPdf);

    step('handover scan: keystrokes as a keyboard-wedge scanner sends them tick parcels off; twice and unknown are flagged');
    await page.getByRole('button', { name: 'Scan handover' }).click();
    await page.locator('#scan-panel:not([hidden])').waitFor();
    await page.locator('#scan-total', { hasText: '2' }).waitFor();
    const focused = await page.evaluate(() => document.activeElement && document.activeElement.id);
    if (focused !== 'scan-input') throw new Error(`the scan field has no focus: ${focused}`);
    // A scanner types fast and ends with Enter; nothing clicks the field first.
    const scanner = async (code) => page.keyboard.type(code + '\n', { delay: 4 });
    await scanner(b.tracking);
    await page.locator('#scan-panel[data-last="ok"]').waitFor();
    await page.locator('#scan-done', { hasText: '1' }).waitFor();
    await page.locator(`#scan-ticked li[data-tracking="${b.tracking}"]`).waitFor();
    // A tap somewhere else on the sheet does not take the focus away from the scanner.
    await page.click('#scan-status');
    await scanner(b.tracking);
    await page.locator('#scan-panel[data-last="twice"]').waitFor();
    await page.locator(`#scan-flags li[data-flag="twice"]:has-text("${b.tracking}")`).waitFor();
    await scanner('ZZ999999999XX');
    await page.locator('#scan-panel[data-last="unknown"]').waitFor();
    await page.locator('#scan-flags li[data-flag="unknown"]:has-text("ZZ999999999XX")').waitFor();
    await page.locator(`#scan-missing li[data-tracking="${ok.tracking}"]`).waitFor();
    const tones = await page.evaluate(() => window.__tones || []);
    if (JSON.stringify(tones.map((t) => (t > 1000 ? 'ok' : 'problem'))) !== JSON.stringify(['ok', 'problem', 'problem'])) {
      throw new Error(`one tone per scan, high for ok, low for a problem: ${JSON.stringify(tones)}`);
    }
    await page.screenshot({ path: path.join(SHOTS, 'web-handover-scan.png') });
    await page.click('#scan-close');
    if (await page.locator('#scan-result[data-closed="yes"]').count()) throw new Error('closed without a name');
    await page.fill('#scan-by', 'Siti (packer) to Ali (J&T driver)');
    await page.click('#scan-close');
    const result = page.locator('#scan-result[data-closed="yes"]');
    await result.waitFor();
    const resultText = await result.innerText();
    if (!resultText.includes('1 handed over, 1 missing') || !resultText.includes(ok.tracking)) throw new Error(`handover result: ${resultText}`);
    await page.click('#manifest-dialog button[type=submit]');
    await page.locator('#manifest-dialog[open]').waitFor({ state: 'detached' });

    step('scan to print: an on_scan batch waits; keystrokes as a scanner sends them print each label at the bench');
    const benchOrders = JSON.parse(fs.readFileSync(env('SCAN_BATCH'), 'utf8'));
    const batchResp = await fetch(`${BASE}/v1/jobs`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ printer: 'bench-6', orders: benchOrders, batch_id: 'WEB-BENCH', release: 'on_scan' }),
    });
    if (batchResp.status !== 202) throw new Error(`on_scan batch: ${batchResp.status} ${await batchResp.text()}`);
    // Both labels rendered and checked: the page counts them as waiting, and the queue says so.
    await page.locator('#bench-waiting', { hasText: '2' }).waitFor();
    await page.locator('#queue .doc [data-state="awaiting_scan"]').first().waitFor();
    await page.selectOption('#bench-printer', 'bench-6');
    await page.click('#bench-start');
    await page.locator('#bench-panel:not([hidden])').waitFor();
    const benchFocus = await page.evaluate(() => document.activeElement && document.activeElement.id);
    if (benchFocus !== 'bench-input') throw new Error(`the bench scan field has no focus: ${benchFocus}`);
    const [first, single] = benchOrders;
    await scanner(first.order_id);
    await page.locator('#bench-panel[data-result="printing"]').waitFor();
    await page.locator(`#bench-log li[data-result="printing"]:has-text("${first.shipment.tracking_number}")`).waitFor();
    // A tap on the panel's text leaves the focus with the scanner.
    await page.click('#bench-status');
    await scanner('ZZ-NOT-AN-ORDER');
    await page.locator('#bench-panel[data-result="unknown"][data-last="unknown"]').waitFor();
    // The printed one again: nothing prints, the page says so and offers the logged reprint.
    await page.locator(`#recent .doc[data-state="done"]:has-text("${first.order_id}")`).waitFor();
    await scanner(first.order_id);
    await page.locator('#bench-panel[data-result="already_printed"][data-last="twice"]').waitFor();
    const already = await page.locator('#bench-status').innerText();
    if (!already.startsWith('Already printed #1')) throw new Error(`second scan: ${already}`);
    await page.locator('#bench-again:not([hidden])').waitFor();
    const benchText = await page.locator('#bench').innerText();
    for (const o of benchOrders) {
      for (const buyer of [o.recipient.name, o.recipient.phone, ...o.recipient.address.lines]) {
        if (buyer && buyer.length >= 5 && benchText.includes(buyer)) throw new Error(`buyer data at the bench: ${buyer}`);
      }
    }
    // For the README: a station screen, from the top of the page down to the end of the bench.
    await page.setViewportSize({ width: 1000, height: 1400 });
    await page.evaluate(() => window.scrollTo(0, 0));
    const benchBox = await page.locator('#bench').boundingBox();
    await page.screenshot({ path: path.join(SHOTS, 'web-scan-to-print.png'), clip: { x: 0, y: 0, width: 1000, height: Math.min(1400, Math.ceil(benchBox.y + benchBox.height + 8)) } });
    await page.setViewportSize({ width: 412, height: 915 });
    await page.click('#bench-reprint');
    await page.locator('#reprint-dialog[open]').waitFor();
    await page.click('#reprint-form [data-reason="Label damaged"]');
    await page.click('#reprint-go');
    await page.locator('#reprint-dialog[open]').waitFor({ state: 'detached' });
    await page.locator('#bench-panel[data-result="reprinting"]').waitFor();
    await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'bench-input');
    // The one-item order by its SKU, as a packer scans the item itself.
    await scanner(single.items[0].sku);
    await page.locator('#bench-panel[data-result="printing"]').waitFor();
    await page.locator(`#bench-log li[data-result="printing"]:has-text("${single.order_id}")`).waitFor();
    await page.click('#bench-stop');
    await page.locator('#bench-panel[hidden]').waitFor({ state: 'attached' });

    step('touch targets are big enough for a gloved finger');
    const small = await page.evaluate(() => [...document.querySelectorAll('button')]
      .filter((b) => b.offsetParent !== null)
      .map((b) => [b.textContent.trim(), b.getBoundingClientRect().height])
      .filter(([, h]) => h < 44));
    if (small.length) throw new Error(`buttons under 44 px: ${JSON.stringify(small)}`);

    if (navigations !== loads) throw new Error('the page reloaded; updates must be live');
    if (problems.length) throw new Error(problems.join('\n'));

    // A station screen, for judging the layout.
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(SHOTS, 'web-desktop.png'), fullPage: true });

    const weight = await page.evaluate(() => performance.getEntriesByType('resource').concat(performance.getEntriesByType('navigation'))
      .filter((e) => !e.name.includes('/v1/') && !e.name.includes('/healthz') && !e.name.startsWith('blob:'))
      .reduce((n, e) => n + (e.transferSize || 0), 0));
    process.stdout.write(JSON.stringify({ ok: ok.id, held: held.id, reprint: reprintId, test_page: testId, cancelled: late.id, came_out: a.id, did_not: b.id, reprint_of_did_not: copyId, document: docOk.id, document_held: docWrong.id, manifest_pdf: manifestPdf, manifest_tracking: [ok.tracking, b.tracking], handed_over: b.tracking, missing: ok.tracking, bench_printed: [first.shipment.tracking_number, first.shipment.tracking_number, single.shipment.tracking_number], page_transfer_bytes: weight }) + '\n');
  } finally {
    await context.close();
  }
}

main().catch((e) => {
  process.stderr.write(`web: FAILED: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
