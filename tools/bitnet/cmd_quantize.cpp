// bitnet quantize: rewrite a GGUF with its ternary weights in another ternary type (exact) and/or
// its embedding and LM head in another float type.
#include <chrono>
#include <cstdio>
#include <string>

#include "common.h"
#include "convert_progress.h"

namespace bitnet_cli {
namespace {

struct QuantizeOptions {
    std::string in;
    std::string out;
    std::string type = "auto";
    std::string embd_type = "auto";
    bool quiet = false;
};

int run_quantize(const QuantizeOptions &o) {
    bitnet_convert_params p = bitnet_convert_default_params();
    p.ternary_type = ternary_type_names().at(o.type);
    p.embd_type = embd_type_names().at(o.embd_type);
    ConvertProgress progress;
    progress.quiet = o.quiet;
    const bitnet_status st = bitnet_quantize(o.in.c_str(), o.out.c_str(), &p, ConvertProgress::callback, &progress);
    if (st != BITNET_OK) fail_status(o.in, st);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - progress.start).count();
    if (!o.quiet) std::fprintf(stderr, "wrote %s in %.1f s\n", o.out.c_str(), s);
    return 0;
}

}  // namespace

Command add_quantize(CLI::App &app) {
    auto o = std::make_shared<QuantizeOptions>();
    CLI::App *sub = app.add_subcommand("quantize", "convert a GGUF between I2_S, TQ2_0 and TQ1_0");
    sub->footer(
        "Between the ternary types the result holds the same trits and scales; a conversion\n"
        "that cannot be exact (an I2_S scale F16 cannot hold, TQ blocks with different scales)\n"
        "fails instead of rounding.");
    sub->add_option("input", o->in, "GGUF model file")->required()->type_name("IN.gguf");
    sub->add_option("output", o->out, "GGUF file to write")->required()->type_name("OUT.gguf");
    sub->add_option("--type", o->type, "ternary weights: auto (keep), i2_s, tq2_0, tq1_0")
        ->check(CLI::IsMember(ternary_type_names()))->capture_default_str();
    sub->add_option("--embd-type", o->embd_type, "embedding and LM head: auto (keep), f16, bf16, f32, q8_0, q6_k")
        ->check(CLI::IsMember(embd_type_names()))->capture_default_str();
    sub->add_flag("-q,--quiet", o->quiet, "no progress lines");
    return {sub, [o]() { return run_quantize(*o); }};
}

}  // namespace bitnet_cli
