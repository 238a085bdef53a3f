// Model loading: hyper-parameters from metadata, weight binding with shape/type checks.
#include "model/model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "common/error.h"
#include "common/fp16.h"
#include "kernels/kernels.h"
#include "runtime/threadpool.h"

namespace bitnet {

using gguf::TensorType;

namespace {

std::string shape_str(const gguf::TensorInfo &t) {
    std::string s = "{";
    for (uint32_t i = 0; i < t.n_dims; ++i) {
        if (i) s += ", ";
        s += std::to_string(t.ne[i]);
    }
    return s + "}";
}

// Reads an architecture hyper-parameter `<arch>.<key>` as a positive int32 within [lo, hi].
int32_t hparam_int(const gguf::File &f, const std::string &arch, const char *key, int64_t lo,
                   int64_t hi, const int32_t *def = nullptr) {
    const std::string full = arch + "." + key;
    uint32_t v;
    if (def) {
        if (!f.find(full)) return *def;
    }
    v = f.get_u32(full);
    if ((int64_t)v < lo || (int64_t)v > hi) {
        fail(BITNET_ERR_BAD_FORMAT, f.path() + ": metadata " + full + " = " + std::to_string(v) +
                                        " is outside the supported range [" + std::to_string(lo) +
                                        ", " + std::to_string(hi) + "]");
    }
    return (int32_t)v;
}

}  // namespace

std::shared_ptr<const Model> Model::load(const std::string &path, const ModelOptions &opt) {
    std::shared_ptr<Model> m(new Model());
    m->opt_ = opt;
    m->file_ = gguf::File::open(path, opt.use_mmap, /*writable=*/opt.repack);
    m->bind();
    return m;
}

// Rows per group of the repacked I2_S layout: the 4-row tiles of the decode kernels then read
// one sequential run of bytes.
constexpr int kI2sInterleave = 4;

void Model::bind() {
    const gguf::File &f = *file_;
    const std::string &path = f.path();

    // ---- architecture and hyper-parameters ----
    hp_.arch = f.get_string("general.architecture");
    if (hp_.arch != "bitnet-b1.58" && hp_.arch != "bitnet-25") {
        fail(BITNET_ERR_UNSUPPORTED, path + ": architecture '" + hp_.arch +
                                         "' is not supported (expected bitnet-b1.58 or bitnet-25)");
    }
    const std::string &a = hp_.arch;
    hp_.n_embd = hparam_int(f, a, "embedding_length", 1, 1 << 16);
    hp_.n_layer = hparam_int(f, a, "block_count", 1, 1024);
    hp_.n_head = hparam_int(f, a, "attention.head_count", 1, 4096);
    hp_.n_head_kv = hparam_int(f, a, "attention.head_count_kv", 1, 4096, &hp_.n_head);
    hp_.n_ff = hparam_int(f, a, "feed_forward_length", 1, 1 << 20);
    const int32_t ctx_def = 4096;
    hp_.n_ctx_train = hparam_int(f, a, "context_length", 1, 1 << 24, &ctx_def);
    if (hp_.n_embd % hp_.n_head != 0) {
        fail(BITNET_ERR_BAD_FORMAT, path + ": embedding_length " + std::to_string(hp_.n_embd) +
                                        " is not a multiple of head_count " +
                                        std::to_string(hp_.n_head));
    }
    if (hp_.n_head % hp_.n_head_kv != 0) {
        fail(BITNET_ERR_BAD_FORMAT, path + ": head_count " + std::to_string(hp_.n_head) +
                                        " is not a multiple of head_count_kv " +
                                        std::to_string(hp_.n_head_kv));
    }
    const int32_t head_dim_def = hp_.n_embd / hp_.n_head;
    hp_.head_dim = hparam_int(f, a, "attention.key_length", 1, 1 << 16, &head_dim_def);
    if (hp_.head_dim != head_dim_def) {
        fail(BITNET_ERR_UNSUPPORTED, path + ": attention.key_length " +
                                         std::to_string(hp_.head_dim) + " != embedding_length / " +
                                         "head_count (" + std::to_string(head_dim_def) + ")");
    }
    hp_.n_rot = hparam_int(f, a, "rope.dimension_count", 2, hp_.head_dim, &hp_.head_dim);
    if (hp_.n_rot % 2 != 0) {
        fail(BITNET_ERR_BAD_FORMAT, path + ": rope.dimension_count " + std::to_string(hp_.n_rot) +
                                        " must be even");
    }
    hp_.rope_base = f.get_f32(a + ".rope.freq_base", 10000.0f);
    hp_.rms_eps = f.get_f32(a + ".attention.layer_norm_rms_epsilon", 1e-5f);
    if (!std::isfinite(hp_.rope_base) || hp_.rope_base <= 0.0f) {
        fail(BITNET_ERR_BAD_FORMAT, path + ": rope.freq_base must be a positive finite number");
    }
    if (!std::isfinite(hp_.rms_eps) || hp_.rms_eps < 0.0f) {
        fail(BITNET_ERR_BAD_FORMAT,
             path + ": attention.layer_norm_rms_epsilon must be a non-negative finite number");
    }

    // ---- tokenizer ----
    tokenizer_ = Tokenizer::from_gguf(f);
    hp_.n_vocab = tokenizer_->n_vocab();

    // ---- tensors ----
    auto get = [&](const std::string &name, bool required = true) -> const gguf::TensorInfo * {
        const gguf::TensorInfo *t = f.find_tensor(name);
        if (!t && required) fail(BITNET_ERR_BAD_FORMAT, path + ": missing tensor '" + name + "'");
        return t;
    };
    auto vec = [&](const std::string &name, int64_t n) -> const float * {
        const gguf::TensorInfo *t = get(name);
        if (t->n_elements() != n || t->ne[0] != n) {
            fail(BITNET_ERR_BAD_FORMAT, path + ": tensor '" + name + "' has shape " +
                                            shape_str(*t) + ", expected {" + std::to_string(n) +
                                            "}");
        }
        if (t->type == TensorType::F32) return reinterpret_cast<const float *>(t->data);
        std::vector<float> v((size_t)n);
        const uint16_t *h = reinterpret_cast<const uint16_t *>(t->data);
        if (t->type == TensorType::F16) {
            for (int64_t i = 0; i < n; ++i) v[i] = f16_to_f32(h[i]);
        } else if (t->type == TensorType::BF16) {
            for (int64_t i = 0; i < n; ++i) v[i] = bf16_to_f32(h[i]);
        } else {
            fail(BITNET_ERR_UNSUPPORTED, path + ": tensor '" + name + "' has type " +
                                             gguf::tensor_type_name(t->type) +
                                             "; norm weights must be F32, F16 or BF16");
        }
        owned_.push_back(std::move(v));
        return owned_.back().data();
    };
    auto mat = [&](const std::string &name, int64_t k, int64_t rows, bool allow_i2s) -> Matrix {
        const gguf::TensorInfo *t = get(name);
        if (t->n_dims != 2 || t->ne[0] != k || t->ne[1] != rows) {
            fail(BITNET_ERR_BAD_FORMAT, path + ": tensor '" + name + "' has shape " +
                                            shape_str(*t) + ", expected {" + std::to_string(k) +
                                            ", " + std::to_string(rows) + "}");
        }
        Matrix m;
        m.name = name;
        m.type = t->type;
        m.k = k;
        m.rows = rows;
        m.data = t->data;
        switch (t->type) {
            case TensorType::F32:
            case TensorType::F16:
                break;
            case TensorType::I2_S:
                if (!allow_i2s) {
                    fail(BITNET_ERR_UNSUPPORTED,
                         path + ": tensor '" + name + "' cannot be I2_S (not a BitLinear weight)");
                }
                if (k % 128 != 0) {
                    fail(BITNET_ERR_BAD_FORMAT, path + ": I2_S tensor '" + name +
                                                    "' needs rows of a multiple of 128 values");
                }
                std::memcpy(&m.scale, t->data + (k * rows) / 4, sizeof(float));
                if (!std::isfinite(m.scale)) {
                    fail(BITNET_ERR_BAD_FORMAT,
                         path + ": I2_S tensor '" + name + "' has a non-finite scale");
                }
                if (opt_.repack && rows % kI2sInterleave == 0 && file_->writable()) {
                    // Same bytes, same values: only the order of the 32-byte blocks changes.
                    kernels::i2s_interleave(file_->writable_data(*t), k, rows, kI2sInterleave);
                    m.il = kI2sInterleave;
                }
                break;
            default:
                fail(BITNET_ERR_UNSUPPORTED, path + ": tensor '" + name + "' has type " +
                                                 gguf::tensor_type_name(t->type) +
                                                 ", which is not supported for this weight");
        }
        return m;
    };

    const int64_t d = hp_.n_embd, kv = hp_.kv_dim(), ff = hp_.n_ff, nv = hp_.n_vocab;
    token_embd_ = mat("token_embd.weight", d, nv, false);
    if (get("output.weight", false)) {
        output_ = mat("output.weight", d, nv, false);
    } else {
        output_ = token_embd_;  // tied head
    }
    output_norm_ = vec("output_norm.weight", d);
    layers_.resize((size_t)hp_.n_layer);
    for (int32_t il = 0; il < hp_.n_layer; ++il) {
        const std::string p = "blk." + std::to_string(il) + ".";
        Layer &L = layers_[(size_t)il];
        L.attn_norm = vec(p + "attn_norm.weight", d);
        L.attn_sub_norm = vec(p + "attn_sub_norm.weight", d);
        L.ffn_norm = vec(p + "ffn_norm.weight", d);
        L.ffn_sub_norm = vec(p + "ffn_sub_norm.weight", ff);
        L.wq = mat(p + "attn_q.weight", d, d, true);
        L.wk = mat(p + "attn_k.weight", d, kv, true);
        L.wv = mat(p + "attn_v.weight", d, kv, true);
        L.wo = mat(p + "attn_output.weight", d, d, true);
        L.w_gate = mat(p + "ffn_gate.weight", d, ff, true);
        L.w_up = mat(p + "ffn_up.weight", d, ff, true);
        L.w_down = mat(p + "ffn_down.weight", ff, d, true);
    }

    for (const gguf::TensorInfo &t : f.tensors()) {
        size_bytes_ += t.nbytes;
        n_params_ += (uint64_t)t.n_elements();
    }

    if (opt_.lm_head_type == 2 /* BITNET_LM_HEAD_Q8 */) quantize_output(8);
    if (opt_.lm_head_type == 3 /* BITNET_LM_HEAD_Q4 */) quantize_output(4);
}

void Model::quantize_output(int bits) {
    constexpr int64_t B = kernels::kQ8Block;
    const std::string name = bits == 8 ? "Q8" : "Q4";
    if (output_.k % B != 0) {
        fail(BITNET_ERR_UNSUPPORTED, file_->path() + ": the " + name +
                                         " LM head needs embedding_length to be a multiple of " +
                                         std::to_string(B));
    }
    auto q = std::make_unique<QuantHead>();
    q->bits = bits;
    q->k = output_.k;
    q->rows = output_.rows;
    q->q.resize((size_t)(q->row_bytes() * q->rows));
    q->scale.resize((size_t)(q->rows * (q->k / B)));
    // Rows are independent: split them over the cores.
    const kernels::KernelTable &kt = kernels::active();
    const int64_t k = q->k, nb = k / B, row_bytes = q->row_bytes();
    const bool f16 = output_.type == TensorType::F16;
    auto quantize_rows = [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            uint8_t *qr = q->q.data() + r * row_bytes;
            float *sr = q->scale.data() + r * nb;
            const uint16_t *h = reinterpret_cast<const uint16_t *>(output_.data) + r * k;
            const float *f = reinterpret_cast<const float *>(output_.data) + r * k;
            if (bits == 8) {
                int8_t *q8 = reinterpret_cast<int8_t *>(qr);
                f16 ? kt.q8_quantize_f16(h, k, q8, sr) : kernels::q8_quantize_f32_scalar(f, k, q8, sr);
            } else {
                f16 ? kt.q4_quantize_f16(h, k, qr, sr) : kernels::q4_quantize_f32_scalar(f, k, qr, sr);
            }
        }
    };
    runtime::ThreadPool pool(runtime::physical_core_count());
    pool.run([&](int ith, int nth) {
        quantize_rows(q->rows * ith / nth, q->rows * (ith + 1) / nth);
    });
    output_quant_ = std::move(q);
    // The F16 matrix is now read only for a few rows per token (embedding lookup, re-scoring):
    // let its pages go, so that resident memory holds the quantised copy instead of both.
    if (const gguf::TensorInfo *t = file_->find_tensor(output_.name)) file_->release_pages(*t);
}

uint64_t Model::decode_bytes() const {
    uint64_t bytes = 0;
    for (const gguf::TensorInfo &t : file_->tensors()) {
        if (t.name == "token_embd.weight" || t.name == "output.weight") continue;
        bytes += t.nbytes;
    }
    bytes += token_embd_.k * (token_embd_.type == TensorType::F16 ? 2 : 4);  // one embedding row
    if (output_quant_) {
        bytes += output_quant_->q.size() + output_quant_->scale.size() * sizeof(float);
    } else {
        const gguf::TensorInfo *head = file_->find_tensor(output_.name);
        bytes += head ? head->nbytes : 0;
    }
    return bytes;
}

void Model::embed(int32_t token, float *out) const {
    const int64_t d = token_embd_.k;
    if (token_embd_.type == TensorType::F16) {
        const uint16_t *row = reinterpret_cast<const uint16_t *>(token_embd_.data) + token * d;
        for (int64_t i = 0; i < d; ++i) out[i] = f16_to_f32(row[i]);
    } else {
        const float *row = reinterpret_cast<const float *>(token_embd_.data) + token * d;
        std::memcpy(out, row, (size_t)d * sizeof(float));
    }
}

}  // namespace bitnet
