// The architecture and tensor-name tables (arch.h).
#include "arch/arch.h"

namespace bitnet::arch {

namespace {

struct RoleName {
    const char *base;
    bool per_layer;
    bool ternary;
};

// Indexed by Role. GGUF names of llama.cpp's LLM_TENSOR_NAMES (ternary-formats.md 1.1-1.3).
constexpr RoleName kRoles[kRoleCount] = {
    {"token_embd", false, false},   {"output", false, false},     {"output_norm", false, false},
    {"attn_norm", true, false},     {"attn_q", true, true},       {"attn_k", true, true},
    {"attn_v", true, true},         {"attn_output", true, true},  {"attn_sub_norm", true, false},
    {"ffn_norm", true, false},      {"ffn_gate", true, true},     {"ffn_up", true, true},
    {"ffn_down", true, true},       {"ffn_sub_norm", true, false},
};

// bitnet-b1.58 (Microsoft 2B4T; `bitnet-25` is the earlier name): ternary-formats.md 1.1.
// bitnet (1bitLLM bitnet_b1_58-large/-3B): 1.2. llama with ternary weights (Llama3-8B-1.58,
// Falcon3-*-1.58bit, Falcon-E): 1.3.
constexpr Arch kArchs[] = {
    {"bitnet-b1.58", "bitnet-25", true, Activation::Relu2, RopeType::Neox, true, false,
     ChatFormat::Bitnet2B4T, "BitNet b1.58 2B4T"},
    {"bitnet", nullptr, true, Activation::Silu, RopeType::Neox, false, true,
     ChatFormat::Llama3, "1bitLLM bitnet_b1_58"},
    {"llama", nullptr, false, Activation::Silu, RopeType::Norm, true, false,
     ChatFormat::Llama3, "Llama/Falcon3 ternary (Llama3-8B-1.58, Falcon3-1.58bit, Falcon-E)"},
};

}  // namespace

const char *role_base_name(Role r) { return kRoles[(int)r].base; }
bool role_per_layer(Role r) { return kRoles[(int)r].per_layer; }
bool role_ternary(Role r) { return kRoles[(int)r].ternary; }

std::string tensor_name(Role r, int layer, const char *suffix) {
    std::string s;
    if (role_per_layer(r)) s = "blk." + std::to_string(layer) + ".";
    s += role_base_name(r);
    s += '.';
    s += suffix;
    return s;
}

const Arch *find(std::string_view name) {
    for (const Arch &a : kArchs) {
        if (name == a.name || (a.alias && name == a.alias)) return &a;
    }
    return nullptr;
}

std::string supported_names() {
    std::string s;
    for (const Arch &a : kArchs) {
        if (!s.empty()) s += ", ";
        s += a.name;
        if (a.alias) {
            s += ", ";
            s += a.alias;
        }
    }
    return s;
}

int count() { return (int)(sizeof kArchs / sizeof kArchs[0]); }
const Arch &at(int i) { return kArchs[i]; }

const char *activation_name(Activation a) { return a == Activation::Relu2 ? "relu2" : "silu"; }
const char *rope_name(RopeType r) { return r == RopeType::Neox ? "neox" : "norm"; }

}  // namespace bitnet::arch
