// Inference state for one sequence: KV cache, scratch buffers, worker threads, logits.
// One thread at a time (see bitnet.h); abort() may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "graph/graph.h"
#include "model/model.h"
#include "runtime/threadpool.h"

namespace bitnet {

struct ContextOptions {
    uint32_t n_ctx = 0;     // 0 = min(n_ctx_train, 4096)
    int32_t n_threads = 0;  // 0 = physical cores
    int32_t n_batch = 0;    // 0 = 512
    bool kv_f32 = false;
};

enum class LogitsMode { None = 0, Last = 1, All = 2 };

class Context : private graph::Blocks {
public:
    // Throws bitnet::Error (INVALID_ARGUMENT, OUT_OF_MEMORY).
    Context(std::shared_ptr<const Model> model, const ContextOptions &opt);
    ~Context();

    const Model &model() const { return *model_; }
    const std::shared_ptr<const Model> &shared_model() const { return model_; }
    uint32_t n_ctx() const { return n_ctx_; }
    uint32_t n_past() const { return n_past_; }
    int32_t n_threads() const { return n_threads_; }

    void reset();
    void abort() { abort_.store(true, std::memory_order_relaxed); }
    bool abort_requested() const { return abort_.load(std::memory_order_relaxed); }
    void clear_abort() { abort_.store(false, std::memory_order_relaxed); }

    // Evaluates tokens at positions n_past.. (throws CONTEXT_FULL, INVALID_ARGUMENT, ABORTED).
    void eval(const int32_t *tokens, size_t n_tokens, LogitsMode mode);

    int32_t n_logits() const { return n_logits_; }
    const float *logits(int32_t i) const;  // i < 0 counts from the end; nullptr if absent

private:
    void forward_chunk(const int32_t *tokens, int64_t n_tok, bool want_logits, bool all_logits,
                       float *logits_out);
    void bitlinear(const Matrix &w, const float *x, int64_t n_tok, float *y);
    void bitlinear_pair(const Matrix &w1, const Matrix &w2, const float *x, int64_t n_tok,
                        float *y1, float *y2);
    void quantize_rows(const float *x, int64_t n_tok, int64_t k);
    void matmul_i2s(const Matrix &w, int64_t n_tok, float *y);
    void matmul_float(const Matrix &w, const float *x, int64_t n_tok, float *y);
    void attention(int il, int64_t n_tok, int64_t pos0);
    void matmul_i2s_blocks(const Matrix &w, int64_t n_tok, float *y);
    void apply_out_scale(const Matrix &w, int64_t n_tok, float *y);
    // graph::Blocks over the current chunk (chunk_n_tok_ tokens from position chunk_pos0_).
    void attention(int il, const Layer &L, arch::RopeType rope, const float *sub_norm) override;
    void ffn(const Layer &L, arch::Activation act, const float *sub_norm) override;
    template <class F>
    void for_each_token(F &&fn);
    void lm_head(const float *z, int64_t n_tok, float *logits);

    std::shared_ptr<const Model> model_;
    graph::LayerFn layer_fn_ = nullptr;
    int64_t chunk_n_tok_ = 0, chunk_pos0_ = 0;
    uint32_t n_ctx_ = 0;
    uint32_t n_past_ = 0;
    int32_t n_threads_ = 1;
    int32_t n_batch_ = 512;
    bool kv_f32_ = false;
    std::atomic<bool> abort_{false};
    std::unique_ptr<runtime::ThreadPool> pool_;

    // KV cache, per layer [n_ctx][kv_dim] (f32 or f16 bits).
    std::vector<std::vector<float>> k_f32_, v_f32_;
    std::vector<std::vector<uint16_t>> k_f16_, v_f16_;

    // RoPE tables [n_ctx][n_rot/2].
    std::vector<float> rope_cos_, rope_sin_;

    // Scratch, sized for n_batch tokens.
    std::vector<float> x_, a_, q_, k_, v_, att_, o_, g_, u_, tmp_;
    std::vector<int8_t> qa_;          // quantised activations [n_tok][k]
    std::vector<float> qa_scale_;     // per token s_act
    std::vector<int32_t> qa_sum_;     // per token sum q (unused by signed kernels; kept for stats)
    std::vector<int32_t> dot_;        // integer dot products [n_tok][rows]
    std::vector<float> scores_;       // attention scores [n_threads][n_ctx]
    std::vector<float> logits_;
    int32_t n_logits_ = 0;
};

}  // namespace bitnet
