// Progress report of `bitnet convert` / `bitnet quantize` on stderr: "tensor i/N name, MB
// written, MB/s", one line per tensor (or none with --quiet), and the type-name parsers both
// commands share.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>

#include "bitnet.h"

namespace bitnet_cli {

struct ConvertProgress {
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
    bool quiet = false;

    static int callback(int32_t i, int32_t n, const char *tensor, uint64_t bytes, void *ud) {
        auto *self = static_cast<ConvertProgress *>(ud);
        if (self->quiet) return 0;
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - self->start).count();
        const double mb = (double)bytes / 1e6;
        std::fprintf(stderr, "[%d/%d] %-28s %10.1f MB  %7.1f MB/s\n", i, n, tensor, mb,
                     s > 0 ? mb / s : 0.0);
        return 0;
    }
};

inline const std::map<std::string, int> &ternary_type_names() {
    static const std::map<std::string, int> m = {{"auto", BITNET_TERNARY_AUTO},
                                                 {"i2_s", BITNET_TERNARY_I2_S},
                                                 {"tq2_0", BITNET_TERNARY_TQ2_0},
                                                 {"tq1_0", BITNET_TERNARY_TQ1_0}};
    return m;
}

inline const std::map<std::string, int> &embd_type_names() {
    static const std::map<std::string, int> m = {{"auto", BITNET_EMBD_AUTO}, {"f16", BITNET_EMBD_F16},
                                                 {"bf16", BITNET_EMBD_BF16}, {"f32", BITNET_EMBD_F32},
                                                 {"q8_0", BITNET_EMBD_Q8_0}, {"q6_k", BITNET_EMBD_Q6_K}};
    return m;
}

}  // namespace bitnet_cli
