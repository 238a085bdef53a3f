'use strict';
// Tests of the Node bindings: `node --test test/` in bindings/node (or `npm test`).
// Environment: BITNET_LIBRARY (libbitnet.so to test), BITNET_FIXTURES (default
// <repo>/../shared/fixtures), BITNET_CLI (the `bitnet` tool; default bin/bitnet next to
// BITNET_LIBRARY, then <repo>/build/bin/bitnet; that comparison is skipped if absent).

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const bitnet = require('..');

const REPO = path.resolve(__dirname, '..', '..', '..');
const FIXTURES = process.env.BITNET_FIXTURES || path.join(REPO, '..', 'shared', 'fixtures');
const I2S = path.join(FIXTURES, 'tiny-b158-i2s.gguf');
const F32 = path.join(FIXTURES, 'tiny-b158-f32.gguf');
const EXACT = path.join(FIXTURES, 'reference', 'exact');
const FOX = 'The quick brown fox jumps over the lazy dog.';
const FOX_IDS = [128000, 791, 4062, 14198, 39935, 35308, 927, 279, 16053, 5679, 13];
const HAVE_FIXTURES = fs.existsSync(I2S);
const skip = HAVE_FIXTURES ? false : `fixtures not found in ${FIXTURES} (set BITNET_FIXTURES)`;

function readJson(name) {
  return JSON.parse(fs.readFileSync(path.join(EXACT, name), 'utf8'));
}

function findCli() {
  const c = [];
  if (process.env.BITNET_CLI) c.push(process.env.BITNET_CLI);
  if (process.env.BITNET_LIBRARY) {
    c.push(path.join(path.dirname(fs.realpathSync(process.env.BITNET_LIBRARY)), 'bin', 'bitnet'));
  }
  c.push(path.join(REPO, 'build', 'bin', 'bitnet'));
  return c.find((p) => { try { fs.accessSync(p, fs.constants.X_OK); return true; } catch { return false; } });
}

async function collect(gen) {
  const pieces = [];
  for await (const p of gen) pieces.push(p);
  return pieces;
}

function expectStatus(fn, status) {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof bitnet.BitnetError, `not a BitnetError: ${e}`);
    assert.equal(e.status, status, e.message);
    assert.equal(e.statusName, Object.keys(bitnet.Status).find((k) => bitnet.Status[k] === status));
    assert.ok(e.libraryMessage.length > 0);
    return true;
  });
}

async function expectStatusAsync(promise, status) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof bitnet.BitnetError, `not a BitnetError: ${e}`);
    assert.equal(e.status, status, e.message);
    return true;
  });
}

// Runs bitnet_generate itself (the C API's own loop) with a JS piece callback.
function cGenerate(ctx, prompt, opts) {
  const { fns, koffi, structs } = bitnet.native;
  const sp = fns.bitnet_sampling_default_params();
  if (opts.temperature !== undefined) sp.temperature = opts.temperature;
  if (opts.seed !== undefined) sp.seed = opts.seed;
  if (opts.topK !== undefined) sp.top_k = opts.topK;
  const p = fns.bitnet_generate_default_params();
  p.max_tokens = opts.maxTokens;
  p.sampling = sp; // koffi passes the object as a pointer to a temporary C struct
  const chunks = [];
  const res = { size: koffi.sizeof(structs.GenerateResult) };
  const data = Buffer.from(prompt);
  const st = fns.bitnet_generate(ctx._handle, data, data.length, p, (ptr, n) => {
    chunks.push(Buffer.from(new Uint8Array(koffi.view(ptr, Number(n))))); // copy
    return 0;
  }, null, res);
  assert.equal(st, 0, fns.bitnet_last_error_message());
  return { text: Buffer.concat(chunks), res };
}

test('library: version and struct sizes match the header', { skip }, () => {
  const v = bitnet.version();
  const [a, b, c] = v.split('.').map(Number);
  assert.equal(bitnet.versionNumber(), a * 10000 + b * 100 + c);
  const { fns, koffi, structs } = bitnet.native;
  for (const [fn, st] of [['bitnet_model_default_params', structs.ModelParams],
    ['bitnet_context_default_params', structs.ContextParams],
    ['bitnet_sampling_default_params', structs.SamplingParams],
    ['bitnet_generate_default_params', structs.GenerateParams],
    ['bitnet_bench_default_params', structs.BenchParams]]) {
    assert.equal(Number(fns[fn]().size), koffi.sizeof(st), fn);
  }
  const g = fns.bitnet_generate_default_params();
  assert.equal(g.sampling, null); // NULL: the default sampling settings
  assert.equal(g.max_tokens, 128);
  assert.deepEqual([g.add_bos, g.parse_special, g.render_special], [1, 1, 0]);
  // Result structs: the library writes its sizeof into result.size.
  const model = new bitnet.Model(I2S);
  const ctx = model.context({ nCtx: 64 });
  const { res } = cGenerate(ctx, 'Hi', { maxTokens: 2 });
  assert.equal(Number(res.size), koffi.sizeof(structs.GenerateResult));
  assert.equal(res.n_generated, 2);
  const br = { size: koffi.sizeof(structs.BenchResult) };
  const bp = fns.bitnet_bench_default_params();
  Object.assign(bp, { n_prompt: 4, n_gen: 2, repetitions: 1, warmup: 0 });
  assert.equal(fns.bitnet_bench(ctx._handle, bp, br), 0);
  assert.equal(Number(br.size), koffi.sizeof(structs.BenchResult));
  const pr = { size: koffi.sizeof(structs.PerplexityResult) };
  const text = Buffer.from(`${FOX} `.repeat(8));
  assert.equal(fns.bitnet_perplexity(ctx._handle, text, text.length, 16, 1, null, null, pr), 0);
  assert.equal(Number(pr.size), koffi.sizeof(structs.PerplexityResult));
  ctx.close();
  model.close();
});

test('library: a missing library lists the paths tried', () => {
  const p = spawnSync(process.execPath, ['-e',
    `try { require(${JSON.stringify(path.resolve(__dirname, '..'))}).version(); } ` +
    'catch (e) { console.log(e.name + ": " + e.message); process.exit(3); }'],
  { env: { ...process.env, BITNET_LIBRARY: '/nonexistent/dir/libbitnet.so' }, encoding: 'utf8' });
  assert.equal(p.status, 3, p.stderr);
  assert.match(p.stdout, /LibraryNotFoundError/);
  assert.match(p.stdout, /\/nonexistent\/dir\/libbitnet\.so/);
  assert.match(p.stdout, /BITNET_LIBRARY/);
});

test('errors', { skip }, async (t) => {
  await t.test('missing file: IO with the path', () => {
    const missing = path.join(os.tmpdir(), 'no-such-dir-bitnet', 'missing.gguf');
    assert.throws(() => new bitnet.Model(missing), (e) => {
      assert.ok(e instanceof bitnet.BitnetError);
      assert.ok(e instanceof Error);
      assert.equal(e.status, bitnet.Status.IO);
      assert.equal(e.status, 2);
      assert.equal(e.statusName, 'IO');
      assert.equal(e.code, 'BITNET_ERR_IO');
      assert.ok(e.message.includes(missing), e.message);
      return true;
    });
  });
  await t.test('bad format', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bitnet-node-'));
    const f = path.join(dir, 'bad.gguf');
    fs.writeFileSync(f, Buffer.concat([Buffer.from('NOPE'), Buffer.alloc(60)]));
    try {
      expectStatus(() => new bitnet.Model(f), bitnet.Status.BAD_FORMAT);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
  const model = new bitnet.Model(I2S);
  t.after(() => model.close());
  await t.test('invalid arguments', async () => {
    const INV = bitnet.Status.INVALID_ARGUMENT;
    expectStatus(() => model.context({ nThreads: -1 }), INV);
    expectStatus(() => model.context({ nCtx: 2 ** 24 + 1 }), INV);
    expectStatus(() => model.context({ kvType: 'q4' }), INV);
    expectStatus(() => new bitnet.Model(I2S, { lmHead: 'bogus' }), INV);
    const ctx = model.context({ nCtx: 32 });
    try {
      expectStatus(() => ctx.eval([]), INV);
      expectStatus(() => ctx.eval([model.nVocab]), INV);
      expectStatus(() => ctx.eval([-1]), INV);
      expectStatus(() => ctx.eval([1], { logits: 'some' }), INV);
      expectStatus(() => ctx.generate('x', { topP: 2 }), INV);
      expectStatus(() => ctx.generate('x', { minP: -0.5 }), INV);
      expectStatus(() => ctx.generate('x', { repeatPenalty: 0 }), INV);
      expectStatus(() => ctx.generate('x', { temperature: NaN }), INV);
      expectStatus(() => ctx.generate('x', { maxTokens: -1 }), INV);
      expectStatus(() => ctx.generate('x', { stop: [''] }), INV);
      expectStatus(() => ctx.perplexity('a b c', { nChunk: 16 }), INV);
      expectStatus(() => ctx.bench({ nPrompt: 4, nGen: 2, repetitions: 0 }), INV);
      expectStatus(() => model.detokenize([model.nVocab]), INV);
      await expectStatusAsync(ctx.evalAsync([model.nVocab]), INV);
      await expectStatusAsync(ctx.evalAsync([]), INV);
      await expectStatusAsync(collect(ctx.generate([])), INV);
    } finally {
      ctx.close();
    }
  });
  await t.test('context full', async () => {
    const ctx = model.context({ nCtx: 8 });
    try {
      expectStatus(() => ctx.eval(FOX_IDS), bitnet.Status.CONTEXT_FULL);
      await expectStatusAsync(ctx.evalAsync(FOX_IDS), bitnet.Status.CONTEXT_FULL);
      assert.equal(ctx.nPast, 0);
      const gen = ctx.generate([128000, 791], { maxTokens: 50, temperature: 0 });
      const pieces = [];
      await assert.rejects((async () => { for await (const p of gen) pieces.push(p); })(),
        (e) => e.status === bitnet.Status.CONTEXT_FULL);
      assert.equal(pieces.join(''), model.detokenize(gen.tokens));
      assert.equal(ctx.nPast, 8);
    } finally {
      ctx.close();
    }
  });
  await t.test('abort', async () => {
    const ctx = model.context({ nCtx: 512 });
    try {
      ctx.abort();
      expectStatus(() => ctx.eval(FOX_IDS), bitnet.Status.ABORTED);
      ctx.reset();
      assert.equal(ctx.eval(FOX_IDS).length, model.nVocab);
      // Abort a running generation from the event loop.
      ctx.reset();
      const gen = ctx.generate(FOX, { maxTokens: 400, temperature: 0 });
      let n = 0;
      await assert.rejects((async () => {
        for await (const p of gen) {
          if (n++ === 2) setImmediate(() => ctx.abort());
          assert.ok(p.length > 0);
        }
      })(), (e) => e.status === bitnet.Status.ABORTED);
      assert.ok(gen.tokens.length < 400);
    } finally {
      ctx.close();
    }
  });
});

test('lifetime', { skip }, async (t) => {
  await t.test('close twice, use after close', () => {
    const m = new bitnet.Model(I2S);
    const ctx = m.context({ nCtx: 32 });
    ctx.close();
    ctx.close();
    assert.ok(ctx.closed);
    for (const fn of [() => ctx.eval([1]), () => ctx.nPast, () => ctx.reset(), () => ctx.generate('x'),
      () => ctx.bench({ nPrompt: 4, nGen: 2 })]) {
      assert.throws(fn, (e) => e.status === bitnet.Status.INVALID_ARGUMENT && /closed/.test(e.message));
    }
    ctx.abort(); // a no-op on a closed context
    m.close();
    m.close();
    assert.ok(m.closed);
    for (const fn of [() => m.tokenize('x'), () => m.nVocab, () => m.context(), () => m.meta('general.name'),
      () => m.detokenize([1]), () => m.architecture, () => m.metadata, () => m.tokenToPiece(1)]) {
      assert.throws(fn, (e) => e.status === bitnet.Status.INVALID_ARGUMENT && /closed/.test(e.message));
    }
    assert.equal(m._handle, null);
  });
  await t.test('model closed while a context is open', async () => {
    const m = new bitnet.Model(I2S);
    const ctx = m.context({ nCtx: 64 });
    m.close();
    assert.notEqual(m._handle, null); // kept for the context
    const text = (await collect(ctx.generate(FOX, { maxTokens: 4, temperature: 0 }))).join('');
    assert.ok(text.length > 0);
    ctx.close();
    assert.equal(m._handle, null);
  });
  await t.test('context closed during a generation', async () => {
    const m = new bitnet.Model(I2S);
    const ctx = m.context({ nCtx: 64 });
    const gen = ctx.generate(FOX, { maxTokens: 10, temperature: 0 });
    await gen.next();
    ctx.close();
    await assert.rejects(gen.next(), (e) => e.status === bitnet.Status.INVALID_ARGUMENT);
    assert.equal(gen._sampler, null);
    m.close();
  });
  await t.test('close while an async eval runs', async () => {
    const m = new bitnet.Model(I2S);
    const ctx = m.context({ nCtx: 64 });
    const p = ctx.evalAsync(FOX_IDS);
    ctx.close(); // deferred until the eval returns
    await assert.rejects(p, (e) => e.status === bitnet.Status.INVALID_ARGUMENT);
    assert.equal(ctx._handle, null);
    m.close();
    assert.equal(m._handle, null);
  });
  await t.test('break frees the sampler', async () => {
    const m = new bitnet.Model(I2S);
    const ctx = m.context({ nCtx: 64 });
    const gen = ctx.generate(FOX_IDS, { maxTokens: 50, temperature: 0 });
    for await (const p of gen) { assert.ok(p); break; }
    assert.equal(gen._sampler, null);
    const unused = ctx.generate(FOX, { maxTokens: 5 });
    await unused.close();
    await unused.close();
    assert.equal(unused._sampler, null);
    ctx.close();
    m.close();
  });
});

test('model information and tokenizer', { skip }, () => {
  const m = new bitnet.Model(I2S);
  try {
    assert.equal(m.architecture, 'bitnet-b1.58');
    assert.equal(m.nVocab, 128256);
    assert.equal(m.nEmbd, 128);
    assert.equal(m.nLayer, 2);
    assert.equal(m.nHead, 4);
    assert.equal(m.nHeadKv, 2);
    assert.equal(m.nCtxTrain, 512);
    assert.ok(Number(m.nParams) > 0 && Number(m.sizeBytes) > 0);
    assert.deepEqual([m.bos, m.eos, m.eot], [128000, 128001, 128009]);
    assert.ok(m.addBos);
    assert.ok(m.isEog(128001) && m.isEog(128009) && !m.isEog(791));
    const md = m.metadata;
    assert.equal(md['general.name'], 'bitnet-b1.58-tiny-random');
    assert.equal(md['bitnet-b1.58.embedding_length'], '128');
    assert.equal(m.meta('bitnet-b1.58.block_count'), '2');
    assert.equal(m.meta('no.such.key'), undefined);
    assert.equal(m.meta('no.such.key', 'x'), 'x');

    assert.deepEqual(m.tokenize(FOX), FOX_IDS);
    assert.deepEqual(m.tokenize(FOX, { addBos: false }), FOX_IDS.slice(1));
    assert.deepEqual(m.tokenize(Buffer.from(FOX)), FOX_IDS);
    for (const text of [FOX, '', ' ', 'Ternary weights: -1, 0, +1. Ünïcödé ✓ 日本語 🚀',
      'line1\n\n  line2\t\r\n', '\uFEFFbom first', '<|eot_id|> is text here', 'x'.repeat(3000)]) {
      const ids = m.tokenize(text, { addBos: false });
      assert.equal(m.detokenize(ids), text);
      assert.deepEqual(m.detokenizeBytes(ids), Buffer.from(text));
      assert.deepEqual(Buffer.concat(ids.map((t) => m.tokenToPiece(t))), Buffer.from(text));
    }
    assert.equal(m.detokenize(FOX_IDS), FOX);
    assert.equal(m.detokenize(FOX_IDS, { renderSpecial: true }), `<|begin_of_text|>${FOX}`);
    assert.deepEqual(m.tokenize('<|eot_id|>', { addBos: false, parseSpecial: true }), [128009]);
    assert.equal(m.tokenToPiece(128009).length, 0);
    assert.equal(m.tokenToPiece(128009, { renderSpecial: true }).toString(), '<|eot_id|>');
  } finally {
    m.close();
  }
});

test('logits', { skip }, async (t) => {
  const model = new bitnet.Model(I2S);
  t.after(() => model.close());
  const ref = readJson('tiny-b158-i2s.fox.json');

  await t.test('quantised heads keep the exact top logit', () => {
    const [wantTok, wantLogit] = ref.positions.at(-1).top8[0];
    for (const lmHead of ['q8', 'q4']) {
      const m = new bitnet.Model(I2S, { lmHead });
      const ctx = m.context({ nCtx: 64, kvType: 'f32' });
      try {
        const row = ctx.eval(FOX_IDS);
        let best = 0;
        for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
        assert.equal(best, wantTok, lmHead);
        assert.ok(Math.abs(row[best] - wantLogit) <= 1e-3, lmHead);
      } finally {
        ctx.close();
        m.close();
      }
    }
  });

  await t.test('match the exact reference (f32 KV cache)', async () => {
    assert.deepEqual(ref.token_ids, FOX_IDS);
    const ctx = model.context({ nCtx: 64, kvType: 'f32' });
    try {
      const rows = ctx.eval(FOX_IDS, { logits: 'all' });
      assert.equal(rows.length, FOX_IDS.length);
      ref.positions.forEach((pos, i) => {
        assert.ok(rows[i] instanceof Float32Array);
        assert.equal(rows[i].length, 128256);
        for (const [tok, logit] of pos.top8) {
          assert.ok(Math.abs(rows[i][tok] - logit) <= 1e-3, `pos ${pos.pos} token ${tok}`);
        }
      });
      const raw = fs.readFileSync(path.join(EXACT, ref.last_logits_file));
      const last = new Float32Array(raw.buffer, raw.byteOffset, raw.length / 4);
      let worst = 0;
      for (let i = 0; i < last.length; i++) worst = Math.max(worst, Math.abs(last[i] - rows.at(-1)[i]));
      assert.ok(worst <= 1e-3, `worst ${worst}`);
      // The async path gives the same numbers.
      ctx.reset();
      const lastAsync = await ctx.evalAsync(FOX_IDS);
      assert.deepEqual(lastAsync, rows.at(-1));
      assert.equal(ctx.nLogits, 1);
      // Incremental evaluation.
      ctx.reset();
      assert.equal(ctx.eval(FOX_IDS.slice(0, 5), { logits: 'none' }), null);
      assert.equal(ctx.nPast, 5);
      const inc = ctx.eval(FOX_IDS.slice(5));
      for (let i = 0; i < inc.length; i += 97) assert.ok(Math.abs(inc[i] - rows.at(-1)[i]) <= 1e-4);
    } finally {
      ctx.close();
    }
  });

  await t.test('match the bitnet CLI', { skip: findCli() ? false : 'bitnet CLI not found' }, () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bitnet-node-'));
    try {
      const out = path.join(dir, 'logits.f32');
      const r = spawnSync(findCli(), ['logits', '-m', I2S, '--tokens', FOX_IDS.join(','), '-o', out, '--all',
        '--kv-type', 'f32', '-t', '1'], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const data = fs.readFileSync(out);
      const ctx = model.context({ nCtx: FOX_IDS.length, kvType: 'f32', nThreads: 1 });
      const rows = ctx.eval(FOX_IDS, { logits: 'all' });
      ctx.close();
      assert.equal(data.length, FOX_IDS.length * 128256 * 4);
      rows.forEach((row, i) => {
        assert.ok(Buffer.from(row.buffer).equals(data.subarray(i * 128256 * 4, (i + 1) * 128256 * 4)), `row ${i}`);
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  await t.test('f32 fixture', () => {
    const r = readJson('tiny-b158-f32.fox.json');
    const m = new bitnet.Model(F32, { useMmap: false });
    const ctx = m.context({ nCtx: 16, kvType: 'f32' });
    const last = ctx.eval(r.token_ids);
    for (const [tok, logit] of r.positions.at(-1).top8) assert.ok(Math.abs(last[tok] - logit) <= 1e-3);
    ctx.close();
    m.close();
  });
});

test('generation', { skip }, async (t) => {
  const model = new bitnet.Model(I2S);
  t.after(() => model.close());

  await t.test('greedy: deterministic and as the reference', async () => {
    const ref = readJson('tiny-b158-i2s.fox.json');
    let n = ref.greedy_continuation_top2_gap.findIndex((g) => g < 2e-3);
    if (n < 0) n = ref.greedy_continuation.length;
    assert.ok(n >= 10);
    const runs = [];
    for (let r = 0; r < 2; r++) {
      const ctx = model.context({ nCtx: 128, kvType: 'f32' });
      const gen = ctx.generate(FOX, { maxTokens: 24, temperature: 0 });
      const text = (await collect(gen)).join('');
      assert.equal(gen.nPromptTokens, FOX_IDS.length);
      assert.equal(gen.stopReason, 'max_tokens');
      assert.equal(gen.tokens.length, 24);
      assert.equal(ctx.nPast, FOX_IDS.length + 23); // the last token is not evaluated
      runs.push([text, gen.tokens]);
      ctx.close();
    }
    assert.deepEqual(runs[0], runs[1]);
    assert.deepEqual(runs[0][1].slice(0, n), ref.greedy_continuation.slice(0, n));
  });

  await t.test('streaming pieces join to the full text', async () => {
    const strict = new TextDecoder('utf-8', { fatal: true });
    const partial = (tok) => {
      try { strict.decode(model.tokenToPiece(tok)); return false; } catch { return true; }
    };
    let nPartial = 0;
    const ctx = model.context({ nCtx: 256 });
    // A near-uniform draw (temperature 20) picks byte-fragment tokens now and then.
    for (const seed of [1, 3]) {
      ctx.reset();
      const gen = ctx.generate('Ünïcödé 日本語:', { maxTokens: 60, seed, temperature: 20, topK: 0, topP: 1, minP: 0 });
      const pieces = await collect(gen);
      assert.ok(pieces.every((p) => typeof p === 'string' && p.length > 0));
      assert.equal(pieces.join(''), model.detokenize(gen.tokens));
      assert.equal(gen.text, pieces.join(''));
      nPartial += gen.tokens.filter(partial).length;
    }
    assert.ok(nPartial > 0, 'no byte-fragment token was sampled: change the seeds');
    ctx.close();
  });

  await t.test('same text as the C API bitnet_generate', async () => {
    for (const opts of [{ temperature: 0 }, { seed: 7 }, { seed: 42, temperature: 1.2, topK: 0 }]) {
      const ctx = model.context({ nCtx: 128 });
      const c = cGenerate(ctx, FOX, { maxTokens: 20, ...opts });
      const cPast = ctx.nPast;
      ctx.reset();
      const gen = ctx.generate(FOX, { maxTokens: 20, ...opts });
      const text = (await collect(gen)).join('');
      assert.equal(text, new TextDecoder('utf-8', { ignoreBOM: true }).decode(c.text));
      assert.equal(gen.tokens.length, c.res.n_generated);
      assert.equal(ctx.nPast, cPast);
      ctx.close();
    }
  });

  await t.test('seeds', async () => {
    const opts = { maxTokens: 24, temperature: 1.0, topK: 2000, topP: 1, minP: 0 };
    const ctx = model.context({ nCtx: 128 });
    const run = async (seed) => {
      ctx.reset();
      const g = ctx.generate(FOX, { ...opts, seed });
      await collect(g);
      return g.tokens;
    };
    const a = await run(11);
    assert.deepEqual(await run(11), a);
    assert.notDeepEqual(await run(12), a);
    ctx.close();
    const ctx2 = model.context({ nCtx: 128, seed: 11 });
    const g = ctx2.generate(FOX, opts);
    await collect(g);
    assert.deepEqual(g.tokens, a);
    ctx2.close();
  });

  await t.test('stop strings', async () => {
    const ctx = model.context({ nCtx: 128 });
    const run = async (stop) => {
      ctx.reset();
      const g = ctx.generate(FOX, { maxTokens: 24, temperature: 0, stop });
      return [await collect(g), g];
    };
    const [pieces] = await run(null);
    const full = pieces.join('');
    assert.ok(full.includes('\n\n'));
    for (const s of ['\n\n', 'p ya', full.slice(3, 9), full.slice(-5), pieces[1], pieces[0].slice(0, 2)]) {
      const [out, g] = await run([s, 'never-appears-zz']);
      assert.equal(out.join(''), full.slice(0, full.indexOf(s)), JSON.stringify(s));
      assert.equal(g.stopReason, 'stop');
    }
    const [out, g] = await run('never-appears-zz');
    assert.equal(out.join(''), full);
    assert.equal(g.stopReason, 'max_tokens');
    ctx.close();
  });

  await t.test('maxTokens 0, continuing, chat prompt', async () => {
    const ctx = model.context({ nCtx: 128 });
    let g = ctx.generate(FOX, { maxTokens: 0 });
    assert.deepEqual(await collect(g), []);
    assert.equal(g.stopReason, 'max_tokens');
    assert.equal(ctx.nPast, FOX_IDS.length);
    g = ctx.generate('', { maxTokens: 3, temperature: 0 });
    await collect(g);
    assert.equal(g.nPromptTokens, 0);
    ctx.reset();
    const prompt = bitnet.chatFormat([{ role: 'user', content: 'Hello' }]);
    g = ctx.generate(prompt, { maxTokens: 4, temperature: 0 });
    await collect(g);
    const ids = model.tokenize(prompt, { parseSpecial: true });
    assert.equal(g.nPromptTokens, ids.length);
    assert.ok(ids.includes(128009));
    ctx.close();
  });
});

test('chat format', { skip }, () => {
  assert.equal(bitnet.chatFormat([{ role: 'system', content: '  Be brief. ' }, { role: 'User', content: 'Hi' }]),
    'System: Be brief.<|eot_id|>User: Hi<|eot_id|>Assistant: ');
  assert.equal(bitnet.chatFormat([['assistant', 'Ünï']], false), 'Assistant: Ünï<|eot_id|>');
  assert.equal(bitnet.chatFormat([]), 'Assistant: ');
  assert.equal(bitnet.chatFormat([], false), '');
  const long = 'word '.repeat(5000);
  assert.equal(bitnet.chatFormat([['user', long]]), `User: ${long.trim()}<|eot_id|>Assistant: `);
  expectStatus(() => bitnet.chatFormat([['robot', 'x']]), bitnet.Status.INVALID_ARGUMENT);
});

test('perplexity and bench', { skip }, () => {
  const model = new bitnet.Model(I2S);
  const ctx = model.context({ nCtx: 64, nThreads: 1 });
  try {
    const text = Array(20).fill(FOX).join(' ');
    const seen = [];
    const r = ctx.perplexity(text, { nChunk: 32, onChunk: (c, p) => { seen.push([c, p]); } });
    assert.ok(Number.isFinite(r.ppl) && r.ppl > 1);
    assert.ok(r.nChunks > 1);
    assert.deepEqual(seen.map(([c]) => c), Array.from({ length: r.nChunks }, (_, i) => i + 1));
    assert.equal(ctx.nPast, 0);
    assert.equal(ctx.perplexity(text, { nChunk: 32, maxChunks: 1 }).nChunks, 1);
    assert.equal(ctx.perplexity(text, { nChunk: 32, onChunk: () => true }).nChunks, 1);
    assert.throws(() => ctx.perplexity(text, { nChunk: 32, onChunk: () => { throw new RangeError('boom'); } }),
      RangeError);
    const b = ctx.bench({ nPrompt: 16, nGen: 4, repetitions: 2 });
    assert.ok(b.ppMean > 0 && b.tgBest > 0);
    assert.equal(b.nThreads, 1);
    expectStatus(() => ctx.bench({ nPrompt: 100, nGen: 4, repetitions: 1 }), bitnet.Status.CONTEXT_FULL);
  } finally {
    ctx.close();
    model.close();
  }
});
