// The architecture table: one entry per GGUF `general.architecture` this library runs, and the
// tensor-name table every loader and generator shares (../shared/docs/ternary-formats.md sections
// 1.1-1.3 and 1.7). Adding a model family = one entry here + one graph file in lib/graph/.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tokenizer/chat.h"

namespace bitnet::arch {

// FFN gate activation: relu(g)^2 * u (BitNet b1.58 2B4T) or silu(g) * u (SwiGLU: 1bitLLM, Llama).
enum class Activation { Relu2 = 0, Silu = 1 };
// RoPE pairing: NeoX rotates (i, i + n_rot/2); normal ("NORM" in ggml) rotates adjacent pairs
// (2i, 2i + 1), which llama.cpp's converter arranges by permuting the Q/K rows of arch `llama`.
enum class RopeType { Neox = 0, Norm = 1 };
// Chat prompt formats (lib/tokenizer/chat.h).
using ChatFormat = bitnet::ChatFormat;

// Tensor roles: the names below are the GGUF names (llama.cpp's LLM_TENSOR_NAMES).
enum class Role {
    TokenEmbd, Output, OutputNorm,                          // global
    AttnNorm, AttnQ, AttnK, AttnV, AttnOutput, AttnSubNorm,  // per layer
    FfnNorm, FfnGate, FfnUp, FfnDown, FfnSubNorm,
    Count
};
inline constexpr int kRoleCount = (int)Role::Count;

// GGUF base name of a role ("token_embd", "blk.%d.attn_q" without the layer number: "attn_q").
const char *role_base_name(Role r);
bool role_per_layer(Role r);
// The seven BitLinear projections (ternary weights, W1.58A8).
bool role_ternary(Role r);
// Full tensor name: "token_embd.weight", "blk.3.attn_q.weight", "blk.3.attn_q.scale" (suffix).
std::string tensor_name(Role r, int layer = -1, const char *suffix = "weight");

struct Arch {
    const char *name;           // canonical general.architecture value
    const char *alias;          // another name for the same graph (nullptr if none)
    bool sub_norms;             // attn_sub_norm before Wo, ffn_sub_norm before Wd (required)
    Activation act;             // default; `<arch>.hidden_activation` overrides when present
    RopeType rope;
    bool output_tensor;         // may carry output.weight (else the head is always tied)
    bool scale_tensors;         // optional per-matrix `.scale` F32 {1} multiplying the output
    ChatFormat chat;            // default chat format when the file has no known template
    const char *family;         // what people call it (messages, `bitnet info`)
};

// The entry whose name or alias is `name`, or nullptr.
const Arch *find(std::string_view name);
// "bitnet-b1.58, bitnet-25, bitnet, llama" for messages.
std::string supported_names();
// Number of entries and entry i (generators, tests).
int count();
const Arch &at(int i);

const char *activation_name(Activation a);
const char *rope_name(RopeType r);

}  // namespace bitnet::arch
