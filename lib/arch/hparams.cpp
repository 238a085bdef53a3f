// Table-driven hyper-parameter loading (hparams.h).
#include "arch/hparams.h"

#include <cmath>

#include "common/error.h"

namespace bitnet {

namespace {

struct Reader {
    const gguf::File &f;
    const std::string &prefix;

    // `<arch>.<key>` as an integer within [lo, hi]; `def` when absent (required if null).
    int32_t integer(const char *key, int64_t lo, int64_t hi, const int32_t *def = nullptr) const {
        const std::string full = prefix + "." + key;
        if (def && !f.find(full)) return *def;
        const uint32_t v = f.get_u32(full);
        if ((int64_t)v < lo || (int64_t)v > hi) {
            fail(BITNET_ERR_BAD_FORMAT, f.path() + ": metadata " + full + " = " +
                                            std::to_string(v) + " is outside the supported range [" +
                                            std::to_string(lo) + ", " + std::to_string(hi) + "]");
        }
        return (int32_t)v;
    }
    std::string full(const char *key) const { return prefix + "." + key; }
    [[noreturn]] void bad(const std::string &what, bitnet_status status = BITNET_ERR_BAD_FORMAT) const {
        fail(status, f.path() + ": " + what);
    }
};

arch::Activation activation(const Reader &r, arch::Activation def) {
    const std::string key = r.full("hidden_activation");
    if (!r.f.find(key)) return def;
    const std::string v = r.f.get_string(key);
    if (v == "relu2" || v == "relu_sqr" || v == "relu_squared") return arch::Activation::Relu2;
    if (v == "silu" || v == "swiglu" || v == "swish") return arch::Activation::Silu;
    r.bad("metadata " + key + " = '" + v + "' is not supported (relu2 or silu)",
          BITNET_ERR_UNSUPPORTED);
}

// Linear RoPE scaling divides positions by the factor; "none" or a factor of 1 changes nothing.
float rope_freq_scale(const Reader &r) {
    const std::string type_key = r.full("rope.scaling.type");
    if (!r.f.find(type_key)) return 1.0f;
    const std::string type = r.f.get_string(type_key);
    const float factor = r.f.get_f32(r.full("rope.scaling.factor"), 1.0f);
    if (type == "none") return 1.0f;
    if (type != "linear") {
        r.bad("RoPE scaling type '" + type + "' is not supported (none or linear)",
              BITNET_ERR_UNSUPPORTED);
    }
    if (!std::isfinite(factor) || factor < 1.0f / 1024 || factor > 1024.0f) {
        r.bad("metadata " + r.full("rope.scaling.factor") + " must be in [1/1024, 1024]");
    }
    return 1.0f / factor;
}

}  // namespace

HParams load_hparams(const gguf::File &f, const arch::Arch &a) {
    HParams hp;
    hp.arch = f.get_string("general.architecture");
    hp.info = &a;
    const Reader r{f, hp.arch};
    hp.n_embd = r.integer("embedding_length", 1, 1 << 16);
    hp.n_layer = r.integer("block_count", 1, 1024);
    hp.n_head = r.integer("attention.head_count", 1, 4096);
    hp.n_head_kv = r.integer("attention.head_count_kv", 1, 4096, &hp.n_head);
    hp.n_ff = r.integer("feed_forward_length", 1, 1 << 20);
    const int32_t ctx_def = 4096;
    hp.n_ctx_train = r.integer("context_length", 1, 1 << 24, &ctx_def);
    if (hp.n_head % hp.n_head_kv != 0) {
        r.bad("head_count " + std::to_string(hp.n_head) + " is not a multiple of head_count_kv " +
              std::to_string(hp.n_head_kv));
    }
    // head_dim: attention.key_length, else rope.dimension_count (bitnet.cpp's Llama converter
    // writes only that one, = config.json's head_dim), else n_embd / n_head.
    const bool has_key_len = f.find(r.full("attention.key_length")) != nullptr;
    const bool has_rot = f.find(r.full("rope.dimension_count")) != nullptr;
    if (!has_key_len && !has_rot && hp.n_embd % hp.n_head != 0) {
        r.bad("embedding_length " + std::to_string(hp.n_embd) + " is not a multiple of head_count " +
              std::to_string(hp.n_head) + " and attention.key_length is absent");
    }
    int32_t hd_def = hp.n_embd / hp.n_head;
    if (!has_key_len && has_rot) hd_def = r.integer("rope.dimension_count", 2, 1024);
    hp.head_dim = r.integer("attention.key_length", 2, 1024, &hd_def);
    const int32_t v_len = r.integer("attention.value_length", 1, 1024, &hp.head_dim);
    if (v_len != hp.head_dim) {
        r.bad("attention.value_length " + std::to_string(v_len) + " != key_length " +
                  std::to_string(hp.head_dim) + " is not supported",
              BITNET_ERR_UNSUPPORTED);
    }
    hp.n_rot = r.integer("rope.dimension_count", 2, hp.head_dim, &hp.head_dim);
    if (hp.n_rot % 2 != 0 || hp.head_dim % 2 != 0) {
        r.bad("rope.dimension_count " + std::to_string(hp.n_rot) + " and head dimension " +
              std::to_string(hp.head_dim) + " must be even");
    }
    if ((int64_t)hp.n_head * hp.head_dim > (1 << 17)) {
        r.bad("head_count x key_length = " + std::to_string((int64_t)hp.n_head * hp.head_dim) +
              " is too large");
    }
    hp.rope_base = f.get_f32(r.full("rope.freq_base"), 10000.0f);
    hp.rms_eps = f.get_f32(r.full("attention.layer_norm_rms_epsilon"), 1e-5f);
    if (!std::isfinite(hp.rope_base) || hp.rope_base <= 0.0f) {
        r.bad("rope.freq_base must be a positive finite number");
    }
    if (!std::isfinite(hp.rms_eps) || hp.rms_eps < 0.0f) {
        r.bad("attention.layer_norm_rms_epsilon must be a non-negative finite number");
    }
    hp.rope_freq_scale = rope_freq_scale(r);
    hp.act = activation(r, a.act);
    hp.rope = a.rope;
    hp.sub_norms = a.sub_norms;
    return hp;
}

}  // namespace bitnet
