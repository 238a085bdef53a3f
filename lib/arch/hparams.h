// Hyper-parameters of a model, read from GGUF metadata `<arch>.*` with range checks.
#pragma once

#include <cstdint>
#include <string>

#include "arch/arch.h"
#include "gguf/gguf.h"

namespace bitnet {

struct HParams {
    std::string arch;
    const arch::Arch *info = nullptr;  // the arch table entry
    int32_t n_vocab = 0;
    int32_t n_ctx_train = 0;
    int32_t n_embd = 0;
    int32_t n_layer = 0;
    int32_t n_head = 0;
    int32_t n_head_kv = 0;
    int32_t head_dim = 0;  // attention.key_length; may differ from n_embd / n_head (Falcon3: 256)
    int32_t n_rot = 0;     // rotated dimensions per head (rope.dimension_count)
    int32_t n_ff = 0;
    float rope_base = 10000.0f;
    float rope_freq_scale = 1.0f;  // 1 / rope.scaling.factor for linear scaling
    float rms_eps = 1e-5f;
    arch::Activation act = arch::Activation::Relu2;
    arch::RopeType rope = arch::RopeType::Neox;
    bool sub_norms = true;

    int32_t kv_dim() const { return n_head_kv * head_dim; }
    int32_t q_dim() const { return n_head * head_dim; }  // rows of attn_q, columns of attn_output
};

// Reads every hyper-parameter of `a` from f's metadata (prefix f's general.architecture).
// Throws BAD_FORMAT for a value out of range, UNSUPPORTED for a valid setting no graph runs
// (an unknown hidden_activation or RoPE scaling type). n_vocab is left 0 (the tokenizer sets it).
HParams load_hparams(const gguf::File &f, const arch::Arch &a);

}  // namespace bitnet
