// libFuzzer harness: the Hugging Face readers of `bitnet convert` (safetensors header, config.json,
// tokenizer.json); see fuzz_convert_targets.h.
#include <cstdio>
#include <cstdlib>

#include "fuzz_convert_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    try {
        bitnet::fuzz::run_safetensors(data, size);
    } catch (const bitnet::fuzz::ConvertFinding &f) {
        std::fprintf(stderr, "FINDING: %s\n", f.what());
        std::abort();
    }
    return 0;
}
