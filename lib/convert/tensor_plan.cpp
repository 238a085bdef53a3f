// Tensor plan of a Hugging Face model: see tensor_plan.h.
#include "convert/tensor_plan.h"

#include <memory>

#include "common/error.h"
#include "convert/encode.h"
#include "convert/ternary.h"

namespace bitnet::convert {
namespace {

using gguf::TensorType;

PlannedTensor float_tensor(const Checkpoint &ckpt, const std::string &hf, const std::string &gguf_name,
                           int64_t rows, int64_t cols, TensorType type) {
    const StTensor &t = ckpt.require(hf);
    require_float(t);
    if (rows == 1)
        require_shape(t, {(uint64_t)cols});
    else
        require_shape(t, {(uint64_t)rows, (uint64_t)cols});
    if ((type == TensorType::Q8_0 && cols % 32 != 0) || (type == TensorType::Q6_K && cols % 256 != 0))
        fail(BITNET_ERR_UNSUPPORTED, "tensor '" + gguf_name + "': " + gguf::tensor_type_name(type) +
                                         " needs rows of a multiple of " + (type == TensorType::Q8_0 ? "32" : "256") + " values");
    PlannedTensor p{gguf_name, type, rows == 1 ? std::vector<int64_t>{cols} : std::vector<int64_t>{cols, rows}, {}};
    const StTensor *src = &t;
    p.produce = [&ckpt, src, gguf_name, rows, cols, type](const gguf::Writer::Sink &sink) {
        // A big table (the embedding: 656 MB for 2B4T) leaves resident memory as it is read,
        // every 4096 rows, so that the conversion's memory stays near one chunk of it.
        const uint64_t row_bytes = (uint64_t)cols * (uint64_t)src->bits / 8;
        encode_float_rows(gguf_name, rows, cols, type,
                          [&ckpt, src, cols, row_bytes](int64_t r, float *out) {
                              for (int64_t i = 0; i < cols; ++i) out[i] = st_value(*src, (uint64_t)(r * cols + i));
                              if (r % 4096 == 4095)
                                  ckpt.release(*src, (uint64_t)(r - 4095) * row_bytes, (uint64_t)(r + 1) * row_bytes);
                          },
                          sink);
        ckpt.release(*src);
    };
    return p;
}

PlannedTensor ternary_tensor(const HfConfig &cfg, const Checkpoint &ckpt, const std::string &hf_prefix,
                             const std::string &gguf_name, int64_t rows, int64_t cols,
                             TensorType type, int64_t permute_heads) {
    check_ternary(ckpt, hf_prefix, rows, cols, cfg.packed_rule);
    const int64_t ne[4] = {cols, rows, 1, 1};
    std::string why;
    if (!gguf::tensor_nbytes_checked(type, ne, nullptr, &why))
        fail(BITNET_ERR_UNSUPPORTED, "tensor '" + gguf_name + "': " + why +
                                         (type == TensorType::I2_S ? "" : " (try --type i2_s)"));
    PlannedTensor p{gguf_name, type, {cols, rows}, {}};
    const ScaleRule rule = cfg.packed_rule;
    p.produce = [&ckpt, hf_prefix, gguf_name, rows, cols, type, permute_heads,
                 rule](const gguf::Writer::Sink &sink) {
        TernaryMatrix m = load_ternary(ckpt, hf_prefix, rows, cols, rule);
        if (permute_heads > 0) permute_rope_rows(m, permute_heads);
        const std::vector<uint8_t> bytes =
            encode_ternary(gguf_name, m.trits.data(), rows, cols, m.scale, type, false);
        sink(bytes.data(), bytes.size());
    };
    return p;
}

void plan_layer(const HfConfig &c, const Checkpoint &ckpt, int64_t il, TensorType ternary,
                std::vector<PlannedTensor> &plan) {
    const std::string hf = "model.layers." + std::to_string(il) + ".";
    const std::string g = "blk." + std::to_string(il) + ".";
    const int64_t q_rows = c.n_head * c.head_dim, kv_rows = c.n_head_kv * c.head_dim;
    const bool llama = c.family == Family::LlamaTernary;
    plan.push_back(float_tensor(ckpt, hf + "input_layernorm.weight", g + "attn_norm.weight", 1, c.n_embd, TensorType::F32));
    plan.push_back(ternary_tensor(c, ckpt, hf + "self_attn.q_proj", g + "attn_q.weight", q_rows, c.n_embd, ternary, llama ? c.n_head : 0));
    plan.push_back(ternary_tensor(c, ckpt, hf + "self_attn.k_proj", g + "attn_k.weight", kv_rows, c.n_embd, ternary, llama ? c.n_head_kv : 0));
    plan.push_back(ternary_tensor(c, ckpt, hf + "self_attn.v_proj", g + "attn_v.weight", kv_rows, c.n_embd, ternary, 0));
    plan.push_back(ternary_tensor(c, ckpt, hf + "self_attn.o_proj", g + "attn_output.weight", c.n_embd, q_rows, ternary, 0));
    plan.push_back(float_tensor(ckpt, hf + "post_attention_layernorm.weight", g + "ffn_norm.weight", 1, c.n_embd, TensorType::F32));
    plan.push_back(ternary_tensor(c, ckpt, hf + "mlp.gate_proj", g + "ffn_gate.weight", c.n_ff, c.n_embd, ternary, 0));
    plan.push_back(ternary_tensor(c, ckpt, hf + "mlp.up_proj", g + "ffn_up.weight", c.n_ff, c.n_embd, ternary, 0));
    plan.push_back(ternary_tensor(c, ckpt, hf + "mlp.down_proj", g + "ffn_down.weight", c.n_embd, c.n_ff, ternary, 0));
    if (c.family == Family::BitNetB158) {
        plan.push_back(float_tensor(ckpt, hf + "self_attn.attn_sub_norm.weight", g + "attn_sub_norm.weight", 1, q_rows, TensorType::F32));
        plan.push_back(float_tensor(ckpt, hf + "mlp.ffn_sub_norm.weight", g + "ffn_sub_norm.weight", 1, c.n_ff, TensorType::F32));
    } else if (c.family == Family::Bitnet1bitLLM) {
        plan.push_back(float_tensor(ckpt, hf + "self_attn.inner_attn_ln.weight", g + "attn_sub_norm.weight", 1, q_rows, TensorType::F32));
        plan.push_back(float_tensor(ckpt, hf + "mlp.ffn_layernorm.weight", g + "ffn_sub_norm.weight", 1, c.n_ff, TensorType::F32));
    }
}

}  // namespace

std::vector<PlannedTensor> plan_hf_tensors(const HfConfig &cfg, const Checkpoint &ckpt,
                                           TensorType ternary, TensorType embd) {
    std::vector<PlannedTensor> plan;
    plan.push_back(float_tensor(ckpt, "model.embed_tokens.weight", "token_embd.weight", cfg.n_vocab, cfg.n_embd, embd));
    for (int64_t il = 0; il < cfg.n_layer; ++il) plan_layer(cfg, ckpt, il, ternary, plan);
    plan.push_back(float_tensor(ckpt, "model.norm.weight", "output_norm.weight", 1, cfg.n_embd, TensorType::F32));
    if (!cfg.tied)
        plan.push_back(float_tensor(ckpt, "lm_head.weight", "output.weight", cfg.n_vocab, cfg.n_embd, embd));
    return plan;
}

void add_planned_tensors(gguf::Writer &w, const std::vector<PlannedTensor> &plan,
                         const ProgressFn &progress) {
    auto written = std::make_shared<uint64_t>(0);
    const int n = (int)plan.size();
    for (int i = 0; i < n; ++i) {
        const PlannedTensor &p = plan[i];
        w.add_tensor_streamed(p.name, p.type, p.ne,
                              [&p, written, progress, i, n](const gguf::Writer::Sink &sink) {
                                  p.produce([&](const void *d, size_t k) {
                                      *written += k;
                                      sink(d, k);
                                  });
                                  if (progress && !progress(i + 1, n, p.name, *written))
                                      fail(BITNET_ERR_ABORTED, "conversion stopped by the progress callback");
                              });
    }
}

}  // namespace bitnet::convert
