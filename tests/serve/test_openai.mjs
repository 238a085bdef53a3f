// `bitnet serve` with the official openai npm client (4.x): chat and completions, streaming and
// not; concurrent streams at temperature 0 give exactly the text each gives alone; a client that
// aborts mid-stream frees its slot; errors arrive as the SDK's typed errors; /metrics passes a
// strict Prometheus text-format check; embeddings are unit vectors, equal for equal texts.
// Starts its own server on a free loopback port.
// Usage: node test_openai.mjs path/to/bitnet model.gguf
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let OpenAI;
try {
  OpenAI = require('openai');
} catch {
  console.error('FAIL: the openai package is not installed: run `npm ci` in tests/serve');
  process.exit(1);
}

const [bitnet, model] = process.argv.slice(2);
const KEY = 'node-test-key';
const watchdog = setTimeout(() => { console.error('FAIL: timed out'); process.exit(1); }, 240_000);

function startServer() {
  const child = spawn(bitnet, ['serve', '-m', model, '--host', '127.0.0.1', '--port', '0', '-c', '4096', // 1024 positions per slot
    '-t', '1', '-np', '4', '--api-key', KEY, '--exit-after', '230'], { stdio: ['ignore', 'pipe', 'inherit'] });
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

async function metrics(url) {
  const r = await fetch(`${url}/metrics`, { headers: { Authorization: `Bearer ${KEY}` } });
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  return r.text();
}

// Strict check of the Prometheus text exposition format (0.0.4): HELP/TYPE comments, samples
// `name{label="v",...} value`, every sample's family declared by a TYPE line before it.
function parsePrometheus(text) {
  assert.ok(text.endsWith('\n'), 'exposition ends with a newline');
  const types = new Map();
  const samples = new Map();
  const name = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  const sampleRe = new RegExp(`^(${name})(\\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\.)*",?)*\\})? (\\S+)$`);
  for (const line of text.slice(0, -1).split('\n')) {
    let m;
    if ((m = line.match(new RegExp(`^# HELP (${name}) .+$`)))) continue;
    if ((m = line.match(new RegExp(`^# TYPE (${name}) (counter|gauge|histogram|summary|untyped)$`)))) {
      assert.ok(!types.has(m[1]), `TYPE of ${m[1]} given once`);
      types.set(m[1], m[2]);
      continue;
    }
    m = line.match(sampleRe);
    assert.ok(m, `valid sample line: ${JSON.stringify(line)}`);
    assert.ok(types.has(m[1]), `${m[1]} has a TYPE line before its samples`);
    const value = Number(m[3]);
    assert.ok(Number.isFinite(value), `finite value in ${line}`);
    if (types.get(m[1]) === 'counter') assert.ok(value >= 0, `counter ${m[1]} >= 0`);
    samples.set(m[1] + (m[2] || ''), value);
  }
  return samples;
}

async function chatText(client, content, extra = {}) {
  const r = await client.chat.completions.create({ model: 'bitnet', messages: [{ role: 'user', content }],
    max_tokens: 16, temperature: 0, ...extra });
  return r;
}

async function chatStreamText(client, content) {
  const stream = await client.chat.completions.create({ model: 'bitnet', messages: [{ role: 'user', content }],
    max_tokens: 16, temperature: 0, stream: true, stream_options: { include_usage: true } });
  let text = '';
  let usage = null;
  let finish = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    if (chunk.choices.length) {
      text += chunk.choices[0].delta.content ?? '';
      finish = chunk.choices[0].finish_reason ?? finish;
    }
  }
  return { text, usage, finish };
}

async function main() {
  const { child, url } = await startServer();
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: KEY, maxRetries: 0, timeout: 60_000 });
  let passed = 0;
  const ok = (what) => { passed += 1; console.log(`ok - ${what}`); };

  const models = await client.models.list();
  assert.equal(models.data.length, 1);
  ok('models.list');

  const full = await chatText(client, 'Hello there');
  assert.equal(full.object, 'chat.completion');
  assert.equal(full.choices[0].message.role, 'assistant');
  assert.equal(typeof full.choices[0].message.content, 'string');
  assert.equal(full.usage.total_tokens, full.usage.prompt_tokens + full.usage.completion_tokens);
  ok('chat.completions.create');

  const streamed = await chatStreamText(client, 'Hello there');
  assert.equal(streamed.text, full.choices[0].message.content);
  assert.deepEqual(streamed.usage, full.usage);
  assert.equal(streamed.finish, full.choices[0].finish_reason);
  ok('chat stream == non-stream, usage chunk');

  const comp = await client.completions.create({ model: 'bitnet', prompt: 'The quick brown fox', max_tokens: 12, temperature: 0 });
  assert.equal(comp.object, 'text_completion');
  let ctext = '';
  for await (const c of await client.completions.create({ model: 'bitnet', prompt: 'The quick brown fox',
    max_tokens: 12, temperature: 0, stream: true })) ctext += c.choices[0]?.text ?? '';
  assert.equal(ctext, comp.choices[0].text);
  ok('completions create + stream');

  // Embeddings: identical inputs give identical unit vectors; a text alone equals it in a list.
  // The SDK asks for base64 unless told otherwise, so this also checks base64 == float.
  const emb = await client.embeddings.create({ model: 'bitnet', input: ['hello world', 'other text', 'hello world'] });
  assert.equal(emb.object, 'list');
  assert.deepEqual(emb.data.map((d) => d.index), [0, 1, 2]);
  const vecs = emb.data.map((d) => d.embedding);
  assert.ok(vecs[0].length > 1 && vecs.every((v) => v.length === vecs[0].length));
  for (const v of vecs) assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-5, 'unit length');
  assert.deepEqual(vecs[2], vecs[0]);
  assert.notDeepEqual(vecs[1], vecs[0]);
  assert.ok(emb.usage.prompt_tokens > 3 && emb.usage.total_tokens === emb.usage.prompt_tokens);
  const alone = await client.embeddings.create({ model: 'bitnet', input: 'hello world', encoding_format: 'float' });
  assert.deepEqual(alone.data[0].embedding, vecs[0]);
  ok('embeddings.create');

  // 6 concurrent streams (4 slots + 2 queued) equal their solo answers.
  const prompts = ['one', 'two words', 'three little words', 'a fourth prompt', 'fifth', 'sixth and last'];
  const solo = [];
  for (const p of prompts) solo.push((await chatText(client, p)).choices[0].message.content);
  const together = await Promise.all(prompts.map((p) => chatStreamText(client, p)));
  together.forEach((r, i) => assert.equal(r.text, solo[i], `prompt ${i}`));
  ok(`${prompts.length} concurrent streams == solo texts`);

  // A client that aborts mid-stream frees its slot.
  const ac = new AbortController();
  const before = parsePrometheus(await metrics(url)).get('bitnet_requests_total{result="cancelled"}');
  const long = await client.completions.create({ model: 'bitnet', prompt: 'go', max_tokens: 900, temperature: 1,
    stream: true }, { signal: ac.signal });
  try {
    for await (const _ of long) { ac.abort(); }
  } catch { /* aborted */ }
  let freed = false;
  for (let i = 0; i < 100 && !freed; i++) {
    const s = parsePrometheus(await metrics(url));
    freed = s.get('bitnet_slots_busy') === 0 && s.get('bitnet_requests_total{result="cancelled"}') > before;
    if (!freed) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(freed, 'slot freed and request counted as cancelled');
  ok('abort mid-stream frees the slot');

  const s = parsePrometheus(await metrics(url));
  for (const k of ['bitnet_prompt_tokens_total', 'bitnet_generated_tokens_total', 'bitnet_queue_length',
    'bitnet_slots_busy', 'bitnet_generation_tokens_per_second', 'bitnet_kv_cells_used']) assert.ok(s.has(k), k);
  assert.ok(s.get('bitnet_generated_tokens_total') > 0);
  ok('/metrics is valid Prometheus text');

  await assert.rejects(client.chat.completions.create({ model: 'bitnet', messages: [], max_tokens: 4 }),
    (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && typeof e.message === 'string');
  await assert.rejects(client.chat.completions.create({ model: 'bitnet', messages: [{ role: 'user', content: 'x' }],
    temperature: 7 }), (e) => e instanceof OpenAI.BadRequestError && e.param === 'temperature');
  const wrongKey = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'wrong', maxRetries: 0 });
  await assert.rejects(wrongKey.models.list(), (e) => e instanceof OpenAI.AuthenticationError);
  ok('errors are typed SDK errors (400, 401)');

  child.kill('SIGTERM');
  assert.equal(await exited, 0);
  ok('SIGTERM: exit 0');
  console.log(`test_openai.mjs: ${passed} passed`);
  clearTimeout(watchdog);
}

main().catch((e) => { console.error('FAIL:', e); process.exit(1); });
