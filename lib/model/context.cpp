// The forward pass over a chunk of tokens with a KV cache: the shared blocks of lib/graph/graph.h
// (attention, FFN, BitLinear, LM head), composed per layer by the architecture's graph file
// (bitnet-b1.58: ../shared/docs/bitnet-reference.md section 4.2; others: ternary-formats.md 1.2-1.3).
//
// Numerics follow section 4.3 where it matters for exactness: RMSNorm sums in double; every
// BitLinear input is quantised per token (section 3.4) and multiplied with the ternary weights
// in exact int32, then y = (float)dot / s_act * scale (section 3.5). Float weights (F32/F16)
// use plain float products (the f32 reference path: OpenBLAS for F32).
#include "model/context.h"

#include <cblas.h>
#include <sys/sysinfo.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/error.h"
#include "common/fp16.h"
#include "kernels/kernels.h"
#include "cuda/backend.h"

namespace bitnet {

using gguf::TensorType;

namespace {

// x += y over n floats (residual connection).
void add_in_place(float *__restrict x, const float *__restrict y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

// g = relu(g)^2 * u over n floats (the BitNet FFN gate, reference section 4.2). relu(g) as
// (g + |g|) / 2, which is exactly max(g, 0) wherever the square is finite (and lets a NaN
// through): GCC 12 does not vectorise a select on floats (trapping math), this it does.
void relu2_gate(float *__restrict g, const float *__restrict u, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        const float r = (g[i] + std::fabs(g[i])) * 0.5f;
        g[i] = r * r * u[i];
    }
}

// g = silu(g) * u = g / (1 + exp(-g)) * u (SwiGLU: 1bitLLM, Llama; ternary-formats.md 1.2-1.3).
void silu_gate(float *__restrict g, const float *__restrict u, int64_t n) {
    for (int64_t i = 0; i < n; ++i) g[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
}

// Splits [0, n) into nth ranges whose boundaries are multiples of `align` (except the end).
inline void split_range(int64_t n, int ith, int nth, int64_t align, int64_t &begin,
                        int64_t &end) {
    const int64_t blocks = (n + align - 1) / align;
    const int64_t per = blocks / nth, rem = blocks % nth;
    const int64_t b0 = ith * per + std::min<int64_t>(ith, rem);
    const int64_t b1 = b0 + per + (ith < rem ? 1 : 0);
    begin = std::min(n, b0 * align);
    end = std::min(n, b1 * align);
}

// Physical memory plus swap: the most a context's buffers can ever occupy.
double memory_limit_bytes() {
    struct sysinfo si {};
    if (sysinfo(&si) != 0) return 64.0 * (1ull << 30);
    return ((double)si.totalram + (double)si.totalswap) * (double)si.mem_unit;
}

}  // namespace

Context::Context(std::shared_ptr<const Model> model, const ContextOptions &opt)
    : model_(std::move(model)) {
    const HParams &hp = model_->hparams();
    n_ctx_ = opt.n_ctx ? opt.n_ctx : (uint32_t)std::min(hp.n_ctx_train, 4096);
    n_threads_ = opt.n_threads > 0 ? opt.n_threads : runtime::physical_core_count();
    n_batch_ = opt.n_batch > 0 ? opt.n_batch : 512;
    n_batch_ = (int32_t)std::min<uint32_t>((uint32_t)n_batch_, n_ctx_);
    kv_f32_ = opt.kv_f32;
    layer_fn_ = graph::layer_fn(*hp.info);
    embeddings_ = opt.embeddings;
    pooling_ = (Pooling)opt.pooling;
    embd_normalize_ = opt.embd_normalize;
    const uint32_t n_seq = std::max<uint32_t>(opt.n_seq_max, 1);
    if (n_seq > n_ctx_) {
        fail(BITNET_ERR_INVALID_ARGUMENT, "n_seq_max " + std::to_string(n_seq) +
                                              " is larger than n_ctx " + std::to_string(n_ctx_));
    }
    // Each sequence gets n_ctx / n_seq_max cells (llama.cpp's -c / --parallel split).
    n_ctx_ -= n_ctx_ % n_seq;
    if (opt.cuda) {
        if (n_seq > 1 || embeddings_) {
            fail(BITNET_ERR_UNSUPPORTED, "device cuda: one sequence and logits only (n_seq_max "
                                         "1, embeddings 0) in this version");
        }
        // The GPU holds the KV cache and all scratch; the host keeps only the sequence length.
        gpu_ = cuda::Backend::create(*model_, n_ctx_, n_batch_, kv_f32_);
        kv_ = std::make_unique<KvCache>(hp.n_layer, hp.n_head_kv, hp.head_dim, n_ctx_, 1u,
                                        kv_f32_, /*with_storage=*/false);
        return;
    }

    // Size check before allocating anything: n_ctx and n_threads are user input, and
    // std::vector zero-fills (touches) every page it allocates, so an allocation the machine
    // cannot back would end the process (OOM killer) instead of failing with a status.
    const double kv_bytes = 2.0 * hp.n_layer * (double)n_ctx_ * hp.kv_dim() * (kv_f32_ ? 4 : 2);
    if (kv_bytes > 64.0 * (1ull << 30)) {
        fail(BITNET_ERR_OUT_OF_MEMORY, "KV cache of " + std::to_string(n_ctx_) + " tokens needs " +
                                           std::to_string((uint64_t)(kv_bytes / (1 << 20))) +
                                           " MiB; refusing more than 64 GiB");
    }
    {
        const double nbf = (double)n_batch_, df = hp.n_embd, kvf = hp.kv_dim(), fff = hp.n_ff,
                     qf = hp.q_dim(), wide = std::max({df, fff, qf});
        const double scratch = 4.0 * nbf * (2 * df + 3 * qf + 2 * kvf + 2 * fff + 2 * wide + hp.n_rot) +
                               nbf * wide +
            4.0 * n_threads_ * (double)(hp.n_head / hp.n_head_kv) * (double)n_ctx_;
        const double total = kv_bytes + scratch, limit = memory_limit_bytes();
        if (total > limit) {
            fail(BITNET_ERR_OUT_OF_MEMORY,
                 "context of " + std::to_string(n_ctx_) + " tokens and " +
                     std::to_string(n_threads_) + " threads needs " +
                     std::to_string((uint64_t)(total / (1 << 20))) + " MiB (KV cache " +
                     std::to_string((uint64_t)(kv_bytes / (1 << 20))) +
                     " MiB), more than this machine's RAM + swap (" +
                     std::to_string((uint64_t)(limit / (1 << 20))) + " MiB)");
        }
    }
    kv_ = std::make_unique<KvCache>(hp.n_layer, hp.n_head_kv, hp.head_dim, n_ctx_ / n_seq, n_seq,
                                    kv_f32_);

    const size_t nb = (size_t)n_batch_, d = (size_t)hp.n_embd, kv = (size_t)hp.kv_dim(),
                 ff = (size_t)hp.n_ff, qd = (size_t)hp.q_dim(), wide = std::max({d, ff, qd});
    x_.resize(nb * d);
    a_.resize(nb * d);
    q_.resize(nb * qd);
    k_.resize(nb * kv);
    v_.resize(nb * kv);
    att_.resize(nb * qd);
    o_.resize(nb * qd);
    g_.resize(nb * ff);
    u_.resize(nb * ff);
    tmp_.resize(nb * wide);
    qa_.resize(nb * wide);
    qa_scale_.resize(nb);
    qa_sum_.resize(nb);
    dot_.resize(nb * wide);
    scores_.resize((size_t)n_threads_ * (size_t)(hp.n_head / hp.n_head_kv) * n_ctx_);
    rope_cos_.resize(nb * (size_t)(hp.n_rot / 2));
    rope_sin_.resize(nb * (size_t)(hp.n_rot / 2));

    pool_ = std::make_unique<runtime::ThreadPool>(n_threads_);
}

Context::~Context() = default;

void Context::reset() {
    kv_->clear();
    n_logits_ = 0;
    std::fill(out_row_.begin(), out_row_.end(), -1);
    std::fill(embd_seq_set_.begin(), embd_seq_set_.end(), 0);
}

const float *Context::logits(int32_t i) const {
    if (i < 0) i += n_logits_;
    if (i < 0 || i >= n_logits_) return nullptr;
    return logits_.data() + (size_t)i * (size_t)model_->hparams().n_vocab;
}

const float *Context::logits_ith(int32_t i) const {
    if (i < 0) return logits(-1);
    if ((size_t)i >= out_row_.size() || out_row_[(size_t)i] < 0 || embeddings_) return nullptr;
    return logits(out_row_[(size_t)i]);
}

const float *Context::embeddings_ith(int32_t i) const {
    if (!embeddings_ || pooling_ != Pooling::None) return nullptr;
    if (i < 0) i += n_logits_;  // rows in batch order: the last row is the last output
    else if ((size_t)i < out_row_.size()) i = out_row_[(size_t)i];
    else return nullptr;
    if (i < 0 || i >= n_logits_) return nullptr;
    return embd_.data() + (size_t)i * (size_t)model_->hparams().n_embd;
}

const float *Context::embeddings_seq(int32_t s) const {
    if (!embeddings_ || pooling_ == Pooling::None || s < 0 || (size_t)s >= embd_seq_set_.size() ||
        !embd_seq_set_[(size_t)s]) {
        return nullptr;
    }
    return embd_seq_.data() + (size_t)s * (size_t)model_->hparams().n_embd;
}

void Context::eval(const int32_t *tokens, size_t n_tokens, LogitsMode mode) {
    n_logits_ = 0;
    if (n_tokens == 0) fail(BITNET_ERR_INVALID_ARGUMENT, "eval: no tokens");
    // Before reading any token: n_tokens may be far larger than the caller's array. Written so
    // that it cannot overflow (n_past <= n_ctx per sequence).
    const uint32_t past = n_past(), cap = kv_->n_ctx_seq();
    if (n_tokens > (size_t)(cap - past)) {
        fail(BITNET_ERR_CONTEXT_FULL, "eval: " + std::to_string(n_tokens) +
                                          " tokens do not fit: " + std::to_string(past) + " of " +
                                          std::to_string(cap) + " context positions are used");
    }
    std::vector<int32_t> pos(n_tokens), seq(n_tokens, 0);
    std::vector<int8_t> out(n_tokens, 0);
    for (size_t i = 0; i < n_tokens; ++i) {
        pos[i] = (int32_t)(past + i);
        out[i] = mode == LogitsMode::All || (mode == LogitsMode::Last && i + 1 == n_tokens);
    }
    decode(BatchView{tokens, pos.data(), seq.data(), out.data(), (int32_t)n_tokens});
}

void Context::check_batch(const BatchView &b) const {
    const HParams &hp = model_->hparams();
    if (b.n <= 0) fail(BITNET_ERR_INVALID_ARGUMENT, "decode: the batch has no tokens");
    std::vector<uint32_t> next(kv_->n_seq());
    for (uint32_t s = 0; s < kv_->n_seq(); ++s) next[s] = kv_->seq_len(s);
    for (int32_t i = 0; i < b.n; ++i) {
        const std::string at = "decode: batch token " + std::to_string(i);
        if (b.token[i] < 0 || b.token[i] >= hp.n_vocab) {
            fail(BITNET_ERR_INVALID_ARGUMENT, at + " has id " + std::to_string(b.token[i]) +
                                                  ", outside the vocabulary [0, " +
                                                  std::to_string(hp.n_vocab) + ")");
        }
        const int32_t s = b.seq[i];
        if (s < 0 || (uint32_t)s >= kv_->n_seq()) {
            fail(BITNET_ERR_INVALID_ARGUMENT, at + " has sequence id " + std::to_string(s) +
                                                  ", outside [0, n_seq_max = " +
                                                  std::to_string(kv_->n_seq()) + ")");
        }
        if (b.pos[i] != (int32_t)next[(size_t)s]) {
            fail(BITNET_ERR_INVALID_ARGUMENT,
                 at + " has position " + std::to_string(b.pos[i]) + " but sequence " +
                     std::to_string(s) + " continues at position " +
                     std::to_string(next[(size_t)s]) + " (positions must continue the sequence)");
        }
        if (++next[(size_t)s] > kv_->n_ctx_seq()) {
            fail(BITNET_ERR_CONTEXT_FULL, at + ": sequence " + std::to_string(s) +
                                              " would exceed its " +
                                              std::to_string(kv_->n_ctx_seq()) + " positions");
        }
    }
}

void Context::decode(const BatchView &b) {
    const HParams &hp = model_->hparams();
    n_logits_ = 0;
    check_batch(b);
    // Which tokens produce an output row: the flagged ones, or every token for pooled embeddings.
    const bool all_rows = embeddings_ && pooling_ != Pooling::None;
    out_row_.assign((size_t)b.n, -1);
    int32_t n_out = 0;
    for (int32_t i = 0; i < b.n; ++i) {
        if (all_rows || b.output[i]) out_row_[(size_t)i] = n_out++;
    }
    const size_t row_len = embeddings_ ? (size_t)hp.n_embd : (size_t)hp.n_vocab;
    float *rows = nullptr;
    if (embeddings_) {
        embd_.resize((size_t)n_out * row_len);
        rows = embd_.data();
    } else {
        logits_.resize((size_t)n_out * row_len);
        rows = logits_.data();
    }
    std::vector<int64_t> out_tok;
    for (int32_t done = 0; done < b.n;) {
        const int32_t n = std::min(b.n - done, n_batch_);
        out_tok.clear();
        for (int32_t t = 0; t < n; ++t) {
            if (out_row_[(size_t)(done + t)] >= 0) out_tok.push_back(t);
        }
        float *out = out_tok.empty() ? nullptr
                                     : rows + (size_t)out_row_[(size_t)(done + out_tok[0])] * row_len;
        if (gpu_) {
            forward_gpu(b.token + done, n, b.pos[done], out_tok, out);
        } else {
            forward_chunk(b.token + done, b.pos + done, b.seq + done, n, out_tok.data(),
                          (int64_t)out_tok.size(), out);
        }
        for (int32_t t = 0; t < n; ++t) {
            const int32_t s = b.seq[done + t];
            kv_->set_seq_len((uint32_t)s, (uint32_t)b.pos[done + t] + 1);
        }
        done += n;
    }
    n_logits_ = n_out;
    if (embeddings_) pool_embeddings(b);
}

// One chunk of one sequence (positions pos0 ..) on the GPU backend, which computes the logits
// of no token, the last token or every token: other output patterns take every row and keep
// the ones asked for.
void Context::forward_gpu(const int32_t *tokens, int64_t n, int32_t pos0,
                          const std::vector<int64_t> &out_tok, float *out) {
    if (abort_requested()) fail(BITNET_ERR_ABORTED, "evaluation aborted");
    const size_t nv = (size_t)model_->hparams().n_vocab;
    if (out_tok.empty() || (out_tok.size() == 1 && out_tok[0] == n - 1)) {
        gpu_->forward(tokens, n, pos0, !out_tok.empty(), false, out);
    } else if ((int64_t)out_tok.size() == n) {
        gpu_->forward(tokens, n, pos0, true, true, out);
    } else {
        std::vector<float> all((size_t)n * nv);
        gpu_->forward(tokens, n, pos0, true, true, all.data());
        for (size_t i = 0; i < out_tok.size(); ++i) {
            std::memcpy(out + i * nv, all.data() + (size_t)out_tok[i] * nv, nv * sizeof(float));
        }
    }
}

// Pooled embeddings per sequence of the batch (mean or last token), then the optional L2
// normalisation, of each output row (Pooling::None) or each pooled vector.
void Context::pool_embeddings(const BatchView &b) {
    const size_t d = (size_t)model_->hparams().n_embd;
    auto normalize = [&](float *v) {
        if (!embd_normalize_) return;
        double ss = 0.0;
        for (size_t i = 0; i < d; ++i) ss += (double)v[i] * v[i];
        const float inv = ss > 0.0 ? (float)(1.0 / std::sqrt(ss)) : 0.0f;
        for (size_t i = 0; i < d; ++i) v[i] *= inv;
    };
    if (pooling_ == Pooling::None) {
        for (int32_t r = 0; r < n_logits_; ++r) normalize(embd_.data() + (size_t)r * d);
        return;
    }
    const size_t n_seq = kv_->n_seq();
    std::vector<double> sum(n_seq * d, 0.0);
    std::vector<int32_t> count(n_seq, 0), last(n_seq, -1);
    for (int32_t i = 0; i < b.n; ++i) {
        const size_t s = (size_t)b.seq[i];
        const float *e = embd_.data() + (size_t)out_row_[(size_t)i] * d;
        for (size_t j = 0; j < d; ++j) sum[s * d + j] += e[j];
        ++count[s];
        last[s] = out_row_[(size_t)i];
    }
    embd_seq_.assign(n_seq * d, 0.0f);
    embd_seq_set_.assign(n_seq, 0);
    for (size_t s = 0; s < n_seq; ++s) {
        if (!count[s]) continue;
        float *dst = embd_seq_.data() + s * d;
        for (size_t j = 0; j < d; ++j) {
            dst[j] = pooling_ == Pooling::Mean ? (float)(sum[s * d + j] / count[s])
                                               : embd_[(size_t)last[s] * d + j];
        }
        normalize(dst);
        embd_seq_set_[s] = 1;
    }
}

void Context::quantize_rows(const float *x, int64_t n_tok, int64_t k) {
    const kernels::KernelTable &kt = kernels::active();
    auto job = [&](int ith, int nth) {
        for (int64_t t = ith; t < n_tok; t += nth) {
            qa_scale_[t] = kt.quantize_row_i8(x + t * k, k, qa_.data() + t * k, &qa_sum_[t]);
        }
    };
    if (n_tok == 1) {
        job(0, 1);
    } else {
        pool_->run(job);
    }
}

// y[t][r] = (float)(sum_k t_rk q_tk) / s_act[t] * scale, using the activations quantised by the
// last quantize_rows call.
void Context::matmul_i2s(const Matrix &w, int64_t n_tok, float *y) {
    if (w.block_scale) {
        matmul_i2s_blocks(w, n_tok, y);
        return;
    }
    const kernels::KernelTable &kt = kernels::active();
    const int64_t k = w.k, rows = w.rows;
    auto job = [&](int ith, int nth) {
        int64_t r0, r1;
        split_range(rows, ith, nth, 16, r0, r1);  // a multiple of the interleave (1 or 4)
        if (r0 >= r1) return;
        const uint8_t *wp = w.data + r0 * (k / 4);
        if (n_tok == 1) {
            kt.i2s_gemv(wp, k, r1 - r0, w.il, qa_.data(), dot_.data() + r0);
        } else {
            kt.i2s_gemm(wp, k, r1 - r0, w.il, qa_.data(), n_tok, dot_.data() + r0, rows);
        }
        for (int64_t t = 0; t < n_tok; ++t) {
            const float s = qa_scale_[t];
            const int32_t *dt = dot_.data() + t * rows;
            float *yt = y + t * rows;
            for (int64_t r = r0; r < r1; ++r) yt[r] = ((float)dt[r] / s) * w.scale;
        }
    };
    pool_->run(job);
}

// A TQ tensor whose blocks have different scales (formats.h): the exact rule of the format,
// y[t][r] = (sum_b d_rb * sum_{k in block b} t_rk q_tk) / s_act[t], each block's product an exact
// int32 (the I2_S kernels on the block's 256 values, il = 1), the sum over blocks in double.
// Slower than one tensor scale; no converter writes such files for BitNet models.
void Context::matmul_i2s_blocks(const Matrix &w, int64_t n_tok, float *y) {
    const kernels::KernelTable &kt = kernels::active();
    const int64_t k = w.k, rows = w.rows, bk = kernels::kTqBlock, nb = k / bk;
    auto job = [&](int ith, int nth) {
        int64_t r0, r1;
        split_range(rows, ith, nth, 16, r0, r1);
        for (int64_t r = r0; r < r1; ++r) {
            const uint8_t *wr = w.data + r * (k / 4);
            const float *ds = w.block_scale + r * nb;
            for (int64_t t = 0; t < n_tok; ++t) {
                const int8_t *qt = qa_.data() + t * k;
                double acc = 0.0;
                for (int64_t b = 0; b < nb; ++b) {
                    int32_t dot = 0;
                    kt.i2s_gemv(wr + b * (bk / 4), bk, 1, 1, qt + b * bk, &dot);
                    acc += (double)ds[b] * (double)dot;
                }
                y[t * rows + r] = (float)(acc / (double)qa_scale_[t]);
            }
        }
    };
    pool_->run(job);
}

// The `.scale` tensor of arch `bitnet` multiplies the projection's output.
void Context::apply_out_scale(const Matrix &w, int64_t n_tok, float *y) {
    if (w.out_scale == 1.0f) return;
    const int64_t n = n_tok * w.rows;
    for (int64_t i = 0; i < n; ++i) y[i] *= w.out_scale;
}

void Context::matmul_float(const Matrix &w, const float *x, int64_t n_tok, float *y) {
    const int64_t k = w.k, rows = w.rows;
    if (w.type == TensorType::F32) {
        // Reference path: OpenBLAS, y[n_tok][rows] = x[n_tok][k] * W[rows][k]^T.
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n_tok, (int)rows, (int)k, 1.0f,
                    x, (int)k, reinterpret_cast<const float *>(w.data), (int)k, 0.0f, y,
                    (int)rows);
        return;
    }
    const kernels::KernelTable &kt = kernels::active();
    auto job = [&](int ith, int nth) {
        int64_t r0, r1;
        split_range(rows, ith, nth, 16, r0, r1);
        if (r0 >= r1) return;
        const uint16_t *wp = reinterpret_cast<const uint16_t *>(w.data) + r0 * k;
        if (n_tok == 1) {
            kt.f16_gemv(wp, k, r1 - r0, x, y + r0);
        } else {
            kt.f16_gemm(wp, k, r1 - r0, x, n_tok, y + r0, rows);
        }
    };
    pool_->run(job);
}

void Context::bitlinear(const Matrix &w, const float *x, int64_t n_tok, float *y) {
    if (w.type == TensorType::I2_S) {
        quantize_rows(x, n_tok, w.k);
        matmul_i2s(w, n_tok, y);
    } else {
        matmul_float(w, x, n_tok, y);
    }
    apply_out_scale(w, n_tok, y);
}

// Two projections of the same input (gate/up): quantise once when both are I2_S.
void Context::bitlinear_pair(const Matrix &w1, const Matrix &w2, const float *x, int64_t n_tok,
                             float *y1, float *y2) {
    if (w1.type == TensorType::I2_S && w2.type == TensorType::I2_S) {
        quantize_rows(x, n_tok, w1.k);
        matmul_i2s(w1, n_tok, y1);
        matmul_i2s(w2, n_tok, y2);
        apply_out_scale(w1, n_tok, y1);
        apply_out_scale(w2, n_tok, y2);
    } else {
        bitlinear(w1, x, n_tok, y1);
        bitlinear(w2, x, n_tok, y2);
    }
}

// KV cache layout: lib/memory/kv_cache.h (one stream of cells per sequence).
void Context::attention(int il, int64_t n_tok, const int32_t *pos, const int32_t *seq) {
    const HParams &hp = model_->hparams();
    const kernels::KernelTable &kt = kernels::active();
    const int64_t hd = hp.head_dim, kvd = hp.kv_dim(), d = hp.q_dim(), n_kv = hp.n_head_kv;
    const int64_t group = hp.n_head / hp.n_head_kv;
    const float kq_scale = 1.0f / std::sqrt((float)hd);
    KvCache &kv = *kv_;

    // Append this chunk's keys and values to the cache: cell pos of each token's sequence.
    for (int64_t t = 0; t < n_tok; ++t) {
        const uint32_t s = (uint32_t)seq[t];
        const size_t cell = (size_t)pos[t] * (size_t)hd;
        for (int64_t g = 0; g < n_kv; ++g) {
            const float *ks = k_.data() + t * kvd + g * hd, *vs = v_.data() + t * kvd + g * hd;
            if (kv_f32_) {
                std::memcpy(kv.k_f32(il, s, g) + cell, ks, (size_t)hd * sizeof(float));
                std::memcpy(kv.v_f32(il, s, g) + cell, vs, (size_t)hd * sizeof(float));
            } else {
                kt.f32_to_f16(ks, kv.k_f16(il, s, g) + cell, hd);
                kt.f32_to_f16(vs, kv.v_f16(il, s, g) + cell, hd);
            }
        }
    }

    // One work item = (token, KV head): the `group` query heads sharing that KV head, over the
    // keys of the token's own sequence (other sequences are never visible).
    const int64_t n_work = n_tok * n_kv;
    auto job = [&](int ith, int nth) {
        float *sc = scores_.data() + (size_t)ith * group * n_ctx_;
        for (int64_t w = ith; w < n_work; w += nth) {
            const int64_t t = w / n_kv, g = w % n_kv;
            const uint32_t s = (uint32_t)seq[t];
            const int64_t n_keys = (int64_t)pos[t] + 1;  // causal: keys at positions <= pos
            const float *q = q_.data() + t * d + g * group * hd;  // `group` rows of hd
            if (kv_f32_) {
                kt.f32_gemm(kv.k_f32(il, s, g), hd, n_keys, q, group, sc, n_ctx_);
            } else {
                kt.f16_gemm(kv.k_f16(il, s, g), hd, n_keys, q, group, sc, n_ctx_);
            }
            // softmax(scores / sqrt(hd)) per query head
            for (int64_t h = 0; h < group; ++h) kt.softmax(sc + h * n_ctx_, n_keys, kq_scale);
            float *out = att_.data() + t * d + g * group * hd;
            if (kv_f32_) {
                kt.f32_wsum(kv.v_f32(il, s, g), hd, n_keys, sc, group, n_ctx_, out, hd);
            } else {
                kt.f16_wsum(kv.v_f16(il, s, g), hd, n_keys, sc, group, n_ctx_, out, hd);
            }
        }
    };
    pool_->run(job);
}

void Context::lm_head(const float *z, int64_t n_tok, float *logits) {
    const QuantHead *qh = model_->output_quant();
    if (!qh) {
        matmul_float(model_->output(), z, n_tok, logits);
        return;
    }
    // Opt-in Q8/Q4 head: every logit from the quantised matrix (1/2 or 1/4 of the F16 bytes, plus
    // scales), then the kRescore largest of each row recomputed exactly from the original
    // weights, so the top of the distribution -- what greedy decoding and top-k/top-p sampling
    // look at -- is the F16 head's. Only the other logits carry the quantisation error (on the
    // fixture models a mean of 0.012 for Q8 and 0.22 for Q4; tests/test_lm_head.cpp).
    const kernels::KernelTable &kt = kernels::active();
    const Matrix &exact = model_->output();
    const int64_t nv = qh->rows, k = qh->k, nb = k / kernels::kQ8Block;
    auto job = [&](int ith, int nth) {
        int64_t r0, r1;
        split_range(nv, ith, nth, 16, r0, r1);
        if (r0 >= r1) return;
        const uint8_t *w = qh->q.data() + r0 * qh->row_bytes();
        const float *sc = qh->scale.data() + r0 * nb;
        if (qh->bits == 8) {
            kt.q8_gemm(reinterpret_cast<const int8_t *>(w), sc, k, r1 - r0, z, n_tok, logits + r0,
                       nv);
        } else {
            kt.q4_gemm(w, sc, k, r1 - r0, z, n_tok, logits + r0, nv);
        }
    };
    pool_->run(job);
    constexpr int64_t kRescore = 32;
    const int64_t n_best = std::min(kRescore, nv);
    auto rescore = [&](int ith, int nth) {
        std::vector<int32_t> ids((size_t)nv);
        for (int64_t t = ith; t < n_tok; t += nth) {
            float *row = logits + t * nv;
            for (int64_t v = 0; v < nv; ++v) ids[v] = (int32_t)v;
            std::nth_element(ids.begin(), ids.begin() + (n_best - 1), ids.end(),
                             [&](int32_t a, int32_t b) { return row[a] > row[b]; });
            for (int64_t i = 0; i < n_best; ++i) {
                const int32_t v = ids[i];
                if (exact.type == TensorType::F16) {
                    kt.f16_gemv(reinterpret_cast<const uint16_t *>(exact.data) + v * k, k, 1,
                                z + t * k, row + v);
                } else {
                    kt.f32_gemm(reinterpret_cast<const float *>(exact.data) + v * k, k, 1,
                                z + t * k, 1, row + v, 1);
                }
            }
        }
    };
    pool_->run(rescore);
}

// Per-token elementwise work (norms, RoPE, residual adds, gating) of a prefill chunk runs on the
// pool, one token per thread at a time: each token's result is computed by one thread in one
// order, so it does not depend on the thread count. A single decode token is too little work to
// hand out.
template <class F>
void Context::for_each_token(F &&fn) {
    const int64_t n_tok = chunk_n_tok_;
    if (n_tok == 1) {
        fn((int64_t)0);
        return;
    }
    pool_->run([&](int ith, int nth) {
        for (int64_t t = ith; t < n_tok; t += nth) fn(t);
    });
}

void Context::attention(int il, const Layer &L, arch::RopeType rope_type, const float *sub_norm) {
    const HParams &hp = model_->hparams();
    const kernels::KernelTable &kt = kernels::active();
    const int64_t n_tok = chunk_n_tok_, d = hp.n_embd, qd = hp.q_dim(), kvd = hp.kv_dim(),
                  hd = hp.head_dim, half = hp.n_rot / 2;
    for_each_token([&](int64_t t) {
        kt.rms_norm(x_.data() + t * d, L.attn_norm, d, hp.rms_eps, a_.data() + t * d);
    });
    if (L.wq.type == TensorType::I2_S && L.wk.type == TensorType::I2_S &&
        L.wv.type == TensorType::I2_S) {
        quantize_rows(a_.data(), n_tok, d);  // Q, K and V share one quantised input
        matmul_i2s(L.wq, n_tok, q_.data());
        matmul_i2s(L.wk, n_tok, k_.data());
        matmul_i2s(L.wv, n_tok, v_.data());
        apply_out_scale(L.wq, n_tok, q_.data());
        apply_out_scale(L.wk, n_tok, k_.data());
        apply_out_scale(L.wv, n_tok, v_.data());
    } else {
        bitlinear(L.wq, a_.data(), n_tok, q_.data());
        bitlinear(L.wk, a_.data(), n_tok, k_.data());
        bitlinear(L.wv, a_.data(), n_tok, v_.data());
    }
    const kernels::RopeFn rope = rope_type == arch::RopeType::Neox ? kt.rope_neox : kt.rope_norm;
    for_each_token([&](int64_t t) {
        const float *c = rope_cos_.data() + t * half, *s = rope_sin_.data() + t * half;
        rope(q_.data() + t * qd, hp.n_head, hd, hp.n_rot, c, s);
        rope(k_.data() + t * kvd, hp.n_head_kv, hd, hp.n_rot, c, s);
    });
    attention(il, n_tok, chunk_pos_, chunk_seq_);
    const float *wo_in = att_.data();
    if (sub_norm) {
        for_each_token([&](int64_t t) {
            kt.rms_norm(att_.data() + t * qd, sub_norm, qd, hp.rms_eps, o_.data() + t * qd);
        });
        wo_in = o_.data();
    }
    bitlinear(L.wo, wo_in, n_tok, tmp_.data());
    for_each_token([&](int64_t t) { add_in_place(x_.data() + t * d, tmp_.data() + t * d, d); });
}

void Context::ffn(const Layer &L, arch::Activation act, const float *sub_norm) {
    const HParams &hp = model_->hparams();
    const kernels::KernelTable &kt = kernels::active();
    const int64_t n_tok = chunk_n_tok_, d = hp.n_embd, ff = hp.n_ff;
    for_each_token([&](int64_t t) {
        kt.rms_norm(x_.data() + t * d, L.ffn_norm, d, hp.rms_eps, a_.data() + t * d);
    });
    bitlinear_pair(L.w_gate, L.w_up, a_.data(), n_tok, g_.data(), u_.data());
    for_each_token([&](int64_t t) {
        float *gt = g_.data() + t * ff;
        if (act == arch::Activation::Relu2) {
            relu2_gate(gt, u_.data() + t * ff, ff);
        } else {
            silu_gate(gt, u_.data() + t * ff, ff);
        }
        if (sub_norm) kt.rms_norm(gt, sub_norm, ff, hp.rms_eps, gt);
    });
    bitlinear(L.w_down, g_.data(), n_tok, tmp_.data());
    for_each_token([&](int64_t t) { add_in_place(x_.data() + t * d, tmp_.data() + t * d, d); });
}

// Forward pass over n_tok tokens (token t at position pos[t] of sequence seq[t]); writes the
// output rows of the n_out tokens out_tok[] (indices into this chunk, ascending) to out:
// logits, or final-norm hidden states when the context outputs embeddings.
void Context::forward_chunk(const int32_t *tokens, const int32_t *pos, const int32_t *seq,
                            int64_t n_tok, const int64_t *out_tok, int64_t n_out, float *out) {
    const Model &m = *model_;
    const HParams &hp = m.hparams();
    const int64_t d = hp.n_embd;
    const int64_t half = hp.n_rot / 2;
    chunk_n_tok_ = n_tok;
    chunk_pos_ = pos;
    chunk_seq_ = seq;

    for (int64_t t = 0; t < n_tok; ++t) m.embed(tokens[t], x_.data() + t * d);

    // RoPE angles for this chunk's positions (NeoX and normal pairs alike):
    // theta_i = pos * freq_scale * base^(-2i/n_rot).
    for (int64_t t = 0; t < n_tok; ++t) {
        const double p = (double)pos[t] * (double)hp.rope_freq_scale;
        for (int64_t i = 0; i < half; ++i) {
            const double theta = p * std::pow((double)hp.rope_base, -2.0 * (double)i / hp.n_rot);
            rope_cos_[t * half + i] = (float)std::cos(theta);
            rope_sin_[t * half + i] = (float)std::sin(theta);
        }
    }

    for (int il = 0; il < hp.n_layer; ++il) {
        if (abort_requested()) fail(BITNET_ERR_ABORTED, "evaluation aborted");
        layer_fn_(*this, m.layers()[(size_t)il], il, hp);
    }

    if (n_out == 0) return;
    const kernels::KernelTable &kt = kernels::active();
    float *normed = embeddings_ ? out : a_.data();
    for (int64_t i = 0; i < n_out; ++i) {
        kt.rms_norm(x_.data() + out_tok[i] * d, m.output_norm(), d, hp.rms_eps, normed + i * d);
    }
    if (!embeddings_) lm_head(a_.data(), n_out, out);
}

}  // namespace bitnet
