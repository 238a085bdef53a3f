// Inference state: KV cache for up to n_seq_max sequences, scratch buffers, one worker pool,
// logits/embeddings of the last decode. One thread at a time (see bitnet.h); abort() may be
// called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "graph/graph.h"
#include "memory/kv_cache.h"
#include "model/model.h"
#include "runtime/threadpool.h"

namespace bitnet {

namespace cuda {
class Backend;
}

struct ContextOptions {
    uint32_t n_ctx = 0;     // 0 = min(n_ctx_train, 4096)
    int32_t n_threads = 0;  // 0 = physical cores
    int32_t n_batch = 0;    // 0 = 512
    bool kv_f32 = false;
    uint32_t n_seq_max = 1;       // sequences the KV cache holds (n_ctx is split between them)
    bool embeddings = false;      // decode outputs embeddings (final-norm hidden states), no logits
    int pooling = 0;              // Pooling, for embeddings
    bool embd_normalize = false;  // L2-normalise each embedding
    bool cuda = false;  // run the forward pass on the GPU (cuda/backend.h)
};

enum class LogitsMode { None = 0, Last = 1, All = 2 };
enum class Pooling { None = 0, Mean = 1, Last = 2 };

// A batch of tokens for decode (llama.cpp's llama_batch): token i is at position pos[i] of
// sequence seq[i]; output[i] != 0 asks for its logits (or embedding). The tokens of each
// sequence must continue it: the first at the sequence's current length, then consecutive.
struct BatchView {
    const int32_t *token = nullptr;
    const int32_t *pos = nullptr;
    const int32_t *seq = nullptr;
    const int8_t *output = nullptr;
    int32_t n = 0;
};

class Context : private graph::Blocks {
public:
    // Throws bitnet::Error (INVALID_ARGUMENT, OUT_OF_MEMORY).
    Context(std::shared_ptr<const Model> model, const ContextOptions &opt);
    ~Context();

    const Model &model() const { return *model_; }
    const std::shared_ptr<const Model> &shared_model() const { return model_; }
    uint32_t n_ctx() const { return n_ctx_; }
    uint32_t n_past() const { return kv_->seq_len(0); }  // length of sequence 0
    uint32_t n_seq_max() const { return kv_->n_seq(); }
    KvCache &kv() { return *kv_; }
    const KvCache &kv() const { return *kv_; }
    int32_t n_threads() const { return n_threads_; }

    void reset();
    void abort() { abort_.store(true, std::memory_order_relaxed); }
    bool abort_requested() const { return abort_.load(std::memory_order_relaxed); }
    void clear_abort() { abort_.store(false, std::memory_order_relaxed); }

    // Evaluates tokens of sequence 0 at positions n_past.. (throws CONTEXT_FULL,
    // INVALID_ARGUMENT, ABORTED).
    void eval(const int32_t *tokens, size_t n_tokens, LogitsMode mode);
    // Evaluates a batch of tokens of any sequences (throws CONTEXT_FULL, INVALID_ARGUMENT,
    // ABORTED). Tokens evaluated before an abort stay in the cache.
    void decode(const BatchView &batch);

    int32_t n_logits() const { return n_logits_; }
    const float *logits(int32_t i) const;      // output row i (< 0 from the end); nullptr if absent
    const float *logits_ith(int32_t i) const;  // of batch token i (< 0: last output)
    bool embeddings() const { return embeddings_; }
    const float *embeddings_ith(int32_t i) const;  // Pooling::None: of batch token i
    const float *embeddings_seq(int32_t s) const;  // Mean/Last: of sequence s in the last batch

private:
    void check_batch(const BatchView &b) const;
    void forward_chunk(const int32_t *tokens, const int32_t *pos, const int32_t *seq,
                       int64_t n_tok, const int64_t *out_tok, int64_t n_out, float *out);
    void pool_embeddings(const BatchView &b);
    void forward_gpu(const int32_t *tokens, int64_t n, int32_t pos0,
                     const std::vector<int64_t> &out_tok, float *out);
    void bitlinear(const Matrix &w, const float *x, int64_t n_tok, float *y);
    void bitlinear_pair(const Matrix &w1, const Matrix &w2, const float *x, int64_t n_tok,
                        float *y1, float *y2);
    void quantize_rows(const float *x, int64_t n_tok, int64_t k);
    void matmul_i2s(const Matrix &w, int64_t n_tok, float *y);
    void matmul_float(const Matrix &w, const float *x, int64_t n_tok, float *y);
    void attention(int il, int64_t n_tok, const int32_t *pos, const int32_t *seq);
    void matmul_i2s_blocks(const Matrix &w, int64_t n_tok, float *y);
    void apply_out_scale(const Matrix &w, int64_t n_tok, float *y);
    // graph::Blocks over the current chunk (chunk_n_tok_ tokens at positions chunk_pos_ of
    // sequences chunk_seq_).
    void attention(int il, const Layer &L, arch::RopeType rope, const float *sub_norm) override;
    void ffn(const Layer &L, arch::Activation act, const float *sub_norm) override;
    template <class F>
    void for_each_token(F &&fn);
    void lm_head(const float *z, int64_t n_tok, float *logits);

    std::shared_ptr<const Model> model_;
    std::unique_ptr<cuda::Backend> gpu_;  // set: the whole forward pass runs there
    graph::LayerFn layer_fn_ = nullptr;
    int64_t chunk_n_tok_ = 0;
    const int32_t *chunk_pos_ = nullptr, *chunk_seq_ = nullptr;
    uint32_t n_ctx_ = 0;
    int32_t n_threads_ = 1;
    int32_t n_batch_ = 512;
    bool kv_f32_ = false;
    std::atomic<bool> abort_{false};
    std::unique_ptr<runtime::ThreadPool> pool_;

    bool embeddings_ = false;
    Pooling pooling_ = Pooling::None;
    bool embd_normalize_ = false;
    std::unique_ptr<KvCache> kv_;

    // RoPE tables [n_ctx][n_rot/2].
    std::vector<float> rope_cos_, rope_sin_;

    // Scratch, sized for n_batch tokens.
    std::vector<float> x_, a_, q_, k_, v_, att_, o_, g_, u_, tmp_;
    std::vector<int8_t> qa_;          // quantised activations [n_tok][k]
    std::vector<float> qa_scale_;     // per token s_act
    std::vector<int32_t> qa_sum_;     // per token sum q (unused by signed kernels; kept for stats)
    std::vector<int32_t> dot_;        // integer dot products [n_tok][rows]
    std::vector<float> scores_;       // attention scores [n_threads][n_ctx]
    // Outputs of the last decode: rows of logits (or embeddings), the row of each batch token
    // (-1: none), and pooled embeddings per sequence.
    std::vector<float> logits_;
    std::vector<float> embd_;
    std::vector<int32_t> out_row_;
    std::vector<float> embd_seq_;       // [n_seq][n_embd]
    std::vector<uint8_t> embd_seq_set_; // whether sequence s has a pooled embedding
    int32_t n_logits_ = 0;
};

}  // namespace bitnet
