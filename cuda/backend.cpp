// The CUDA backend (cuda/backend.h): weights uploaded once, the forward pass of context.cpp
// composed from the kernels of cuda/kernels.cu on one stream, the decode step (one token, last
// logits) captured once in a CUDA graph and replayed, since single-stream decode is otherwise
// bound by the launch overhead of its ~300 small kernels.
#include "cuda/backend.h"

#include <cuda_runtime.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "common/error.h"
#include "cuda/launch.h"
#include "model/model.h"

namespace bitnet::cuda {

using gguf::TensorType;

namespace {

void check(cudaError_t e, const char *what) {
    if (e == cudaSuccess) return;
    cudaGetLastError();  // clear a sticky-free error so the next call starts clean
    const bitnet_status st =
        e == cudaErrorMemoryAllocation ? BITNET_ERR_OUT_OF_MEMORY : BITNET_ERR_INTERNAL;
    fail(st, std::string("device cuda: ") + what + ": " + cudaGetErrorName(e) + " (" +
                 cudaGetErrorString(e) + ")");
}

bool float_matrix(const Matrix &m) {
    return m.type == TensorType::F16 || m.type == TensorType::F32;
}

// The rows of an I2_S matrix in the file's layout (row r at r * k / 4), undoing the load-time
// interleave in groups of il (kernels.h I2sGemvFn: row r's block b at
// (r / il) * il * k / 4 + b * il * 32 + (r % il) * 32).
std::vector<uint8_t> i2s_file_layout(const Matrix &m) {
    const int64_t rb = m.k / 4, n_blocks = m.k / 128;
    std::vector<uint8_t> out((size_t)(m.rows * rb));
    if (m.il == 1) {
        std::memcpy(out.data(), m.data, out.size());
        return out;
    }
    for (int64_t r = 0; r < m.rows; ++r) {
        const uint8_t *src = m.data + (r / m.il) * m.il * rb + (r % m.il) * 32;
        for (int64_t b = 0; b < n_blocks; ++b) {
            std::memcpy(out.data() + r * rb + b * 32, src + b * m.il * 32, 32);
        }
    }
    return out;
}

struct DevLayer {
    const float *attn_norm, *attn_sub_norm, *ffn_norm, *ffn_sub_norm;
    const uint8_t *wq, *wk, *wv, *wo, *w_gate, *w_up, *w_down;
    float s_q, s_k, s_v, s_o, s_gate, s_up, s_down;
    void *kc, *vc;
};

class CudaBackend final : public Backend {
public:
    CudaBackend(const Model &model, uint32_t n_ctx, int32_t n_batch, bool kv_f32);
    ~CudaBackend() override;

    void forward(const int32_t *tokens, int64_t n_tok, int64_t pos0, bool want_logits,
                 bool all_logits, float *logits_out) override;

private:
    template <typename T>
    T *alloc(size_t count) {
        void *p = nullptr;
        check(cudaMalloc(&p, count * sizeof(T)), "cudaMalloc");
        allocs_.push_back(p);
        return static_cast<T *>(p);
    }
    template <typename T>
    T *upload(const T *src, size_t count) {
        T *d = alloc<T>(count);
        check(cudaMemcpy(d, src, count * sizeof(T), cudaMemcpyHostToDevice), "upload");
        return d;
    }
    const void *upload_float_matrix(const Matrix &m);
    void upload_weights();
    void enqueue(int n_tok, bool want_logits, bool all_logits);
    void release();

    const Model &model_;
    const HParams &hp_;
    uint32_t n_ctx_;
    int32_t n_batch_;
    bool kv_f32_;
    cudaStream_t stream_ = nullptr;
    std::vector<void *> allocs_;
    cudaGraphExec_t decode_graph_ = nullptr;

    std::vector<DevLayer> layers_;
    const void *embd_ = nullptr;
    const void *head_ = nullptr;
    bool embd_f16_ = true, head_f16_ = true;
    const float *output_norm_ = nullptr;
    const double *inv_freq_ = nullptr;  // RoPE base^(-2i/n_rot), i < n_rot/2

    int32_t *tokens_ = nullptr, *pos_ = nullptr;
    int32_t *pinned_io_ = nullptr;  // [0] token, [1] position of the graph's decode step
    float *x_, *a_, *q_, *k_, *v_, *att_, *o_, *g_, *u_, *tmp_, *logits_;
    launch::QuantBuf qa_;
};

CudaBackend::CudaBackend(const Model &model, uint32_t n_ctx, int32_t n_batch, bool kv_f32)
    : model_(model), hp_(model.hparams()), n_ctx_(n_ctx), n_batch_(n_batch), kv_f32_(kv_f32) {
    try {
        check(cudaSetDevice(0), "cudaSetDevice");
        check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
        const int64_t d = hp_.n_embd, kvd = hp_.kv_dim(), ff = hp_.n_ff, nb = n_batch_;
        if (!launch::prepare_shared_memory(std::max(d, ff), (int)n_ctx_, hp_.head_dim)) {
            fail(BITNET_ERR_UNSUPPORTED,
                 "device cuda: a context of " + std::to_string(n_ctx_) +
                     " tokens needs more shared memory per block than this GPU has (attention "
                     "keeps a row of n_ctx scores); use a smaller n_ctx");
        }
        upload_weights();
        const int64_t mx = std::max(d, ff);
        x_ = alloc<float>(nb * d);
        a_ = alloc<float>(nb * d);
        q_ = alloc<float>(nb * d);
        k_ = alloc<float>(nb * kvd);
        v_ = alloc<float>(nb * kvd);
        att_ = alloc<float>(nb * d);
        o_ = alloc<float>(nb * d);
        g_ = alloc<float>(nb * ff);
        u_ = alloc<float>(nb * ff);
        tmp_ = alloc<float>(nb * d);
        logits_ = alloc<float>(nb * (int64_t)hp_.n_vocab);
        qa_.ldq = launch::perm_row_bytes(mx);
        qa_.q = alloc<int8_t>(nb * qa_.ldq);
        qa_.s = alloc<float>(nb);
        qa_.sum = alloc<int32_t>(nb);
        tokens_ = alloc<int32_t>(nb);
        pos_ = alloc<int32_t>(1);
        check(cudaMallocHost(&pinned_io_, 2 * sizeof(int32_t)), "cudaMallocHost");
    } catch (...) {
        release();  // a constructor that throws gets no destructor call
        throw;
    }
}

CudaBackend::~CudaBackend() { release(); }

void CudaBackend::release() {
    if (decode_graph_) cudaGraphExecDestroy(decode_graph_);
    decode_graph_ = nullptr;
    for (void *p : allocs_) cudaFree(p);
    allocs_.clear();
    if (pinned_io_) cudaFreeHost(pinned_io_);
    pinned_io_ = nullptr;
    if (stream_) cudaStreamDestroy(stream_);
    stream_ = nullptr;
}

const void *CudaBackend::upload_float_matrix(const Matrix &m) {
    const size_t n = (size_t)(m.k * m.rows);
    if (m.type == TensorType::F16) return upload(reinterpret_cast<const uint16_t *>(m.data), n);
    return upload(reinterpret_cast<const float *>(m.data), n);
}

void CudaBackend::upload_weights() {
    const int64_t d = hp_.n_embd, ff = hp_.n_ff, kvd = hp_.kv_dim();
    const size_t cache = (size_t)hp_.n_head_kv * n_ctx_ * hp_.head_dim;
    auto ternary = [&](const Matrix &m, float &scale) {
        scale = m.scale;
        const std::vector<uint8_t> rows = i2s_file_layout(m);
        return upload(rows.data(), rows.size());
    };
    for (const Layer &L : model_.layers()) {
        DevLayer dl{};
        dl.attn_norm = upload(L.attn_norm, (size_t)d);
        dl.attn_sub_norm = upload(L.attn_sub_norm, (size_t)d);
        dl.ffn_norm = upload(L.ffn_norm, (size_t)d);
        dl.ffn_sub_norm = upload(L.ffn_sub_norm, (size_t)ff);
        dl.wq = ternary(L.wq, dl.s_q);
        dl.wk = ternary(L.wk, dl.s_k);
        dl.wv = ternary(L.wv, dl.s_v);
        dl.wo = ternary(L.wo, dl.s_o);
        dl.w_gate = ternary(L.w_gate, dl.s_gate);
        dl.w_up = ternary(L.w_up, dl.s_up);
        dl.w_down = ternary(L.w_down, dl.s_down);
        dl.kc = kv_f32_ ? (void *)alloc<float>(cache) : (void *)alloc<uint16_t>(cache);
        dl.vc = kv_f32_ ? (void *)alloc<float>(cache) : (void *)alloc<uint16_t>(cache);
        layers_.push_back(dl);
    }
    (void)kvd;
    const Matrix &e = model_.token_embd(), &h = model_.output();
    embd_ = upload_float_matrix(e);
    embd_f16_ = e.type == TensorType::F16;
    // A tied head is the embedding matrix itself: one copy on the device.
    head_ = h.data == e.data ? embd_ : upload_float_matrix(h);
    head_f16_ = h.type == TensorType::F16;
    output_norm_ = upload(model_.output_norm(), (size_t)d);
    // The same std::pow as context.cpp, so that the angles pos * inv_freq are the CPU's.
    std::vector<double> inv_freq((size_t)(hp_.n_rot / 2));
    for (size_t i = 0; i < inv_freq.size(); ++i) {
        inv_freq[i] = std::pow((double)hp_.rope_base, -2.0 * (double)i / hp_.n_rot);
    }
    inv_freq_ = upload(inv_freq.data(), inv_freq.size());
}

// The forward pass of n_tok tokens whose ids are in tokens_ and first position in pos_
// (context.cpp forward_chunk, step for step).
void CudaBackend::enqueue(int n_tok, bool want_logits, bool all_logits) {
    const int64_t d = hp_.n_embd, kvd = hp_.kv_dim(), ff = hp_.n_ff;
    const float eps = hp_.rms_eps;
    cudaStream_t s = stream_;
    const launch::QuantBuf none{};
    check(launch::embed(s, embd_, embd_f16_, d, tokens_, n_tok, x_), "embed");
    for (size_t il = 0; il < layers_.size(); ++il) {
        const DevLayer &L = layers_[il];
        // attention block (the previous layer's FFN output is added to x first)
        check(launch::norm_quant(s, n_tok, d, x_, d, il ? tmp_ : nullptr, nullptr, L.attn_norm, eps,
                                 qa_, nullptr),
              "attn_norm");
        launch::MatSet qkv;
        qkv.n = 3;
        qkv.w[0] = L.wq, qkv.w[1] = L.wk, qkv.w[2] = L.wv;
        qkv.row_end[0] = (int32_t)d, qkv.row_end[1] = (int32_t)(d + kvd),
        qkv.row_end[2] = (int32_t)(d + 2 * kvd);
        qkv.scale[0] = L.s_q, qkv.scale[1] = L.s_k, qkv.scale[2] = L.s_v;
        qkv.y[0] = q_, qkv.y[1] = k_, qkv.y[2] = v_;
        qkv.ldy[0] = d, qkv.ldy[1] = kvd, qkv.ldy[2] = kvd;
        check(launch::i2s_matmul(s, qkv, d, qa_, n_tok), "wq/wk/wv");
        check(launch::rope_kv(s, n_tok, pos_, inv_freq_, q_, k_, v_, hp_.n_head, hp_.n_head_kv,
                              hp_.head_dim, hp_.n_rot, kv_f32_, L.kc, L.vc, (int)n_ctx_),
              "rope");
        check(launch::attention(s, n_tok, pos_, q_, kv_f32_, L.kc, L.vc, (int)n_ctx_, hp_.n_head,
                                hp_.n_head_kv, hp_.head_dim, att_),
              "attention");
        check(launch::norm_quant(s, n_tok, d, att_, d, nullptr, nullptr, L.attn_sub_norm, eps, qa_,
                                 nullptr),
              "attn_sub_norm");
        launch::MatSet wo;
        wo.n = 1;
        wo.w[0] = L.wo, wo.row_end[0] = (int32_t)d, wo.scale[0] = L.s_o, wo.y[0] = tmp_,
        wo.ldy[0] = d;
        check(launch::i2s_matmul(s, wo, d, qa_, n_tok), "wo");
        // feed-forward block
        check(launch::norm_quant(s, n_tok, d, x_, d, tmp_, nullptr, L.ffn_norm, eps, qa_, nullptr),
              "ffn_norm");
        launch::MatSet gu;
        gu.n = 2;
        gu.w[0] = L.w_gate, gu.w[1] = L.w_up;
        gu.row_end[0] = (int32_t)ff, gu.row_end[1] = (int32_t)(2 * ff);
        gu.scale[0] = L.s_gate, gu.scale[1] = L.s_up;
        gu.y[0] = g_, gu.y[1] = u_;
        gu.ldy[0] = ff, gu.ldy[1] = ff;
        check(launch::i2s_matmul(s, gu, d, qa_, n_tok), "gate/up");
        check(launch::norm_quant(s, n_tok, ff, g_, ff, nullptr, u_, L.ffn_sub_norm, eps, qa_,
                                 nullptr),
              "ffn_sub_norm");
        launch::MatSet down;
        down.n = 1;
        down.w[0] = L.w_down, down.row_end[0] = (int32_t)d, down.scale[0] = L.s_down,
        down.y[0] = tmp_, down.ldy[0] = d;
        check(launch::i2s_matmul(s, down, ff, qa_, n_tok), "down");
    }
    if (!want_logits) {
        // x must still receive the last layer's output only if a later step read it; none does
        // (the next chunk starts from the embedding), so the final add is skipped.
        return;
    }
    const int first = all_logits ? 0 : n_tok - 1, n_out = n_tok - first;
    check(launch::norm_quant(s, n_out, d, x_ + first * d, d, tmp_ + first * d, nullptr,
                             output_norm_, eps, none, a_),
          "output_norm");
    check(launch::head(s, head_, head_f16_, d, hp_.n_vocab, a_, n_out, logits_), "head");
}

void CudaBackend::forward(const int32_t *tokens, int64_t n_tok, int64_t pos0, bool want_logits,
                          bool all_logits, float *logits_out) {
    if (n_tok < 1 || n_tok > n_batch_ || pos0 < 0 || pos0 + n_tok > (int64_t)n_ctx_) {
        fail(BITNET_ERR_INTERNAL, "device cuda: forward called with a chunk outside the context");
    }
    const size_t nv = (size_t)hp_.n_vocab;
    if (n_tok == 1 && want_logits) {
        // Decode: replay the captured step; token and position travel through pinned memory
        // (the graph copies them first), so one graph serves every position.
        pinned_io_[0] = tokens[0];
        pinned_io_[1] = (int32_t)pos0;
        if (!decode_graph_) {
            cudaGraph_t graph = nullptr;
            check(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal),
                  "cudaStreamBeginCapture");
            try {
                check(cudaMemcpyAsync(tokens_, pinned_io_, sizeof(int32_t), cudaMemcpyHostToDevice,
                                      stream_),
                      "token copy");
                check(cudaMemcpyAsync(pos_, pinned_io_ + 1, sizeof(int32_t), cudaMemcpyHostToDevice,
                                      stream_),
                      "position copy");
                enqueue(1, true, false);
            } catch (...) {
                cudaStreamEndCapture(stream_, &graph);
                if (graph) cudaGraphDestroy(graph);
                throw;
            }
            check(cudaStreamEndCapture(stream_, &graph), "cudaStreamEndCapture");
            const cudaError_t e = cudaGraphInstantiate(&decode_graph_, graph, 0);
            cudaGraphDestroy(graph);
            check(e, "cudaGraphInstantiate");
        }
        check(cudaGraphLaunch(decode_graph_, stream_), "cudaGraphLaunch");
        check(cudaMemcpyAsync(logits_out, logits_, nv * sizeof(float), cudaMemcpyDeviceToHost,
                              stream_),
              "logits copy");
        check(cudaStreamSynchronize(stream_), "decode step");
        return;
    }
    const int32_t p = (int32_t)pos0;
    check(cudaMemcpyAsync(tokens_, tokens, (size_t)n_tok * sizeof(int32_t), cudaMemcpyHostToDevice,
                          stream_),
          "token copy");
    check(cudaMemcpyAsync(pos_, &p, sizeof(int32_t), cudaMemcpyHostToDevice, stream_),
          "position copy");
    enqueue((int)n_tok, want_logits, all_logits);
    if (want_logits) {
        const size_t n_out = all_logits ? (size_t)n_tok : 1;
        check(cudaMemcpyAsync(logits_out, logits_, n_out * nv * sizeof(float),
                              cudaMemcpyDeviceToHost, stream_),
              "logits copy");
    }
    check(cudaStreamSynchronize(stream_), "forward");
}

}  // namespace

bool compiled() { return true; }

int device_count() {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return n;
}

std::string unsupported_reason(const Model &model) {
    const HParams &hp = model.hparams();
    if (hp.arch != "bitnet-b1.58" && hp.arch != "bitnet-25") {
        return "architecture " + hp.arch + " (the GPU runs bitnet-b1.58 and bitnet-25)";
    }
    for (size_t il = 0; il < model.layers().size(); ++il) {
        const Layer &L = model.layers()[il];
        for (const Matrix *m : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down}) {
            if (m->type != TensorType::I2_S) {
                return "layer " + std::to_string(il) + " matrix " + m->name + " is " +
                       gguf::tensor_type_name(m->type) + " (the GPU runs I2_S layer matrices)";
            }
        }
    }
    if (!float_matrix(model.token_embd()) || !float_matrix(model.output())) {
        return "the token embedding and the LM head must be F16 or F32";
    }
    if (model.output_quant()) {
        return "the load-time quantised LM head (lm_head_type Q8/Q4) runs on the CPU only";
    }
    if (hp.head_dim > 256 || hp.head_dim % 2 != 0 || hp.n_rot > hp.head_dim) {
        return "head size " + std::to_string(hp.head_dim) + " (the GPU needs an even size <= 256)";
    }
    if (hp.n_embd % 8 != 0) return "n_embd must be a multiple of 8";
    return "";
}

std::unique_ptr<Backend> Backend::create(const Model &model, uint32_t n_ctx, int32_t n_batch,
                                         bool kv_f32) {
    const std::string why = unsupported_reason(model);
    if (!why.empty()) fail(BITNET_ERR_UNSUPPORTED, "device cuda: model not supported: " + why);
    int n = 0;
    const cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
        cudaGetLastError();
        fail(BITNET_ERR_UNSUPPORTED,
             std::string("device cuda: no usable CUDA device (") +
                 (e != cudaSuccess
                      ? std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e) +
                            "; no NVIDIA driver loaded, or one older than the "
                            "CUDA runtime this library was built with"
                      : std::string("the driver reports 0 devices")) +
                 ")");
    }
    return std::make_unique<CudaBackend>(model, n_ctx, n_batch, kv_f32);
}

void bitlinear_for_test(const float *x, int64_t n_tok, int64_t k, const uint8_t *w, int64_t rows,
                        float scale, int8_t *q, float *s, int32_t *dot, float *y) {
    if (device_count() == 0) fail(BITNET_ERR_UNSUPPORTED, "device cuda: no usable CUDA device");
    check(cudaSetDevice(0), "cudaSetDevice");
    if (!launch::prepare_shared_memory(k, 1, 2)) fail(BITNET_ERR_UNSUPPORTED, "k too large");
    std::vector<void *> mem;
    auto dalloc = [&](size_t bytes) {
        void *p = nullptr;
        check(cudaMalloc(&p, bytes), "cudaMalloc");
        mem.push_back(p);
        return p;
    };
    try {
        const int64_t ldq = launch::perm_row_bytes(k);
        float *dx = static_cast<float *>(dalloc((size_t)(n_tok * k) * sizeof(float)));
        uint8_t *dw = static_cast<uint8_t *>(dalloc((size_t)(rows * k / 4)));
        launch::QuantBuf qb;
        qb.q = static_cast<int8_t *>(dalloc((size_t)(n_tok * ldq)));
        qb.ldq = ldq;
        qb.s = static_cast<float *>(dalloc((size_t)n_tok * sizeof(float)));
        qb.sum = static_cast<int32_t *>(dalloc((size_t)n_tok * sizeof(int32_t)));
        float *dy = static_cast<float *>(dalloc((size_t)(n_tok * rows) * sizeof(float)));
        int32_t *ddot = static_cast<int32_t *>(dalloc((size_t)(n_tok * rows) * sizeof(int32_t)));
        check(cudaMemcpy(dx, x, (size_t)(n_tok * k) * sizeof(float), cudaMemcpyHostToDevice), "x");
        check(cudaMemcpy(dw, w, (size_t)(rows * k / 4), cudaMemcpyHostToDevice), "w");
        check(launch::norm_quant(nullptr, (int)n_tok, k, dx, k, nullptr, nullptr, nullptr, 0.0f, qb,
                                 nullptr),
              "quantize");
        launch::MatSet ms;
        ms.n = 1;
        ms.w[0] = dw, ms.row_end[0] = (int32_t)rows, ms.scale[0] = scale, ms.y[0] = dy,
        ms.ldy[0] = rows, ms.dot = ddot;
        check(launch::i2s_matmul(nullptr, ms, k, qb, (int)n_tok), "matmul");
        check(cudaDeviceSynchronize(), "bitlinear");
        std::vector<int8_t> perm((size_t)(n_tok * ldq));
        check(cudaMemcpy(perm.data(), qb.q, perm.size(), cudaMemcpyDeviceToHost), "q");
        for (int64_t t = 0; t < n_tok; ++t) {
            for (int64_t i = 0; i < k; ++i) q[t * k + i] = perm[t * ldq + launch::perm_offset(i)];
        }
        check(cudaMemcpy(s, qb.s, (size_t)n_tok * sizeof(float), cudaMemcpyDeviceToHost), "s");
        check(
            cudaMemcpy(dot, ddot, (size_t)(n_tok * rows) * sizeof(int32_t), cudaMemcpyDeviceToHost),
            "dot");
        check(cudaMemcpy(y, dy, (size_t)(n_tok * rows) * sizeof(float), cudaMemcpyDeviceToHost),
              "y");
    } catch (...) {
        for (void *p : mem) cudaFree(p);
        throw;
    }
    for (void *p : mem) cudaFree(p);
}

}  // namespace bitnet::cuda
