// libFuzzer harness: text -> tokenize -> detokenize must give the text back (see fuzz_targets.h).
#include <cstdio>
#include <cstdlib>

#include "fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    try {
        const char *dir = std::getenv("BITNET_FIXTURES");
        bitnet::fuzz::run_tokenizer(
            data, size, std::string(dir ? dir : BITNET_FIXTURES_DIR) + "/llama3-vocab.gguf");
    } catch (const bitnet::fuzz::Finding &f) {
        std::fprintf(stderr, "FINDING: %s\n", f.what());
        std::abort();
    }
    return 0;
}
