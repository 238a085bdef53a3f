'use strict';
// koffi declarations of the libbitnet C API (include/bitnet.h) and the library lookup.
// Structs mirror the header field for field; koffi lays them out with the C ABI's alignment
// (the tests compare koffi.sizeof() with the `size` the library's *_default_params() report).

const fs = require('node:fs');
const path = require('node:path');
const koffi = require('koffi');

// Opaque handles.
koffi.opaque('bitnet_model');
koffi.opaque('bitnet_context');
koffi.opaque('bitnet_sampler');

const structs = {
  ModelParams: koffi.struct('bitnet_model_params', {
    size: 'size_t',
    use_mmap: 'int',
    lm_head_type: 'int',
    repack: 'int',
  }),
  ContextParams: koffi.struct('bitnet_context_params', {
    size: 'size_t',
    n_ctx: 'uint32_t',
    n_threads: 'int32_t',
    n_batch: 'int32_t',
    seed: 'uint64_t',
    kv_type: 'int',
    n_seq_max: 'uint32_t',
    embeddings: 'int',
    pooling_type: 'int',
    embd_normalize: 'int',
    device: 'int',
  }),
  SamplingParams: koffi.struct('bitnet_sampling_params', {
    size: 'size_t',
    temperature: 'float',
    top_k: 'int32_t',
    top_p: 'float',
    min_p: 'float',
    repeat_penalty: 'float',
    repeat_last_n: 'int32_t',
    seed: 'uint64_t',
  }),
  GenerateParams: koffi.struct('bitnet_generate_params', {
    size: 'size_t',
    max_tokens: 'int32_t',
    sampling: 'const bitnet_sampling_params *', // null: the default sampling settings
    add_bos: 'int',
    parse_special: 'int',
    render_special: 'int',
  }),
  GenerateResult: koffi.struct('bitnet_generate_result', {
    size: 'size_t',
    n_prompt_tokens: 'int32_t',
    n_generated: 'int32_t',
    prompt_ms: 'double',
    generate_ms: 'double',
    prompt_tokens_per_s: 'double',
    generate_tokens_per_s: 'double',
    stop_reason: 'int',
    last_token: 'int32_t',
  }),
  ChatMessage: koffi.struct('bitnet_chat_message', {
    role: 'const char *',
    content: 'const char *',
  }),
  PerplexityResult: koffi.struct('bitnet_perplexity_result', {
    size: 'size_t',
    ppl: 'double',
    ppl_stderr: 'double',
    nll_mean: 'double',
    n_chunks: 'int32_t',
    n_scored: 'int32_t',
    n_tokens: 'int32_t',
  }),
  BenchParams: koffi.struct('bitnet_bench_params', {
    size: 'size_t',
    n_prompt: 'int32_t',
    n_gen: 'int32_t',
    repetitions: 'int32_t',
    warmup: 'int32_t',
    n_parallel: 'int32_t',
  }),
  BenchResult: koffi.struct('bitnet_bench_result', {
    size: 'size_t',
    pp_mean: 'double',
    pp_stddev: 'double',
    pp_median: 'double',
    pp_best: 'double',
    tg_mean: 'double',
    tg_stddev: 'double',
    tg_median: 'double',
    tg_best: 'double',
    n_threads: 'int32_t',
  }),
};

const PieceCallback = koffi.proto(
  'int bitnet_piece_callback(const uint8_t *piece, size_t piece_len, int32_t token, void *user_data)');
const PerplexityCallback = koffi.proto(
  'int bitnet_perplexity_callback(int32_t chunk, double running_ppl, void *user_data)');

// Byte buffers are declared `uint8_t *` so that Buffers/Uint8Arrays pass straight through.
const PROTOTYPES = [
  'const char *bitnet_version(void)',
  'int bitnet_version_number(void)',
  'const char *bitnet_status_string(int status)',
  'const char *bitnet_last_error_message(void)',
  // model
  'bitnet_model_params bitnet_model_default_params(void)',
  'int bitnet_model_load(const char *path, const bitnet_model_params *params, _Out_ bitnet_model **out)',
  'void bitnet_model_free(bitnet_model *model)',
  'int32_t bitnet_model_n_vocab(const bitnet_model *model)',
  'int32_t bitnet_model_n_ctx_train(const bitnet_model *model)',
  'int32_t bitnet_model_n_embd(const bitnet_model *model)',
  'int32_t bitnet_model_n_layer(const bitnet_model *model)',
  'int32_t bitnet_model_n_head(const bitnet_model *model)',
  'int32_t bitnet_model_n_head_kv(const bitnet_model *model)',
  'uint64_t bitnet_model_size_bytes(const bitnet_model *model)',
  'uint64_t bitnet_model_n_params(const bitnet_model *model)',
  'const char *bitnet_model_architecture(const bitnet_model *model)',
  'int32_t bitnet_model_meta_count(const bitnet_model *model)',
  'int bitnet_model_meta_key(const bitnet_model *model, int32_t i, uint8_t *buf, size_t buf_size, _Out_ size_t *needed)',
  'int bitnet_model_meta_get(const bitnet_model *model, const char *key, uint8_t *buf, size_t buf_size, _Out_ size_t *needed)',
  'int32_t bitnet_token_bos(const bitnet_model *model)',
  'int32_t bitnet_token_eos(const bitnet_model *model)',
  'int32_t bitnet_token_eot(const bitnet_model *model)',
  'int bitnet_token_is_eog(const bitnet_model *model, int32_t token)',
  'int bitnet_model_add_bos(const bitnet_model *model)',
  // tokenizer
  'int bitnet_tokenize(const bitnet_model *model, const uint8_t *text, size_t text_len, int add_bos, int parse_special, int32_t *tokens, size_t n_tokens_max, _Out_ size_t *n_tokens_out)',
  'int bitnet_token_to_piece(const bitnet_model *model, int32_t token, int render_special, uint8_t *buf, size_t buf_size, _Out_ size_t *n_bytes_out)',
  'int bitnet_detokenize(const bitnet_model *model, const int32_t *tokens, size_t n_tokens, int render_special, uint8_t *buf, size_t buf_size, _Out_ size_t *n_bytes_out)',
  // context
  'bitnet_context_params bitnet_context_default_params(void)',
  'int bitnet_context_new(bitnet_model *model, const bitnet_context_params *params, _Out_ bitnet_context **out)',
  'void bitnet_context_free(bitnet_context *ctx)',
  'int bitnet_context_reset(bitnet_context *ctx)',
  'uint32_t bitnet_context_n_ctx(const bitnet_context *ctx)',
  'uint32_t bitnet_context_n_past(const bitnet_context *ctx)',
  'int32_t bitnet_context_n_threads(const bitnet_context *ctx)',
  'void bitnet_context_abort(bitnet_context *ctx)',
  'int bitnet_eval(bitnet_context *ctx, const int32_t *tokens, size_t n_tokens, int logits_mode)',
  'const float *bitnet_get_logits(bitnet_context *ctx, int32_t i)',
  'int32_t bitnet_n_logits(const bitnet_context *ctx)',
  // sampling
  'bitnet_sampling_params bitnet_sampling_default_params(void)',
  'int bitnet_sampler_new(const bitnet_sampling_params *params, _Out_ bitnet_sampler **out)',
  'void bitnet_sampler_free(bitnet_sampler *sampler)',
  'int bitnet_sampler_sample(bitnet_sampler *sampler, const float *logits, int32_t n_vocab, _Out_ int32_t *out)',
  'int bitnet_sampler_accept(bitnet_sampler *sampler, int32_t token)',
  'int bitnet_sampler_reset(bitnet_sampler *sampler)',
  // generation
  'bitnet_generate_params bitnet_generate_default_params(void)',
  'int bitnet_generate(bitnet_context *ctx, const uint8_t *prompt, size_t prompt_len, const bitnet_generate_params *params, bitnet_piece_callback *callback, void *user_data, _Inout_ bitnet_generate_result *result)',
  'int bitnet_generate_tokens(bitnet_context *ctx, const int32_t *prompt, size_t n_prompt, const bitnet_generate_params *params, bitnet_piece_callback *callback, void *user_data, _Inout_ bitnet_generate_result *result)',
  // chat, perplexity, bench
  'int bitnet_chat_format(const bitnet_chat_message *messages, size_t n_messages, int add_generation_prompt, uint8_t *buf, size_t buf_size, _Out_ size_t *needed)',
  'int bitnet_perplexity(bitnet_context *ctx, const uint8_t *text, size_t text_len, int32_t n_chunk, int32_t max_chunks, bitnet_perplexity_callback *callback, void *user_data, _Inout_ bitnet_perplexity_result *result)',
  'bitnet_bench_params bitnet_bench_default_params(void)',
  'int bitnet_bench(bitnet_context *ctx, const bitnet_bench_params *params, _Inout_ bitnet_bench_result *result)',
];

class LibraryNotFoundError extends Error {
  constructor(tried) {
    super('cannot load libbitnet; set BITNET_LIBRARY to the path of libbitnet.so. Tried:\n' +
      tried.map(([where, why]) => `  ${where}: ${why}`).join('\n'));
    this.name = 'LibraryNotFoundError';
    this.tried = tried;
  }
}

function sourceTreeRoot() {
  const root = path.resolve(__dirname, '..', '..', '..'); // <repo>/bindings/node/lib
  if (fs.existsSync(path.join(root, 'include', 'bitnet.h')) &&
      fs.existsSync(path.join(root, 'bindings', 'node', 'package.json'))) {
    return root;
  }
  return null;
}

function candidates() {
  if (process.env.BITNET_LIBRARY) {
    // An explicit choice must not silently fall back to another library.
    return [['BITNET_LIBRARY', process.env.BITNET_LIBRARY]];
  }
  const out = [];
  const pkg = path.resolve(__dirname, '..');
  let bundled = [];
  try {
    bundled = fs.readdirSync(pkg)
      .filter((f) => /^libbitnet\.so(\.|$)|^libbitnet.*\.dylib$|^bitnet\.dll$/.test(f))
      .sort();
  } catch (e) { /* unreadable package folder: skip */ }
  if (bundled.length === 0) bundled = ['libbitnet.so'];
  for (const f of bundled) out.push(['next to the package', path.join(pkg, f)]);
  const root = sourceTreeRoot();
  if (root) out.push(['build tree', path.join(root, 'build', 'libbitnet.so')]);
  const sys = { darwin: 'libbitnet.0.dylib', win32: 'bitnet.dll' }[process.platform] || 'libbitnet.so.0';
  out.push(['system search path', sys]);
  return out;
}

let cached = null;

function load(explicitPath) {
  if (cached && explicitPath === undefined) return cached;
  const list = explicitPath !== undefined ? [['argument', explicitPath]] : candidates();
  const tried = [];
  for (const [where, cand] of list) {
    if (cand.includes(path.sep) && !fs.existsSync(cand)) {
      tried.push([`${where} ${cand}`, 'no such file']);
      continue;
    }
    let handle;
    try {
      handle = koffi.load(cand);
    } catch (e) {
      tried.push([`${where} ${cand}`, e.message]);
      continue;
    }
    const fns = {};
    try {
      for (const proto of PROTOTYPES) {
        const fn = handle.func(proto);
        fns[proto.match(/(bitnet_\w+)\(/)[1]] = fn;
      }
    } catch (e) {
      tried.push([`${where} ${cand}`, `not a compatible libbitnet (${e.message})`]);
      continue;
    }
    cached = { fns, path: cand };
    return cached;
  }
  throw new LibraryNotFoundError(tried);
}

module.exports = {
  koffi, structs, PieceCallback, PerplexityCallback, load, LibraryNotFoundError,
};
