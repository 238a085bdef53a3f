// The C API: argument checks, handle casts, and the translation of C++ exceptions into status
// codes plus a thread-local message. No exception leaves this file.
#include <algorithm>
#include <cstring>
#include <new>
#include <string>
#include <system_error>

#include "api_internal.h"
#include "bitnet.h"
#include "common/error.h"
#include "model/context.h"
#include "model/bench.h"
#include "model/generate.h"
#include "model/model.h"
#include "sampling/sampler.h"

#ifndef BITNET_VERSION_STRING
#define BITNET_VERSION_STRING "0.0.0"
#endif

using namespace bitnet::api;

namespace {

bitnet::SamplingParams to_internal(const bitnet_sampling_params &p) {
    bitnet::SamplingParams s;
    s.temperature = p.temperature;
    s.top_k = p.top_k;
    s.top_p = p.top_p;
    s.min_p = p.min_p;
    s.repeat_penalty = p.repeat_penalty;
    s.repeat_last_n = p.repeat_last_n;
    s.seed = p.seed;
    return s;
}

// The hyperparameters of a model handle, read without letting an exception out.
template <class Field>
int32_t hparam(const bitnet_model *model, Field field) {
    return guarded_value<int32_t>(0, [&] { return model ? model->impl->hparams().*field : 0; });
}

}  // namespace

extern "C" {

const char *bitnet_version(void) { return BITNET_VERSION_STRING; }
int bitnet_version_number(void) { return BITNET_VERSION_NUMBER; }

const char *bitnet_status_string(bitnet_status status) {
    switch (status) {
        case BITNET_OK: return "ok";
        case BITNET_ERR_INVALID_ARGUMENT: return "invalid argument";
        case BITNET_ERR_IO: return "i/o error";
        case BITNET_ERR_BAD_FORMAT: return "bad file format";
        case BITNET_ERR_UNSUPPORTED: return "unsupported";
        case BITNET_ERR_OUT_OF_MEMORY: return "out of memory";
        case BITNET_ERR_CONTEXT_FULL: return "context full";
        case BITNET_ERR_ABORTED: return "aborted";
        case BITNET_ERR_BUFFER_TOO_SMALL: return "buffer too small";
        case BITNET_ERR_NOT_FOUND: return "not found";
        case BITNET_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

const char *bitnet_last_error_message(void) { return g_last_error.c_str(); }

/* ---- model ---- */

bitnet_model_params bitnet_model_default_params(void) {
    bitnet_model_params p{};
    p.size = sizeof(p);
    p.use_mmap = 1;
    p.lm_head_type = BITNET_LM_HEAD_AUTO;
    p.repack = 1;
    return p;
}

bitnet_status bitnet_model_load(const char *path, const bitnet_model_params *params,
                                bitnet_model **out) {
    if (out) *out = nullptr;
    return guarded([&]() -> bitnet_status {
        if (!path || !out) return invalid("bitnet_model_load: path and out must not be NULL");
        bitnet_model_params p;
        if (!read_params(params, p, bitnet_model_default_params())) {
            return invalid("bitnet_model_load: params->size is not a valid struct size");
        }
        if (p.lm_head_type < BITNET_LM_HEAD_AUTO || p.lm_head_type > BITNET_LM_HEAD_Q4) {
            return invalid("bitnet_model_load: unknown lm_head_type " +
                           std::to_string(p.lm_head_type));
        }
        bitnet::ModelOptions opt;
        opt.use_mmap = p.use_mmap != 0;
        opt.lm_head_type = p.lm_head_type;
        opt.repack = p.repack != 0;
        auto m = std::make_unique<bitnet_model>();
        m->impl = bitnet::Model::load(path, opt);
        *out = m.release();
        return BITNET_OK;
    });
}

void bitnet_model_free(bitnet_model *model) { delete model; }

int32_t bitnet_model_n_vocab(const bitnet_model *model) {
    return hparam(model, &bitnet::HParams::n_vocab);
}
int32_t bitnet_model_n_ctx_train(const bitnet_model *model) {
    return hparam(model, &bitnet::HParams::n_ctx_train);
}
int32_t bitnet_model_n_embd(const bitnet_model *model) {
    return hparam(model, &bitnet::HParams::n_embd);
}
int32_t bitnet_model_n_layer(const bitnet_model *model) {
    return hparam(model, &bitnet::HParams::n_layer);
}
int32_t bitnet_model_n_head(const bitnet_model *model) {
    return hparam(model, &bitnet::HParams::n_head);
}
int32_t bitnet_model_n_head_kv(const bitnet_model *model) {
    return hparam(model, &bitnet::HParams::n_head_kv);
}

uint64_t bitnet_model_size_bytes(const bitnet_model *model) {
    return guarded_value<uint64_t>(0, [&] { return model ? model->impl->size_bytes() : 0; });
}
uint64_t bitnet_model_decode_bytes(const bitnet_model *model) {
    return guarded_value<uint64_t>(0, [&] { return model ? model->impl->decode_bytes() : 0; });
}
uint64_t bitnet_model_n_params(const bitnet_model *model) {
    return guarded_value<uint64_t>(0, [&] { return model ? model->impl->n_params() : 0; });
}
const char *bitnet_model_architecture(const bitnet_model *model) {
    return guarded_value<const char *>(
        "", [&] { return model ? model->impl->hparams().arch.c_str() : ""; });
}
int32_t bitnet_model_meta_count(const bitnet_model *model) {
    return guarded_value<int32_t>(
        0, [&] { return model ? (int32_t)model->impl->file().metadata().size() : 0; });
}

bitnet_status bitnet_model_meta_key(const bitnet_model *model, int32_t i, char *buf,
                                    size_t buf_size, size_t *needed) {
    return guarded([&]() -> bitnet_status {
        if (!model) return invalid("bitnet_model_meta_key: model is NULL");
        const auto &kv = model->impl->file().metadata();
        if (i < 0 || (size_t)i >= kv.size()) {
            return invalid("bitnet_model_meta_key: index " + std::to_string(i) +
                           " out of range [0, " + std::to_string(kv.size()) + ")");
        }
        if (!buf && buf_size > 0) return invalid("bitnet_model_meta_key: buf is NULL");
        return copy_out(kv[(size_t)i].key, buf, buf_size, needed, true);
    });
}

bitnet_status bitnet_model_meta_get(const bitnet_model *model, const char *key, char *buf,
                                    size_t buf_size, size_t *needed) {
    return guarded([&]() -> bitnet_status {
        if (!model || !key) return invalid("bitnet_model_meta_get: model and key must not be NULL");
        if (!buf && buf_size > 0) return invalid("bitnet_model_meta_get: buf is NULL");
        const bitnet::gguf::Value *v = model->impl->file().find(key);
        if (!v) {
            return set_error(BITNET_ERR_NOT_FOUND,
                             std::string("metadata key '") + key + "' not found");
        }
        return copy_out(v->to_string(), buf, buf_size, needed, true);
    });
}

bitnet_token bitnet_token_bos(const bitnet_model *model) {
    return guarded_value<bitnet_token>(-1, [&] { return model ? model->impl->tokenizer().bos() : -1; });
}
bitnet_token bitnet_token_eos(const bitnet_model *model) {
    return guarded_value<bitnet_token>(-1, [&] { return model ? model->impl->tokenizer().eos() : -1; });
}
bitnet_token bitnet_token_eot(const bitnet_model *model) {
    return guarded_value<bitnet_token>(-1, [&] { return model ? model->impl->tokenizer().eot() : -1; });
}
int bitnet_token_is_eog(const bitnet_model *model, bitnet_token token) {
    return guarded_value(0, [&] {
        if (!model || token < 0 || token >= model->impl->hparams().n_vocab) return 0;
        return model->impl->tokenizer().is_eog(token) ? 1 : 0;
    });
}
int bitnet_model_add_bos(const bitnet_model *model) {
    return guarded_value(0, [&] { return model && model->impl->tokenizer().add_bos() ? 1 : 0; });
}

/* ---- tokenizer ---- */

bitnet_status bitnet_tokenize(const bitnet_model *model, const char *text, size_t text_len,
                              int add_bos, int parse_special, bitnet_token *tokens,
                              size_t n_tokens_max, size_t *n_tokens_out) {
    return guarded([&]() -> bitnet_status {
        if (!model || !n_tokens_out) {
            return invalid("bitnet_tokenize: model and n_tokens_out must not be NULL");
        }
        *n_tokens_out = 0;
        if (!text && text_len > 0) return invalid("bitnet_tokenize: text is NULL");
        if (!tokens && n_tokens_max > 0) return invalid("bitnet_tokenize: tokens is NULL");
        const std::vector<int32_t> ids = model->impl->tokenizer().tokenize(
            std::string_view(text ? text : "", text_len), add_bos != 0, parse_special != 0);
        *n_tokens_out = ids.size();
        if (ids.size() > n_tokens_max) {
            return set_error(BITNET_ERR_BUFFER_TOO_SMALL,
                             "bitnet_tokenize: " + std::to_string(ids.size()) +
                                 " tokens do not fit in a buffer of " +
                                 std::to_string(n_tokens_max));
        }
        std::copy(ids.begin(), ids.end(), tokens);
        return BITNET_OK;
    });
}

namespace {

// token_to_piece (one token, no sequence rules) and detokenize (the whole sequence: a
// SentencePiece vocabulary drops the dummy-prefix space of the first piece). Throws; the
// entry points run it inside guarded().
bitnet_status detokenize_impl(const bitnet_model *model, const bitnet_token *tokens,
                              size_t n_tokens, int render_special, char *buf, size_t buf_size,
                              size_t *n_bytes_out, bool sequence) {
    if (!model || !n_bytes_out) {
        return invalid("bitnet_detokenize: model and n_bytes_out must not be NULL");
    }
    *n_bytes_out = 0;
    if (!tokens && n_tokens > 0) return invalid("bitnet_detokenize: tokens is NULL");
    if (!buf && buf_size > 0) return invalid("bitnet_detokenize: buf is NULL");
    const bitnet::Tokenizer &tok = model->impl->tokenizer();
    std::string out;
    for (size_t i = 0; i < n_tokens; ++i) {
        if (tokens[i] < 0 || tokens[i] >= tok.n_vocab()) {
            return invalid("token id " + std::to_string(tokens[i]) +
                           " is outside the vocabulary [0, " + std::to_string(tok.n_vocab()) +
                           ")");
        }
    }
    if (sequence)
        tok.detokenize(tokens, n_tokens, render_special != 0, out);
    else
        for (size_t i = 0; i < n_tokens; ++i) tok.append_piece(tokens[i], render_special != 0, out);
    return copy_out(out, buf, buf_size, n_bytes_out, false);
}

}  // namespace

bitnet_status bitnet_token_to_piece(const bitnet_model *model, bitnet_token token,
                                    int render_special, char *buf, size_t buf_size,
                                    size_t *n_bytes_out) {
    return guarded([&] {
        return detokenize_impl(model, &token, 1, render_special, buf, buf_size, n_bytes_out,
                               false);
    });
}

bitnet_status bitnet_detokenize(const bitnet_model *model, const bitnet_token *tokens,
                                size_t n_tokens, int render_special, char *buf, size_t buf_size,
                                size_t *n_bytes_out) {
    return guarded([&] {
        return detokenize_impl(model, tokens, n_tokens, render_special, buf, buf_size,
                               n_bytes_out, true);
    });
}

/* ---- context ---- */

bitnet_context_params bitnet_context_default_params(void) {
    bitnet_context_params p{};
    p.size = sizeof(p);
    p.n_ctx = 0;
    p.n_threads = 0;
    p.n_batch = 0;
    p.seed = 0;
    p.kv_type = BITNET_KV_F16;
    p.n_seq_max = 1;
    p.embeddings = 0;
    p.pooling_type = BITNET_POOLING_NONE;
    p.embd_normalize = 0;
    p.device = BITNET_DEVICE_CPU;
    return p;
}

bitnet_status bitnet_context_new(bitnet_model *model, const bitnet_context_params *params,
                                 bitnet_context **out) {
    if (out) *out = nullptr;
    return guarded([&]() -> bitnet_status {
        if (!model || !out) return invalid("bitnet_context_new: model and out must not be NULL");
        bitnet_context_params p;
        if (!read_params(params, p, bitnet_context_default_params())) {
            return invalid("bitnet_context_new: params->size is not a valid struct size");
        }
        if (p.n_ctx > (1u << 24)) {
            return invalid("bitnet_context_new: n_ctx " + std::to_string(p.n_ctx) +
                           " is above the limit of 16777216 tokens");
        }
        if (p.n_threads < 0 || p.n_threads > 1024) {
            return invalid("bitnet_context_new: n_threads " + std::to_string(p.n_threads) +
                           " must be in [0, 1024] (0 = physical cores)");
        }
        if (p.n_batch < 0) return invalid("bitnet_context_new: n_batch must be >= 0");
        if (p.kv_type != BITNET_KV_F16 && p.kv_type != BITNET_KV_F32) {
            return invalid("bitnet_context_new: unknown kv_type " + std::to_string(p.kv_type));
        }
        if (p.n_seq_max < 1 || p.n_seq_max > 4096) {
            return invalid("bitnet_context_new: n_seq_max " + std::to_string(p.n_seq_max) +
                           " must be in [1, 4096]");
        }
        if (p.pooling_type < BITNET_POOLING_NONE || p.pooling_type > BITNET_POOLING_LAST) {
            return invalid("bitnet_context_new: unknown pooling_type " +
                           std::to_string(p.pooling_type));
        }
        bitnet::ContextOptions opt;
        opt.n_seq_max = p.n_seq_max;
        opt.embeddings = p.embeddings != 0;
        opt.pooling = p.pooling_type;
        opt.embd_normalize = p.embd_normalize != 0;
        if (p.device != BITNET_DEVICE_CPU && p.device != BITNET_DEVICE_CUDA) {
            return invalid("bitnet_context_new: unknown device " + std::to_string(p.device) +
                           " (0 = cpu, 1 = cuda)");
        }
        opt.cuda = p.device == BITNET_DEVICE_CUDA;
        opt.n_ctx = p.n_ctx;
        opt.n_threads = p.n_threads;
        opt.n_batch = p.n_batch;
        opt.kv_f32 = p.kv_type == BITNET_KV_F32;
        auto c = std::make_unique<bitnet_context>();
        c->impl = std::make_unique<bitnet::Context>(model->impl, opt);
        c->seed = p.seed;
        *out = c.release();
        return BITNET_OK;
    });
}

void bitnet_context_free(bitnet_context *ctx) { delete ctx; }

bitnet_status bitnet_context_get_model(const bitnet_context *ctx, bitnet_model **out) {
    if (out) *out = nullptr;
    return guarded([&]() -> bitnet_status {
        if (!ctx || !out) return invalid("bitnet_context_get_model: ctx and out must not be NULL");
        auto m = std::make_unique<bitnet_model>();
        m->impl = ctx->impl->shared_model();
        *out = m.release();
        return BITNET_OK;
    });
}

bitnet_status bitnet_context_reset(bitnet_context *ctx) {
    return guarded([&]() -> bitnet_status {
        if (!ctx) return invalid("bitnet_context_reset: ctx is NULL");
        ctx->impl->reset();
        ctx->impl->clear_abort();
        return BITNET_OK;
    });
}

uint32_t bitnet_context_n_ctx(const bitnet_context *ctx) {
    return guarded_value<uint32_t>(0, [&] { return ctx ? ctx->impl->n_ctx() : 0; });
}
uint32_t bitnet_context_n_past(const bitnet_context *ctx) {
    return guarded_value<uint32_t>(0, [&] { return ctx ? ctx->impl->n_past() : 0; });
}
int32_t bitnet_context_n_threads(const bitnet_context *ctx) {
    return guarded_value<int32_t>(0, [&] { return ctx ? ctx->impl->n_threads() : 0; });
}
void bitnet_context_abort(bitnet_context *ctx) {
    guarded_value(0, [&] {
        if (ctx) ctx->impl->abort();
        return 0;
    });
}

bitnet_status bitnet_eval(bitnet_context *ctx, const bitnet_token *tokens, size_t n_tokens,
                          int logits_mode) {
    return guarded([&]() -> bitnet_status {
        if (!ctx || !tokens) return invalid("bitnet_eval: ctx and tokens must not be NULL");
        if (n_tokens == 0) return invalid("bitnet_eval: n_tokens must be > 0");
        if (logits_mode < BITNET_LOGITS_NONE || logits_mode > BITNET_LOGITS_ALL) {
            return invalid("bitnet_eval: unknown logits_mode " + std::to_string(logits_mode));
        }
        try {
            ctx->impl->eval(tokens, n_tokens, (bitnet::LogitsMode)logits_mode);
        } catch (const bitnet::Error &e) {
            if (e.status() == BITNET_ERR_ABORTED) ctx->impl->clear_abort();
            throw;
        }
        return BITNET_OK;
    });
}

const float *bitnet_get_logits(bitnet_context *ctx, int32_t i) {
    return guarded_value<const float *>(nullptr,
                                        [&] { return ctx ? ctx->impl->logits(i) : nullptr; });
}
int32_t bitnet_n_logits(const bitnet_context *ctx) {
    return guarded_value<int32_t>(0, [&] { return ctx ? ctx->impl->n_logits() : 0; });
}

/* ---- sampling ---- */

bitnet_sampling_params bitnet_sampling_default_params(void) {
    bitnet_sampling_params p{};
    p.size = sizeof(p);
    p.temperature = 0.8f;
    p.top_k = 40;
    p.top_p = 0.95f;
    p.min_p = 0.05f;
    p.repeat_penalty = 1.0f;
    p.repeat_last_n = 64;
    p.seed = BITNET_SEED_DEFAULT;
    return p;
}

bitnet_status bitnet_sampler_new(const bitnet_sampling_params *params, bitnet_sampler **out) {
    if (out) *out = nullptr;
    return guarded([&]() -> bitnet_status {
        if (!out) return invalid("bitnet_sampler_new: out must not be NULL");
        bitnet_sampling_params p;
        if (!read_params(params, p, bitnet_sampling_default_params())) {
            return invalid("bitnet_sampler_new: params->size is not a valid struct size");
        }
        auto s = std::make_unique<bitnet_sampler>();
        s->impl = std::make_unique<bitnet::Sampler>(to_internal(p));
        *out = s.release();
        return BITNET_OK;
    });
}

void bitnet_sampler_free(bitnet_sampler *sampler) { delete sampler; }

bitnet_status bitnet_sampler_sample(bitnet_sampler *sampler, const float *logits, int32_t n_vocab,
                                    bitnet_token *out) {
    return guarded([&]() -> bitnet_status {
        if (!sampler || !logits || !out) {
            return invalid("bitnet_sampler_sample: sampler, logits and out must not be NULL");
        }
        if (n_vocab <= 0) return invalid("bitnet_sampler_sample: n_vocab must be > 0");
        *out = sampler->impl->sample(logits, n_vocab);
        return BITNET_OK;
    });
}

bitnet_status bitnet_sampler_accept(bitnet_sampler *sampler, bitnet_token token) {
    return guarded([&]() -> bitnet_status {
        if (!sampler) return invalid("bitnet_sampler_accept: sampler is NULL");
        sampler->impl->accept(token);  // grows the history: may throw bad_alloc
        return BITNET_OK;
    });
}

bitnet_status bitnet_sampler_reset(bitnet_sampler *sampler) {
    return guarded([&]() -> bitnet_status {
        if (!sampler) return invalid("bitnet_sampler_reset: sampler is NULL");
        sampler->impl->reset();
        return BITNET_OK;
    });
}

/* ---- generation ---- */

bitnet_generate_params bitnet_generate_default_params(void) {
    bitnet_generate_params p{};
    p.size = sizeof(p);
    p.max_tokens = 128;
    p.sampling = nullptr;
    p.add_bos = 1;
    p.parse_special = 1;
    p.render_special = 0;
    return p;
}

static bitnet_status generate_impl(bitnet_context *ctx, const std::vector<int32_t> *prompt_ids,
                                   const char *prompt, size_t prompt_len,
                                   const bitnet_generate_params &p,
                                   const bitnet_sampling_params &sampling,
                                   bitnet_piece_callback callback, void *user_data,
                                   bitnet_generate_result *result) {
    bitnet::Context &c = *ctx->impl;
    std::vector<int32_t> ids;
    if (prompt_ids) {
        ids = *prompt_ids;
    } else {
        const bitnet::Tokenizer &tok = c.model().tokenizer();
        const bool bos = p.add_bos && c.n_past() == 0;
        ids = tok.tokenize(std::string_view(prompt ? prompt : "", prompt_len), bos,
                           p.parse_special != 0);
    }
    bitnet::GenerateOptions opt;
    opt.max_tokens = p.max_tokens;
    opt.render_special = p.render_special != 0;
    bitnet::SamplingParams sp = to_internal(sampling);
    if (sp.seed == BITNET_SEED_DEFAULT) sp.seed = bitnet::generate_seed(ctx->seed, ++ctx->generate_calls);
    bitnet::validate(sp);
    opt.sampling = sp;
    bitnet::GenerateStats stats;
    auto report = [&]() {
        if (!result) return;
        bitnet_generate_result r{};
        r.size = sizeof(r);
        r.n_prompt_tokens = stats.n_prompt_tokens;
        r.n_generated = stats.n_generated;
        r.prompt_ms = stats.prompt_ms;
        r.generate_ms = stats.generate_ms;
        r.prompt_tokens_per_s = stats.prompt_tokens_per_s();
        r.generate_tokens_per_s = stats.generate_tokens_per_s();
        r.stop_reason = stats.stop_reason;
        r.last_token = stats.last_token;
        std::memcpy(static_cast<void *>(result), &r, std::min(result->size, sizeof(r)));
    };
    auto sink = [&](std::string_view piece, int32_t token) -> bool {
        if (!callback) return true;
        return callback(piece.data(), piece.size(), token, user_data) == 0;
    };
    try {
        bitnet::generate(c, ids, opt, sink, stats);
    } catch (const bitnet::Error &e) {
        if (e.status() == BITNET_ERR_ABORTED) c.clear_abort();
        report();
        throw;
    }
    report();
    return BITNET_OK;
}

// Reads the caller's parameters (and the sampling struct they point to), each of the size the
// caller's header gave it.
static bitnet_status check_generate_args(bitnet_context *ctx, const bitnet_generate_params *params,
                                         bitnet_generate_result *result,
                                         bitnet_generate_params &p,
                                         bitnet_sampling_params &sampling) {
    if (!ctx) return invalid("bitnet_generate: ctx is NULL");
    if (!read_params(params, p, bitnet_generate_default_params())) {
        return invalid("bitnet_generate: params->size is not a valid struct size");
    }
    if (!read_params(p.sampling, sampling, bitnet_sampling_default_params())) {
        return invalid("bitnet_generate: params->sampling->size is not a valid struct size");
    }
    if (p.max_tokens < 0) return invalid("bitnet_generate: max_tokens must be >= 0");
    if (result && (result->size < sizeof(size_t) || result->size > sizeof(*result))) {
        return invalid("bitnet_generate: result->size must be set to sizeof(bitnet_generate_result)");
    }
    return BITNET_OK;
}

bitnet_status bitnet_generate(bitnet_context *ctx, const char *prompt, size_t prompt_len,
                              const bitnet_generate_params *params, bitnet_piece_callback callback,
                              void *user_data, bitnet_generate_result *result) {
    return guarded([&]() -> bitnet_status {
        bitnet_generate_params p;
        bitnet_sampling_params sampling;
        if (bitnet_status s = check_generate_args(ctx, params, result, p, sampling)) return s;
        if (!prompt && prompt_len > 0) return invalid("bitnet_generate: prompt is NULL");
        return generate_impl(ctx, nullptr, prompt, prompt_len, p, sampling, callback, user_data,
                             result);
    });
}

bitnet_status bitnet_generate_tokens(bitnet_context *ctx, const bitnet_token *prompt,
                                     size_t n_prompt, const bitnet_generate_params *params,
                                     bitnet_piece_callback callback, void *user_data,
                                     bitnet_generate_result *result) {
    return guarded([&]() -> bitnet_status {
        bitnet_generate_params p;
        bitnet_sampling_params sampling;
        if (bitnet_status s = check_generate_args(ctx, params, result, p, sampling)) return s;
        if (!prompt && n_prompt > 0) return invalid("bitnet_generate_tokens: prompt is NULL");
        std::vector<int32_t> ids(prompt, prompt + n_prompt);
        return generate_impl(ctx, &ids, nullptr, 0, p, sampling, callback, user_data, result);
    });
}

/* ---- bench ---- */

bitnet_bench_params bitnet_bench_default_params(void) {
    bitnet_bench_params p{};
    p.size = sizeof(p);
    p.n_prompt = 512;
    p.n_gen = 128;
    p.repetitions = 5;
    p.warmup = 1;
    p.n_parallel = 1;
    return p;
}

bitnet_status bitnet_bench(bitnet_context *ctx, const bitnet_bench_params *params,
                           bitnet_bench_result *result) {
    return guarded([&]() -> bitnet_status {
        if (!ctx || !result) return invalid("bitnet_bench: ctx and result must not be NULL");
        if (result->size < sizeof(size_t) || result->size > sizeof(*result)) {
            return invalid("bitnet_bench: result->size must be set to sizeof(bitnet_bench_result)");
        }
        bitnet_bench_params p;
        if (!read_params(params, p, bitnet_bench_default_params())) {
            return invalid("bitnet_bench: params->size is not a valid struct size");
        }
        const bitnet::BenchStats st = bitnet::run_bench(*ctx->impl, p.n_prompt, p.n_gen,
                                                         p.n_parallel, p.repetitions,
                                                         p.warmup != 0);
        bitnet_bench_result r{};
        r.size = sizeof(r);
        const bitnet::RateSummary pp = bitnet::summarize(st.pp_tps);
        const bitnet::RateSummary tg = bitnet::summarize(st.tg_tps);
        r.pp_mean = pp.mean, r.pp_stddev = pp.stddev, r.pp_median = pp.median, r.pp_best = pp.best;
        r.tg_mean = tg.mean, r.tg_stddev = tg.stddev, r.tg_median = tg.median, r.tg_best = tg.best;
        r.n_threads = ctx->impl->n_threads();
        std::memcpy(static_cast<void *>(result), &r, std::min(result->size, sizeof(r)));
        return BITNET_OK;
    });
}

}  // extern "C"

/* ---- chat format and perplexity ---- */

#include "model/perplexity.h"
#include "tokenizer/chat.h"

extern "C" {

bitnet_status bitnet_chat_format(const bitnet_chat_message *messages, size_t n_messages,
                                 int add_generation_prompt, char *buf, size_t buf_size,
                                 size_t *needed) {
    return guarded([&]() -> bitnet_status {
        if (!messages && n_messages > 0) return invalid("bitnet_chat_format: messages is NULL");
        if (!buf && buf_size > 0) return invalid("bitnet_chat_format: buf is NULL");
        std::vector<bitnet::ChatMessage> msgs;
        for (size_t i = 0; i < n_messages; ++i) {
            if (!messages[i].role || !messages[i].content) {
                return invalid("bitnet_chat_format: message " + std::to_string(i) +
                               " has a NULL role or content");
            }
            msgs.push_back({messages[i].role, messages[i].content});
        }
        return copy_out(bitnet::format_chat(msgs, add_generation_prompt != 0), buf, buf_size,
                        needed, true);
    });
}

const char *bitnet_model_chat_template(const bitnet_model *model) {
    return guarded_value<const char *>("", [&] {
        return model ? bitnet::chat_format_name(model->impl->chat_format()) : "";
    });
}

const char *bitnet_model_chat_turn_end(const bitnet_model *model) {
    return guarded_value<const char *>(
        "", [&] { return model ? model->impl->chat_turn_end().c_str() : ""; });
}

bitnet_status bitnet_model_chat_format(const bitnet_model *model,
                                       const bitnet_chat_message *messages, size_t n_messages,
                                       int add_generation_prompt, char *buf, size_t buf_size,
                                       size_t *needed) {
    return guarded([&]() -> bitnet_status {
        if (!model) return invalid("bitnet_model_chat_format: model is NULL");
        if (!messages && n_messages > 0) return invalid("bitnet_model_chat_format: messages is NULL");
        if (!buf && buf_size > 0) return invalid("bitnet_model_chat_format: buf is NULL");
        std::vector<bitnet::ChatMessage> msgs;
        for (size_t i = 0; i < n_messages; ++i) {
            if (!messages[i].role || !messages[i].content) {
                return invalid("bitnet_model_chat_format: message " + std::to_string(i) +
                               " has a NULL role or content");
            }
            msgs.push_back({messages[i].role, messages[i].content});
        }
        const bitnet::Model &m = *model->impl;
        return copy_out(bitnet::format_chat(m.chat_format(), msgs, add_generation_prompt != 0,
                                            m.chat_eos_text()),
                        buf, buf_size, needed, true);
    });
}

bitnet_status bitnet_perplexity(bitnet_context *ctx, const char *text, size_t text_len,
                                int32_t n_chunk, int32_t max_chunks,
                                bitnet_perplexity_callback callback, void *user_data,
                                bitnet_perplexity_result *result) {
    return guarded([&]() -> bitnet_status {
        if (!ctx || !result || (!text && text_len > 0)) {
            return invalid("bitnet_perplexity: ctx, text and result must not be NULL");
        }
        if (result->size < sizeof(size_t) || result->size > sizeof(*result)) {
            return invalid("bitnet_perplexity: result->size must be set to "
                           "sizeof(bitnet_perplexity_result)");
        }
        const bitnet::PerplexityResult r = bitnet::perplexity_text(
            *ctx->impl, std::string_view(text ? text : "", text_len), n_chunk, max_chunks,
            [&](int32_t chunk, double ppl) {
                return !callback || callback(chunk, ppl, user_data) == 0;
            });
        bitnet_perplexity_result out{};
        out.size = sizeof(out);
        out.ppl = r.ppl;
        out.ppl_stderr = r.ppl_stderr;
        out.nll_mean = r.nll_mean;
        out.n_chunks = r.n_chunks;
        out.n_scored = r.n_scored;
        out.n_tokens = r.n_tokens;
        std::memcpy(static_cast<void *>(result), &out, std::min(result->size, sizeof(out)));
        return BITNET_OK;
    });
}

}  // extern "C"
