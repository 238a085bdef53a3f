// The chat page at `/` in a real browser: Debian's headless Chromium driven by playwright-core.
// Types a message, sends it, waits (bounded) for the streamed answer, and checks it against the
// text the API itself returns for the very request the page sent (replayed without streaming,
// temperature 0 so it is deterministic). A second turn checks that the page sends the history.
// Any console error, page exception or failed request fails the test. Fails (never skips) when
// Chromium or playwright-core is missing.
// Usage: node test_chat_page.mjs path/to/bitnet model.gguf   (BITNET_CHROMIUM overrides the browser)
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let chromium;
try {
  ({ chromium } = require('playwright-core'));
} catch {
  console.error('FAIL: playwright-core is not installed: run `npm ci` in tests/serve');
  process.exit(1);
}
const browserPath = process.env.BITNET_CHROMIUM || '/usr/bin/chromium';
if (!existsSync(browserPath)) {
  console.error(`FAIL: no Chromium at ${browserPath}: run tools/install-deps.sh (Debian package chromium)`);
  process.exit(1);
}

const [bitnet, model] = process.argv.slice(2);
const STEP_MS = 15_000;  // bound on any one wait in the page
const watchdog = setTimeout(() => { console.error('FAIL: timed out'); process.exit(1); }, 60_000);

function startServer() {
  const child = spawn(bitnet, ['serve', '-m', model, '--host', '127.0.0.1', '--port', '0', '-t', '1',
    '-np', '1', '--exit-after', '55'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m && out.includes('ready')) resolve({ child, url: m[1] });
    });
    child.on('exit', (code) => reject(new Error(`server exited early (${code}): ${out}`)));
  });
}

// The text the API answers for `body` without streaming.
async function apiText(url, body) {
  const r = await fetch(`${url}/v1/chat/completions`, { method: 'POST',
    headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ ...body, stream: false }) });
  assert.equal(r.status, 200, `replayed request: HTTP ${r.status}`);
  return (await r.json()).choices[0].message.content;
}

// Types `text` into the page and sends it with Enter; returns the JSON body the page POSTed.
async function sendMessage(page, text) {
  const posted = page.waitForRequest((r) => r.url().endsWith('/v1/chat/completions') && r.method() === 'POST',
    { timeout: STEP_MS });
  await page.fill('#input', text);
  await page.press('#input', 'Enter');
  const body = JSON.parse((await posted).postData());
  // The answer is complete when the page re-enables Send (its `finally` after the stream ends).
  await page.waitForFunction(() => !document.getElementById('send').disabled, null, { timeout: STEP_MS });
  return body;
}

async function main() {
  const { child, url } = await startServer();
  const problems = [];
  const browser = await chromium.launch({ executablePath: browserPath, headless: true, timeout: STEP_MS,
    args: process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : [] });
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(STEP_MS);
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()} (${m.location().url})`); });
    page.on('pageerror', (e) => problems.push(`page exception: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));

    await page.goto(`${url}/`);
    await page.waitForFunction(() => document.getElementById('model').textContent !== '?');
    assert.equal(await page.textContent('#model'), 'tiny-b158-i2s', 'the page shows the served model');
    // Deterministic answers: temperature 0, and a short one to keep the test fast.
    await page.fill('#temperature', '0');
    await page.fill('#max_tokens', '12');

    const first = await sendMessage(page, 'Hello there, who are you?');
    assert.equal(first.stream, true, 'the page streams');
    assert.equal(first.temperature, 0);
    assert.equal(first.max_tokens, 12);
    assert.deepEqual(first.messages, [{ role: 'user', content: 'Hello there, who are you?' }]);
    let answers = await page.$$eval('.msg.assistant span', (s) => s.map((e) => e.textContent));
    assert.equal(answers.length, 1);
    assert.ok(answers[0].length > 0, 'a non-empty answer was streamed');
    assert.equal(answers[0], await apiText(url, first), 'streamed page text == API text for the same request');

    // Second turn: the page sends the whole conversation, the answer again matches the API.
    const second = await sendMessage(page, 'Tell me more.');
    assert.deepEqual(second.messages, [...first.messages, { role: 'assistant', content: answers[0] },
      { role: 'user', content: 'Tell me more.' }], 'the page sends the history');
    answers = await page.$$eval('.msg.assistant span', (s) => s.map((e) => e.textContent));
    assert.equal(answers.length, 2);
    assert.equal(answers[1], await apiText(url, second), 'second turn: page text == API text');
    assert.equal(await page.locator('.msg.error').count(), 0, 'no error message in the page');
    assert.deepEqual(problems, [], 'no console errors, page exceptions or failed requests');
    console.log(`PASS: chat page streamed ${JSON.stringify(answers)}`);
  } finally {
    await browser.close();
    child.kill('SIGTERM');
  }
}

main().then(() => { clearTimeout(watchdog); }, (e) => {
  console.error(`FAIL: ${e.stack || e}`);
  process.exit(1);
});
