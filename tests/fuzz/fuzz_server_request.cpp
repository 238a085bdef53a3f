// libFuzzer harness: `bitnet serve`'s request-to-parameters parsing and stop-sequence streaming
// (see server_request_target.h).
#include <cstdio>
#include <cstdlib>

#include "server_request_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    try {
        bitnet_serve::fuzz::run_server_request(data, size);
    } catch (const bitnet_serve::fuzz::ServerFinding &f) {
        std::fprintf(stderr, "FINDING: %s\n", f.what());
        std::abort();
    }
    return 0;
}
