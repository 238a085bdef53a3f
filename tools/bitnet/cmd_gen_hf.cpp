// bitnet gen-hf: write a random-weight Hugging Face checkpoint folder in the layout of
// microsoft/bitnet-b1.58-2B-4T (packed) or 1bitLLM/bitnet_b1_58 (latent weights, SentencePiece
// tokenizer.model), at any size, to test and measure `bitnet convert`.
#include <string>

#include "common.h"
#include "common/error.h"
#include "convert/hf_generate.h"

namespace bitnet_cli {
namespace {

struct GenHfOptions {
    std::string out;
    std::string preset = "tiny";
    std::string tokenizer_from;
    std::string layout = "2b4t";
    int shards = 1;
    uint64_t seed = 1;
};

int run_gen_hf(const GenHfOptions &o) {
    bitnet::convert::HfGenerateOptions g =
        o.preset == "2b4t"        ? bitnet::convert::hf_preset_2b4t()
        : o.layout == "1bitllm" ? bitnet::convert::hf_preset_1bitllm_tiny()
                                  : bitnet::convert::HfGenerateOptions{};
    g.layout = o.layout;
    g.shards = o.shards;
    g.seed = o.seed;
    g.tokenizer_from = o.tokenizer_from;
    try {
        bitnet::convert::generate_hf_checkpoint(o.out, g);
    } catch (const bitnet::Error &e) {
        fail(o.out, e.what());
    }
    return 0;
}

}  // namespace

Command add_gen_hf(CLI::App &app) {
    auto o = std::make_shared<GenHfOptions>();
    CLI::App *sub = app.add_subcommand("gen-hf", "write a random Hugging Face checkpoint (2B4T packed layout)");
    sub->add_option("-o,--output", o->out, "folder to write")->required()->type_name("DIR");
    sub->add_option("--preset", o->preset, "tiny (256 hidden, 2 layers) or 2b4t (BitNet b1.58 2B4T sizes)")
        ->check(CLI::IsMember({"tiny", "2b4t"}))->capture_default_str();
    sub->add_option("--layout", o->layout, "2b4t (BitNetForCausalLM, packed U8) or 1bitllm (BitnetForCausalLM, BF16 latent weights, tokenizer.model)")
        ->check(CLI::IsMember({"2b4t", "1bitllm"}))->capture_default_str();
    sub->add_option("--shards", o->shards, "safetensors files (> 1 writes model.safetensors.index.json)")
        ->check(CLI::Range(1, 1000))->capture_default_str();
    sub->add_option("--tokenizer-from", o->tokenizer_from, "copy tokenizer files from this folder (default: a minimal byte-level BPE, or SentencePiece model for 1bitllm)");
    sub->add_option("--seed", o->seed, "random seed")->capture_default_str();
    return {sub, [o]() { return run_gen_hf(*o); }};
}

}  // namespace bitnet_cli
