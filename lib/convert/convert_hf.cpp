// Hugging Face folder -> GGUF: the tensor plan of a family, metadata, then a streamed write.
#include <chrono>
#include <filesystem>

#include "common/error.h"
#include "convert/convert.h"
#include "convert/encode.h"
#include "convert/hf_config.h"
#include "convert/hf_tokenizer.h"
#include "convert/safetensors.h"
#include "convert/tensor_plan.h"
#include "convert/ternary.h"

namespace bitnet::convert {
namespace {

using gguf::TensorType;

void add_metadata(gguf::Writer &w, const HfConfig &c, const std::string &name, TensorType ternary) {
    const std::string a = c.gguf_arch + ".";
    w.add_string("general.architecture", c.gguf_arch);
    w.add_string("general.name", name);
    w.add_u32(a + "block_count", (uint32_t)c.n_layer);
    w.add_u32(a + "context_length", (uint32_t)c.n_ctx);
    w.add_u32(a + "embedding_length", (uint32_t)c.n_embd);
    w.add_u32(a + "feed_forward_length", (uint32_t)c.n_ff);
    w.add_u32(a + "attention.head_count", (uint32_t)c.n_head);
    w.add_u32(a + "attention.head_count_kv", (uint32_t)c.n_head_kv);
    w.add_f32(a + "rope.freq_base", (float)c.rope_theta);
    w.add_f32(a + "attention.layer_norm_rms_epsilon", (float)c.rms_eps);
    w.add_u32("general.file_type", ftype_of(ternary));
    w.add_u32(a + "vocab_size", (uint32_t)c.n_vocab);
    w.add_u32(a + "rope.dimension_count", (uint32_t)c.head_dim);
    if (c.head_dim * c.n_head != c.n_embd) {
        w.add_u32(a + "attention.key_length", (uint32_t)c.head_dim);
        w.add_u32(a + "attention.value_length", (uint32_t)c.head_dim);
    }
    // The activation is not implied by the arch string (ternary-formats.md section 5, item 2).
    if (c.family != Family::LlamaTernary) w.add_string(a + "hidden_activation", c.hidden_act);
}

std::string default_name(const std::string &dir) {
    std::filesystem::path p(dir);
    if (p.filename().empty()) p = p.parent_path();
    return p.filename().string();
}

}  // namespace

uint32_t ftype_of(TensorType t) {
    switch (t) {
        case TensorType::I2_S: return 40;
        case TensorType::TQ1_0: return 36;
        case TensorType::TQ2_0: return 37;
        default: return 0;
    }
}

void convert_hf(const std::string &dir, const std::string &out, const ConvertOptions &opt,
                const ProgressFn &progress) {
    const HfConfig cfg = read_hf_config(dir);
    const Checkpoint ckpt = Checkpoint::open_dir(dir);
    const TensorType ternary = opt.ternary_type.value_or(
        cfg.family == Family::BitNetB158 ? TensorType::I2_S : TensorType::TQ2_0);
    const TensorType embd = opt.embd_type.value_or(TensorType::F16);
    if (!is_ternary_type(ternary))
        fail(BITNET_ERR_INVALID_ARGUMENT, "the ternary type must be I2_S, TQ2_0 or TQ1_0");

    // Every tensor is planned (and its source checked) before the output is created.
    const std::vector<PlannedTensor> plan = plan_hf_tensors(cfg, ckpt, ternary, embd);
    // After the plan, which checked the embedding's [vocab_size, hidden_size] against the
    // file: vocab_size now bounds what the tokenizer tables allocate.
    const GgufVocab vocab = read_hf_tokenizer(dir, cfg);

    gguf::Writer w;
    add_metadata(w, cfg, opt.name.empty() ? default_name(dir) : opt.name, ternary);
    write_vocab(w, vocab);
    w.add_u32("general.quantization_version", 2);
    add_planned_tensors(w, plan, progress);
    w.write(out);
}

}  // namespace bitnet::convert
