// Model loading: hyper-parameters from metadata, weight binding with shape/type checks.
#include "model/model.h"

#include <algorithm>
#include <chrono>
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

}  // namespace

std::shared_ptr<const Model> Model::load(const std::string &path, const ModelOptions &opt) {
    const auto t0 = std::chrono::steady_clock::now();
    std::shared_ptr<Model> m(new Model());
    m->opt_ = opt;
    m->file_ = gguf::File::open(path, opt.use_mmap, /*writable=*/opt.repack);
    m->bind();
    m->load_seconds_ =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return m;
}

const gguf::TensorInfo *Model::tensor(const std::string &name, bool required) const {
    const gguf::TensorInfo *t = file_->find_tensor(name);
    if (!t && required) {
        fail(BITNET_ERR_BAD_FORMAT, file_->path() + ": missing tensor '" + name + "' (required by " +
                                        "architecture " + hp_.arch + ")");
    }
    return t;
}

// A norm weight (or a `.scale` value) of n values as float32: F32 in place, F16/BF16 converted.
const float *Model::norm(const std::string &name, int64_t n) {
    const gguf::TensorInfo *t = tensor(name, true);
    if (t->n_elements() != n || t->ne[0] != n) {
        fail(BITNET_ERR_BAD_FORMAT, file_->path() + ": tensor '" + name + "' has shape " +
                                        shape_str(*t) + ", expected {" + std::to_string(n) + "}");
    }
    if (t->type == TensorType::F32) return reinterpret_cast<const float *>(t->data);
    if (t->type != TensorType::F16 && t->type != TensorType::BF16) {
        fail(BITNET_ERR_UNSUPPORTED, file_->path() + ": tensor '" + name + "' has type " +
                                         gguf::tensor_type_name(t->type) +
                                         "; norm weights and scales must be F32, F16 or BF16");
    }
    std::vector<float> v((size_t)n);
    formats::traits(t->type).to_float(t->data, n, v.data());
    owned_.push_back(std::move(v));
    return owned_.back().data();
}

namespace {
void check_shape(const gguf::File &f, const gguf::TensorInfo &t, int64_t k, int64_t rows) {
    if (t.n_dims != 2 || t.ne[0] != k || t.ne[1] != rows) {
        fail(BITNET_ERR_BAD_FORMAT, f.path() + ": tensor '" + t.name + "' has shape " +
                                        shape_str(t) + ", expected {" + std::to_string(k) + ", " +
                                        std::to_string(rows) + "}");
    }
}
}  // namespace

// A BitLinear projection of layer il, with its optional `.scale` (architectures that have them).
Matrix Model::ternary(arch::Role role, int il, int64_t k, int64_t rows) {
    const gguf::TensorInfo *t = tensor(arch::tensor_name(role, il), true);
    check_shape(*file_, *t, k, rows);
    formats::TernaryOptions to;
    to.interleave = opt_.repack;
    Matrix m = formats::bind_ternary(*file_, *t, to, store_);
    if (hp_.info->scale_tensors) {
        const std::string sname = arch::tensor_name(role, il, "scale");
        if (tensor(sname, false)) {
            m.out_scale = *norm(sname, 1);
            if (!std::isfinite(m.out_scale)) {
                fail(BITNET_ERR_BAD_FORMAT, file_->path() + ": tensor '" + sname +
                                                "' is not a finite number");
            }
        }
    }
    return m;
}

void Model::bind_layer(int il, Layer &L) {
    using arch::Role;
    const int64_t d = hp_.n_embd, qd = hp_.q_dim(), kv = hp_.kv_dim(), ff = hp_.n_ff;
    L.attn_norm = norm(arch::tensor_name(Role::AttnNorm, il), d);
    L.ffn_norm = norm(arch::tensor_name(Role::FfnNorm, il), d);
    if (hp_.sub_norms) {
        L.attn_sub_norm = norm(arch::tensor_name(Role::AttnSubNorm, il), qd);
        L.ffn_sub_norm = norm(arch::tensor_name(Role::FfnSubNorm, il), ff);
    }
    L.wq = ternary(Role::AttnQ, il, d, qd);
    L.wk = ternary(Role::AttnK, il, d, kv);
    L.wv = ternary(Role::AttnV, il, d, kv);
    L.wo = ternary(Role::AttnOutput, il, qd, d);
    L.w_gate = ternary(Role::FfnGate, il, d, ff);
    L.w_up = ternary(Role::FfnUp, il, d, ff);
    L.w_down = ternary(Role::FfnDown, il, ff, d);
}

void Model::bind() {
    const gguf::File &f = *file_;
    const std::string &path = f.path();

    // ---- architecture and hyper-parameters ----
    const std::string arch_name = f.get_string("general.architecture");
    const arch::Arch *a = arch::find(arch_name);
    if (!a) {
        fail(BITNET_ERR_UNSUPPORTED, path + ": architecture '" + arch_name +
                                         "' is not supported (supported: " +
                                         arch::supported_names() + ")");
    }
    hp_ = load_hparams(f, *a);

    // ---- tokenizer ----
    tokenizer_ = Tokenizer::from_gguf(f);
    hp_.n_vocab = tokenizer_->n_vocab();
    chat_format_ = a->chat;
    if (const gguf::Value *v = f.find("tokenizer.chat_template")) {
        if (v->type == gguf::ValueType::STRING) {
            if (auto known = detect_chat_template(v->str)) chat_format_ = *known;
        }
    }
    if (tokenizer_->eos() >= 0) chat_eos_text_ = tokenizer_->token_text(tokenizer_->eos());
    chat_turn_end_ = bitnet::chat_turn_end(chat_format_, chat_eos_text_);

    // ---- tensors ----
    using arch::Role;
    const int64_t d = hp_.n_embd, nv = hp_.n_vocab;
    const gguf::TensorInfo *embd = tensor(arch::tensor_name(Role::TokenEmbd), true);
    check_shape(f, *embd, d, nv);
    token_embd_ = formats::bind_float(f, *embd);
    const gguf::TensorInfo *out =
        a->output_tensor ? tensor(arch::tensor_name(Role::Output), false) : nullptr;
    Matrix head = token_embd_;
    tied_ = out == nullptr;
    if (out) {
        check_shape(f, *out, d, nv);
        head = formats::bind_float(f, *out);
    }
    output_ = formats::head_matrix(head, store_, runtime::physical_core_count());
    output_norm_ = norm(arch::tensor_name(Role::OutputNorm), d);
    layers_.resize((size_t)hp_.n_layer);
    for (int32_t il = 0; il < hp_.n_layer; ++il) bind_layer(il, layers_[(size_t)il]);

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
        // TQ weights are read as the I2_S codes they were repacked into (2 bits a weight).
        const bool tq = t.type == TensorType::TQ1_0 || t.type == TensorType::TQ2_0;
        bytes += tq ? (uint64_t)t.n_elements() / 4 : t.nbytes;
    }
    bytes += (uint64_t)formats::row_bytes(token_embd_.type, token_embd_.k);  // one embedding row
    if (output_quant_) {
        bytes += output_quant_->q.size() + output_quant_->scale.size() * sizeof(float);
    } else {
        bytes += (uint64_t)formats::row_bytes(output_.type, output_.k) * (uint64_t)output_.rows;
    }
    return bytes;
}

void Model::embed(int32_t token, float *out) const {
    formats::row_to_float(token_embd_, token, out);
}

}  // namespace bitnet
