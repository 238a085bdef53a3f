// libFuzzer harness: chat formatting, samplers with fuzzed parameters and logits, and
// generation/perplexity/bench with fuzzed parameters on a tiny model (see fuzz_targets.h).
#include <cstdio>
#include <cstdlib>

#include "fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    try {
        bitnet::fuzz::run_chat_sampling(data, size);
    } catch (const bitnet::fuzz::Finding &f) {
        std::fprintf(stderr, "FINDING: %s\n", f.what());
        std::abort();
    }
    return 0;
}
