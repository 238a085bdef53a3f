// bitnet convert: a Hugging Face model folder (safetensors + config + tokenizer) to GGUF.
#include <chrono>
#include <cstdio>
#include <string>

#include "common.h"
#include "convert_progress.h"

namespace bitnet_cli {
namespace {

struct ConvertOptions {
    std::string src;
    std::string out;
    std::string type = "auto";
    std::string embd_type = "auto";
    std::string name;
    bool quiet = false;
};

int run_convert(const ConvertOptions &o) {
    bitnet_convert_params p = bitnet_convert_default_params();
    p.ternary_type = ternary_type_names().at(o.type);
    p.embd_type = embd_type_names().at(o.embd_type);
    if (!o.name.empty()) p.name = o.name.c_str();
    ConvertProgress progress;
    progress.quiet = o.quiet;
    const bitnet_status st = bitnet_convert(o.src.c_str(), o.out.c_str(), &p, ConvertProgress::callback, &progress);
    if (st != BITNET_OK) fail_status(o.src, st);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - progress.start).count();
    if (!o.quiet) std::fprintf(stderr, "wrote %s in %.1f s\n", o.out.c_str(), s);
    return 0;
}

}  // namespace

Command add_convert(CLI::App &app) {
    auto o = std::make_shared<ConvertOptions>();
    CLI::App *sub = app.add_subcommand("convert", "convert a Hugging Face model folder to GGUF");
    sub->footer(
        "Families: BitNetForCausalLM (bitnet-b1.58-2B-4T packed or -bf16) -> bitnet-b1.58;\n"
        "LlamaForCausalLM with a bitnet quantization_config (Llama3-8B-1.58, Falcon3-1.58bit)\n"
        "-> llama; BitnetForCausalLM (1bitLLM) -> bitnet. Progress on stderr, one line per tensor.");
    sub->add_option("src", o->src, "model folder (config.json, *.safetensors, tokenizer.json)")
        ->required()->type_name("DIR");
    sub->add_option("-o,--output", o->out, "GGUF file to write")->required()->type_name("OUT.gguf");
    sub->add_option("--type", o->type, "ternary weights: auto (I2_S for bitnet-b1.58, TQ2_0 else), i2_s, tq2_0, tq1_0")
        ->check(CLI::IsMember(ternary_type_names()))->capture_default_str();
    sub->add_option("--embd-type", o->embd_type, "embedding and LM head: auto (f16), f16, bf16, f32, q8_0, q6_k")
        ->check(CLI::IsMember(embd_type_names()))->capture_default_str();
    sub->add_option("--name", o->name, "general.name (default: the folder's name)");
    sub->add_flag("-q,--quiet", o->quiet, "no progress lines");
    return {sub, [o]() { return run_convert(*o); }};
}

}  // namespace bitnet_cli
