'use strict';
// bitnet — Node.js bindings of libbitnet over koffi (no compiled addon of our own).
//
//   const bitnet = require('bitnet');
//   const model = new bitnet.Model('model.gguf');
//   const ctx = model.context();
//   for await (const piece of ctx.generate('The capital of France is', { maxTokens: 32 }))
//     process.stdout.write(piece);
//   ctx.close(); model.close();
//
// The library is found in this order: $BITNET_LIBRARY (a file path; no fallback when set), a
// libbitnet.so* in this package's folder, <repo>/build/libbitnet.so when running from the
// source tree, then "libbitnet.so.0" on the system search path.

const ffi = require('./lib/ffi');

const { koffi, structs } = ffi;

const Status = Object.freeze({
  OK: 0,
  INVALID_ARGUMENT: 1,
  IO: 2,
  BAD_FORMAT: 3,
  UNSUPPORTED: 4,
  OUT_OF_MEMORY: 5,
  CONTEXT_FULL: 6,
  ABORTED: 7,
  BUFFER_TOO_SMALL: 8,
  NOT_FOUND: 9,
  INTERNAL: 10,
});
const STATUS_NAMES = Object.fromEntries(Object.entries(Status).map(([k, v]) => [v, k]));

function L() {
  return ffi.load().fns;
}

/** A libbitnet call failed. `status` is the numeric bitnet_status, `statusName` e.g. "IO". */
class BitnetError extends Error {
  constructor(status, message) {
    const name = STATUS_NAMES[status] || String(status);
    const msg = message || statusString(status);
    super(`${msg} [${name}]`);
    this.name = 'BitnetError';
    this.status = status;
    this.statusName = name;
    this.code = `BITNET_ERR_${name}`;
    this.libraryMessage = msg;
  }
}

function statusString(status) {
  try {
    return L().bitnet_status_string(status);
  } catch (e) {
    return `status ${status}`;
  }
}

// Throws for a non-OK status, with the calling thread's library message. Only valid right after
// a synchronous call (the message is thread-local in the library).
function check(status) {
  if (status !== 0) throw new BitnetError(status, L().bitnet_last_error_message());
}

function closedError(what) {
  return new BitnetError(Status.INVALID_ARGUMENT, `the ${what} has been closed`);
}

// Calls fn(buf, size, neededOut) growing buf while the library says BUFFER_TOO_SMALL.
function grow(fn, size, make) {
  for (let attempt = 0; attempt < 8; attempt++) {
    const buf = make(size);
    const needed = [0];
    const st = fn(buf, size, needed);
    if (st === Status.BUFFER_TOO_SMALL && Number(needed[0]) > size) {
      size = Number(needed[0]);
      continue;
    }
    check(st);
    return [buf, Number(needed[0])];
  }
  throw new BitnetError(Status.INTERNAL, 'the size the library asks for keeps changing');
}

const makeBytes = (n) => Buffer.alloc(Math.max(1, n));
const makeTokens = (n) => new Int32Array(Math.max(1, n));
const utf8 = () => new TextDecoder('utf-8', { ignoreBOM: true }); // invalid bytes -> U+FFFD

function textBytes(text) {
  if (typeof text === 'string') return Buffer.from(text, 'utf8');
  if (text instanceof Uint8Array) return text;
  throw new TypeError('expected a string or a Uint8Array/Buffer');
}

function tokenArray(ids) {
  if (ids instanceof Int32Array) return ids;
  return Int32Array.from(ids, (x) => {
    if (!Number.isInteger(x)) throw new TypeError(`token ids must be integers, not ${x}`);
    return x;
  });
}

/** Runtime version string of the loaded library, e.g. "0.2.0". */
function version() {
  return L().bitnet_version();
}

function versionNumber() {
  return L().bitnet_version_number();
}

/**
 * Renders chat messages ({role, content} objects or [role, content] pairs; role "system", "user"
 * or "assistant") in the BitNet b1.58 2B4T training format. No BOS: generate() adds it.
 */
function chatFormat(messages, addGenerationPrompt = true) {
  const msgs = Array.from(messages, (m) => (Array.isArray(m)
    ? { role: String(m[0]), content: String(m[1]) }
    : { role: String(m.role), content: String(m.content) }));
  const f = L().bitnet_chat_format;
  const guess = 256 + msgs.reduce((a, m) => a + Buffer.byteLength(m.role) + Buffer.byteLength(m.content) + 16, 0);
  const [buf, n] = grow((b, size, needed) => f(msgs.length ? msgs : null, msgs.length,
    addGenerationPrompt ? 1 : 0, b, size, needed), guess, makeBytes);
  return utf8().decode(buf.subarray(0, Math.max(0, n - 1)));
}

const LM_HEAD = { auto: 0, f16: 1, q8: 2, q4: 3 };
const KV = { f16: 0, f32: 1 };
const LOGITS = { none: 0, last: 1, all: 2 };

// Fallback for objects that are never closed: free their native handles when collected.
const registry = new FinalizationRegistry((release) => release());

/**
 * A loaded GGUF model. `new Model(path, { useMmap = true, lmHead = 'auto' })`.
 * Contexts keep the native model alive: close() makes this object unusable, the memory goes when
 * its last Context is closed too.
 */
class Model {
  constructor(path, { useMmap = true, lmHead = 'auto', repack = true } = {}) {
    const f = L();
    const params = f.bitnet_model_default_params();
    params.use_mmap = useMmap ? 1 : 0;
    params.repack = repack ? 1 : 0;
    if (typeof lmHead === 'string') {
      if (!(lmHead.toLowerCase() in LM_HEAD)) {
        throw new BitnetError(Status.INVALID_ARGUMENT,
          `lmHead must be one of ${Object.keys(LM_HEAD).join(', ')}, not '${lmHead}'`);
      }
      params.lm_head_type = LM_HEAD[lmHead.toLowerCase()];
    } else {
      params.lm_head_type = lmHead | 0;
    }
    const out = [null];
    this.path = String(path);
    check(f.bitnet_model_load(this.path, params, out));
    this._handle = out[0];
    this._closed = false;
    this._users = 0;
    this._pieces = new Map();
    this._nVocab = f.bitnet_model_n_vocab(this._handle);
    const handle = this._handle;
    this._token = {};
    registry.register(this, () => f.bitnet_model_free(handle), this._token);
  }

  close() {
    this._closed = true;
    this._release();
  }

  _release() {
    if (this._closed && this._users === 0 && this._handle) {
      const h = this._handle;
      this._handle = null;
      registry.unregister(this._token);
      L().bitnet_model_free(h);
    }
  }

  get closed() {
    return this._closed;
  }

  _live() {
    if (this._closed) throw closedError('Model');
    return this._handle;
  }

  get nVocab() { this._live(); return this._nVocab; }
  get nCtxTrain() { return L().bitnet_model_n_ctx_train(this._live()); }
  get nEmbd() { return L().bitnet_model_n_embd(this._live()); }
  get nLayer() { return L().bitnet_model_n_layer(this._live()); }
  get nHead() { return L().bitnet_model_n_head(this._live()); }
  get nHeadKv() { return L().bitnet_model_n_head_kv(this._live()); }
  /** Total tensor bytes (a Number; BigInt above 2^53). */
  get sizeBytes() { return L().bitnet_model_size_bytes(this._live()); }
  get nParams() { return L().bitnet_model_n_params(this._live()); }
  get architecture() { return L().bitnet_model_architecture(this._live()); }
  /** Token ids, or null when the vocabulary has none. */
  get bos() { const t = L().bitnet_token_bos(this._live()); return t < 0 ? null : t; }
  get eos() { const t = L().bitnet_token_eos(this._live()); return t < 0 ? null : t; }
  get eot() { const t = L().bitnet_token_eot(this._live()); return t < 0 ? null : t; }
  get addBos() { return L().bitnet_model_add_bos(this._live()) !== 0; }
  isEog(token) { return L().bitnet_token_is_eog(this._live(), token) !== 0; }

  /** Metadata value as text, or `fallback` (undefined) when the key does not exist. */
  meta(key, fallback = undefined) {
    const h = this._live();
    const f = L().bitnet_model_meta_get;
    const needed = [0];
    const st = f(h, key, null, 0, needed);
    if (st === Status.NOT_FOUND) return fallback;
    if (st !== Status.OK && st !== Status.BUFFER_TOO_SMALL) check(st);
    const [buf, n] = grow((b, size, nd) => f(h, key, b, size, nd), Math.max(1, Number(needed[0])), makeBytes);
    return utf8().decode(buf.subarray(0, Math.max(0, n - 1)));
  }

  /** All metadata as a fresh { key: text } object. */
  get metadata() {
    const h = this._live();
    if (!this._metadata) {
      const f = L();
      const out = {};
      for (let i = 0; i < f.bitnet_model_meta_count(h); i++) {
        const [buf, n] = grow((b, size, nd) => f.bitnet_model_meta_key(h, i, b, size, nd), 64, makeBytes);
        const key = utf8().decode(buf.subarray(0, Math.max(0, n - 1)));
        out[key] = this.meta(key);
      }
      this._metadata = out;
    }
    return { ...this._metadata };
  }

  /** Text (string or bytes) to token ids (a plain Array of numbers). */
  tokenize(text, { addBos = true, parseSpecial = false } = {}) {
    return tokenizeWith(this._live(), textBytes(text), addBos, parseSpecial);
  }

  /** Bytes of the concatenated pieces (a Buffer; may end inside a UTF-8 character). */
  detokenizeBytes(ids, { renderSpecial = false } = {}) {
    const h = this._live();
    const arr = tokenArray(ids);
    const f = L().bitnet_detokenize;
    const [buf, n] = grow((b, size, nd) => f(h, arr.length ? arr : null, arr.length, renderSpecial ? 1 : 0, b, size, nd),
      8 * arr.length + 16, makeBytes);
    return buf.subarray(0, n);
  }

  /** Token ids to text; invalid UTF-8 becomes U+FFFD. */
  detokenize(ids, opts = {}) {
    return utf8().decode(this.detokenizeBytes(ids, opts));
  }

  /** The bytes of one token (a Buffer: it may be part of a multi-byte character). */
  tokenToPiece(token, { renderSpecial = false } = {}) {
    return Buffer.from(this._piece(this._live(), token, renderSpecial));
  }

  _piece(h, token, renderSpecial) {
    const key = renderSpecial ? -1 - token : token;
    let piece = this._pieces.get(key);
    if (piece === undefined) {
      const f = L().bitnet_token_to_piece;
      const [buf, n] = grow((b, size, nd) => f(h, token, renderSpecial ? 1 : 0, b, size, nd), 32, makeBytes);
      piece = Uint8Array.prototype.slice.call(buf, 0, n);
      this._pieces.set(key, piece);
    }
    return piece;
  }

  /** A new inference context: { nCtx = 0, nThreads = 0, kvType = 'f16', seed = 0, nBatch = 0 }. */
  context(opts = {}) {
    return new Context(this, opts);
  }
}

if (Symbol.dispose) {
  Model.prototype[Symbol.dispose] = function dispose() { this.close(); };
}

function tokenizeWith(h, data, addBos, parseSpecial) {
  const f = L().bitnet_tokenize;
  const [buf, n] = grow((b, size, nd) => f(h, data.length ? data : null, data.length, addBos ? 1 : 0,
    parseSpecial ? 1 : 0, b, size, nd), data.length + 2, makeTokens);
  return Array.from(buf.subarray(0, n));
}

/**
 * An inference state (KV cache, scratch, worker threads). One call at a time; abort() may be
 * called at any time.
 */
class Context {
  constructor(model, { nCtx = 0, nThreads = 0, kvType = 'f16', seed = 0, nBatch = 0 } = {}) {
    const mh = model._live();
    const f = L();
    const params = f.bitnet_context_default_params();
    if (typeof kvType === 'string') {
      if (!(kvType.toLowerCase() in KV)) {
        throw new BitnetError(Status.INVALID_ARGUMENT,
          `kvType must be one of ${Object.keys(KV).join(', ')}, not '${kvType}'`);
      }
      params.kv_type = KV[kvType.toLowerCase()];
    } else {
      params.kv_type = kvType | 0;
    }
    for (const [name, v, lo, hi] of [['nCtx', nCtx, 0, 2 ** 32 - 1], ['nThreads', nThreads, -(2 ** 31), 2 ** 31 - 1],
      ['nBatch', nBatch, -(2 ** 31), 2 ** 31 - 1]]) {
      if (!Number.isInteger(v) || v < lo || v > hi) {
        throw new BitnetError(Status.INVALID_ARGUMENT, `${name} ${v} is out of range`);
      }
    }
    params.n_ctx = nCtx;
    params.n_threads = nThreads;
    params.n_batch = nBatch;
    params.seed = seed;
    this.seed = seed;
    const out = [null];
    check(f.bitnet_context_new(mh, params, out));
    this._handle = out[0];
    this._model = model;
    this._inflight = 0;
    this._closing = false;
    model._users += 1;
    const handle = this._handle;
    this._token = {};
    // If never closed: free the native context and drop its use of the model.
    registry.register(this, () => {
      f.bitnet_context_free(handle);
      model._users -= 1;
      model._release();
    }, this._token);
  }

  get model() { return this._model; }

  /** Frees the context (idempotent). If an async call is running it is freed when that ends. */
  close() {
    if (this._closing) return;
    this._closing = true;
    if (this._inflight === 0) this._free();
  }

  _free() {
    const h = this._handle;
    if (!h) return;
    this._handle = null;
    registry.unregister(this._token);
    L().bitnet_context_free(h);
    this._model._users -= 1;
    this._model._release();
  }

  get closed() {
    return this._closing;
  }

  _live() {
    if (this._closing || !this._handle) throw closedError('Context');
    return this._handle;
  }

  get nCtx() { return L().bitnet_context_n_ctx(this._live()); }
  /** Tokens in the KV cache (position of the next token). */
  get nPast() { return L().bitnet_context_n_past(this._live()); }
  get nThreads() { return L().bitnet_context_n_threads(this._live()); }
  get nLogits() { return L().bitnet_n_logits(this._live()); }

  /** Empties the KV cache and clears the abort flag. */
  reset() {
    check(L().bitnet_context_reset(this._live()));
  }

  /** Makes the running (or next) call stop with ABORTED. A no-op on a closed context. */
  abort() {
    if (this._handle) L().bitnet_context_abort(this._handle);
  }

  _row(h, i) {
    const ptr = L().bitnet_get_logits(h, i);
    if (!ptr) throw new BitnetError(Status.INVALID_ARGUMENT, `no logits row ${i}`);
    // Copy: the library's buffer is reused by the next eval.
    return new Float32Array(koffi.view(ptr, 4 * this._model._nVocab)).slice();
  }

  _rows(h, mode) {
    if (mode === 'none') return null;
    if (mode === 'last') return this._row(h, -1);
    const n = L().bitnet_n_logits(h);
    const rows = [];
    for (let i = 0; i < n; i++) rows.push(this._row(h, i));
    return rows;
  }

  /**
   * Evaluates tokens after those in the KV cache (synchronously). logits: 'last' (a Float32Array
   * of nVocab), 'all' (one per token) or 'none' (null).
   */
  eval(ids, { logits = 'last' } = {}) {
    const h = this._live();
    if (!(logits in LOGITS)) {
      throw new BitnetError(Status.INVALID_ARGUMENT, `logits must be one of ${Object.keys(LOGITS).join(', ')}`);
    }
    const arr = tokenArray(ids);
    check(L().bitnet_eval(h, arr.length ? arr : null, arr.length, LOGITS[logits]));
    return this._rows(h, logits);
  }

  /** As eval(), on a worker thread: returns a Promise. */
  async evalAsync(ids, { logits = 'last' } = {}) {
    if (!(logits in LOGITS)) {
      throw new BitnetError(Status.INVALID_ARGUMENT, `logits must be one of ${Object.keys(LOGITS).join(', ')}`);
    }
    const h = await this._evalAsync(tokenArray(ids), LOGITS[logits]);
    return this._rows(h, logits);
  }

  // Checks what bitnet_eval would reject (so that its message is exact: the library's message is
  // thread-local and an async call runs on a worker thread), then evaluates on a worker thread.
  _evalAsync(arr, mode) {
    const h = this._live();
    const f = L();
    const nVocab = this._model._nVocab;
    if (arr.length === 0) {
      return Promise.reject(new BitnetError(Status.INVALID_ARGUMENT, 'bitnet_eval: n_tokens must be > 0'));
    }
    for (let i = 0; i < arr.length; i++) {
      if (arr[i] < 0 || arr[i] >= nVocab) {
        return Promise.reject(new BitnetError(Status.INVALID_ARGUMENT,
          `eval: token ${i} has id ${arr[i]}, outside the vocabulary [0, ${nVocab})`));
      }
    }
    const nPast = f.bitnet_context_n_past(h);
    const nCtx = f.bitnet_context_n_ctx(h);
    if (nPast + arr.length > nCtx) {
      return Promise.reject(new BitnetError(Status.CONTEXT_FULL,
        `eval: ${arr.length} tokens do not fit: ${nPast} of ${nCtx} context positions are used`));
    }
    this._inflight += 1;
    return new Promise((resolve, reject) => {
      f.bitnet_eval.async(h, arr, arr.length, mode, (err, st) => {
        this._inflight -= 1;
        if (this._closing && this._inflight === 0) {
          this._free();
          reject(closedError('Context'));
          return;
        }
        if (err) reject(err);
        else if (st !== 0) reject(new BitnetError(st, `bitnet_eval: ${statusString(st)}`));
        else resolve(h);
      });
    });
  }

  /**
   * Streams generated text: an async iterator of string pieces (see Generation).
   * prompt: text (BOS added when the cache is empty and addBos; control tokens parsed when
   * parseSpecial), an array of token ids (used as given), or '' / [] to continue.
   * Options: maxTokens=128, temperature=0.8 (<= 0: greedy), topK=40, topP=0.95, minP=0.05,
   * repeatPenalty=1.0, repeatLastN=64, seed (default: the context's), stop (string or strings),
   * addBos=true, parseSpecial=true, renderSpecial=false.
   */
  generate(prompt, opts = {}) {
    return new Generation(this, prompt, opts);
  }

  /** llama.cpp-style perplexity ({ nChunk = 0, maxChunks = 0, onChunk(chunk, ppl) -> true stops }). */
  perplexity(text, { nChunk = 0, maxChunks = 0, onChunk = null } = {}) {
    const h = this._live();
    const data = textBytes(text);
    const res = { size: koffi.sizeof(structs.PerplexityResult) };
    let error = null;
    const cb = onChunk ? (chunk, ppl) => {
      try {
        return onChunk(chunk, ppl) ? 1 : 0;
      } catch (e) {
        error = error || e;
        return 1;
      }
    } : null;
    const st = L().bitnet_perplexity(h, data.length ? data : Buffer.alloc(1), data.length, nChunk, maxChunks, cb, null, res);
    if (error) throw error;
    check(st);
    return {
      ppl: res.ppl, pplStderr: res.ppl_stderr, nllMean: res.nll_mean,
      nChunks: res.n_chunks, nScored: res.n_scored, nTokens: res.n_tokens,
    };
  }

  /** llama-bench style throughput ({ nPrompt = 512, nGen = 128, repetitions = 5, warmup = true }). */
  bench({ nPrompt = 512, nGen = 128, repetitions = 5, warmup = true } = {}) {
    const h = this._live();
    const f = L();
    const p = f.bitnet_bench_default_params();
    Object.assign(p, { n_prompt: nPrompt, n_gen: nGen, repetitions, warmup: warmup ? 1 : 0 });
    const r = { size: koffi.sizeof(structs.BenchResult) };
    check(f.bitnet_bench(h, p, r));
    return {
      ppMean: r.pp_mean, ppStddev: r.pp_stddev, ppMedian: r.pp_median, ppBest: r.pp_best,
      tgMean: r.tg_mean, tgStddev: r.tg_stddev, tgMedian: r.tg_median, tgBest: r.tg_best,
      nThreads: r.n_threads,
    };
  }
}

if (Symbol.dispose) {
  Context.prototype[Symbol.dispose] = function dispose() { this.close(); };
}

/**
 * One generation: `for await (const piece of gen)`.
 *
 * Driven token by token from JS (bitnet_eval on a worker thread + a bitnet_sampler, the same
 * steps and sampler as bitnet_generate, so a seed gives the same tokens): the event loop keeps
 * running, pieces arrive as they are decoded, `break` stops at once, and stop strings are exact
 * (text that could start a stop string is held back until it is known not to).
 * Pieces are whole characters (a streaming TextDecoder), so their concatenation equals
 * model.detokenize(gen.tokens) unless a stop string ended the generation.
 *
 * gen.tokens: sampled ids (a final end-of-generation token included, not evaluated, as in
 * bitnet_generate); gen.nPromptTokens; gen.stopReason: null, then 'eog', 'max_tokens' or 'stop';
 * gen.text: the text yielded so far. CONTEXT_FULL / ABORTED errors are thrown after the text
 * produced before them has been yielded.
 */
class Generation {
  constructor(ctx, prompt, {
    maxTokens = 128, temperature = 0.8, topK = 40, topP = 0.95, minP = 0.05, repeatPenalty = 1.0,
    repeatLastN = 64, seed = undefined, stop = null, addBos = true, parseSpecial = true,
    renderSpecial = false,
  } = {}) {
    ctx._live();
    if (!Number.isInteger(maxTokens) || maxTokens < 0) {
      throw new BitnetError(Status.INVALID_ARGUMENT, 'maxTokens must be an integer >= 0');
    }
    let stops = stop == null ? [] : (typeof stop === 'string' ? [stop] : Array.from(stop));
    if (stops.some((s) => typeof s !== 'string' || s.length === 0)) {
      throw new BitnetError(Status.INVALID_ARGUMENT, 'stop strings must be non-empty strings');
    }
    const f = L();
    const sp = f.bitnet_sampling_default_params();
    Object.assign(sp, {
      temperature, top_k: topK, top_p: topP, min_p: minP, repeat_penalty: repeatPenalty,
      repeat_last_n: repeatLastN, seed: seed === undefined ? ctx.seed : seed,
    });
    const out = [null];
    check(f.bitnet_sampler_new(sp, out)); // validates the parameters
    this._sampler = out[0];
    const sampler = this._sampler;
    this._token = {};
    registry.register(this, () => f.bitnet_sampler_free(sampler), this._token);
    this._ctx = ctx;
    this._prompt = prompt;
    this._maxTokens = maxTokens;
    this._stops = stops;
    this._addBos = addBos;
    this._parseSpecial = parseSpecial;
    this._renderSpecial = renderSpecial;
    this.tokens = [];
    this.nPromptTokens = 0;
    this.stopReason = null;
    this._pieces = [];
    this._it = this._run();
  }

  get text() {
    return this._pieces.join('');
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  async next() {
    const r = await this._it.next();
    if (!r.done) this._pieces.push(r.value);
    return r;
  }

  async return(value) {
    try {
      return await this._it.return(value);
    } finally {
      this._free();
    }
  }

  async throw(err) {
    try {
      return await this._it.throw(err);
    } finally {
      this._free();
    }
  }

  /** Stops the generation and frees its sampler (idempotent). */
  close() {
    return this.return(undefined);
  }

  _free() {
    const s = this._sampler;
    if (s) {
      this._sampler = null;
      registry.unregister(this._token);
      L().bitnet_sampler_free(s);
    }
  }

  // [text to yield now, text held back, stop string found]
  _split(held, final) {
    let first = -1;
    for (const s of this._stops) {
      const i = held.indexOf(s);
      if (i >= 0 && (first < 0 || i < first)) first = i;
    }
    if (first >= 0) return [held.slice(0, first), '', true];
    if (final) return [held, '', false];
    let keep = 0;
    for (const s of this._stops) {
      for (let k = Math.min(s.length - 1, held.length); k > keep; k--) {
        if (held.endsWith(s.slice(0, k))) {
          keep = k;
          break;
        }
      }
    }
    return [held.slice(0, held.length - keep), held.slice(held.length - keep), false];
  }

  async* _run() {
    const ctx = this._ctx;
    const model = ctx._model;
    const f = L();
    try {
      let h = ctx._live();
      const mh = model._handle; // alive while this context is, even if the Model was closed
      let ids;
      if (typeof this._prompt === 'string' || this._prompt instanceof Uint8Array) {
        const bos = this._addBos && f.bitnet_context_n_past(h) === 0;
        ids = tokenizeWith(mh, textBytes(this._prompt), bos, this._parseSpecial);
      } else {
        ids = Array.from(this._prompt, Number);
      }
      if (ids.length > 0) {
        h = await ctx._evalAsync(tokenArray(ids), LOGITS.last);
      } else if (f.bitnet_n_logits(h) === 0) {
        throw new BitnetError(Status.INVALID_ARGUMENT,
          'generate: the prompt is empty and the context holds no logits to continue from');
      }
      this.nPromptTokens = ids.length;
      for (const t of ids) check(f.bitnet_sampler_accept(this._sampler, t));

      const decoder = utf8();
      const nVocab = model._nVocab;
      const out = [0];
      let held = '';
      while (this.tokens.length < this._maxTokens) {
        h = ctx._live();
        const logits = f.bitnet_get_logits(h, -1);
        if (!logits) throw new BitnetError(Status.INTERNAL, 'generate: no logits after eval');
        check(f.bitnet_sampler_sample(this._sampler, logits, nVocab, out));
        const tok = out[0];
        this.tokens.push(tok);
        if (f.bitnet_token_is_eog(mh, tok)) {
          this.stopReason = 'eog';
          break;
        }
        held += decoder.decode(model._piece(mh, tok, this._renderSpecial), { stream: true });
        let now;
        let hit;
        [now, held, hit] = this._split(held, false);
        if (now) yield now;
        if (hit) {
          this.stopReason = 'stop';
          return;
        }
        if (this.tokens.length === this._maxTokens) break;
        try {
          h = ctx._live(); // the consumer may have closed the context during the yield
          const nCtx = f.bitnet_context_n_ctx(h);
          if (f.bitnet_context_n_past(h) >= nCtx) {
            throw new BitnetError(Status.CONTEXT_FULL,
              `generate: the context is full (${nCtx} tokens) after ${this.tokens.length} generated tokens`);
          }
          await ctx._evalAsync(Int32Array.of(tok), LOGITS.last);
        } catch (e) {
          const [rest] = this._split(held + decoder.decode(), true);
          if (rest) yield rest;
          throw e;
        }
      }
      if (this.stopReason === null) this.stopReason = 'max_tokens';
      const [rest, , hit] = this._split(held + decoder.decode(), true);
      if (rest) yield rest;
      if (hit) this.stopReason = 'stop';
    } finally {
      this._free();
    }
  }
}

module.exports = {
  Model,
  Context,
  Generation,
  BitnetError,
  LibraryNotFoundError: ffi.LibraryNotFoundError,
  Status,
  chatFormat,
  version,
  versionNumber,
  /** Path or name of the loaded library (loads it if needed). */
  libraryPath: () => ffi.load().path,
  /** Loads the library from an explicit path (before any other use). */
  loadLibrary: (p) => ffi.load(p).path,
  /** The raw koffi functions and struct types, for advanced use and tests. */
  native: { get fns() { return L(); }, structs, koffi, PieceCallback: ffi.PieceCallback },
};
