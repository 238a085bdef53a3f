// Tensor type ids that other forks of ggml use for formats this library does not read
// (../shared/docs/ternary-formats.md sections 2.1, 2.5, 2.6): told apart by the bytes a tensor
// occupies, and named in the error together with a way to get a supported file.
#include "gguf/foreign.h"

namespace bitnet::gguf {

namespace {

uint64_t pad32(uint64_t n) { return (n + 31) / 32 * 32; }

const char *kGetSupported =
    "; libbitnet reads I2_S, TQ2_0, TQ1_0 and F32/F16 ternary weights: use the I2_S GGUF "
    "(e.g. microsoft/bitnet-b1.58-2B-4T-gguf, tiiuae/Falcon3-*-1.58bit-GGUF), or convert the Hugging "
    "Face model again with llama.cpp's convert_hf_to_gguf.py --outtype tq2_0 (or tq1_0) or "
    "bitnet.cpp's converter with --outtype i2_s (or f32 then llama-quantize ... I2_S)";

}  // namespace

bool foreign_type_candidate(uint32_t id) {
    switch (id) {
        case 31: case 32: case 33:  // removed Q4_0_4_4 / 4_8 / 8_8
        case 37: case 38: case 39: case 40: case 41: case 42:
        case 134: case 135: case 335: return true;
        default: return false;
    }
}

std::string foreign_type_message(uint32_t id, const int64_t ne[4], uint64_t space) {
    const uint64_t n = (uint64_t)ne[0] * (uint64_t)ne[1] * (uint64_t)ne[2] * (uint64_t)ne[3];
    const uint64_t m = (uint64_t)ne[1] * (uint64_t)ne[2] * (uint64_t)ne[3], k = (uint64_t)ne[0];
    const std::string sp = " (" + std::to_string(space) + " bytes for " + std::to_string(n) +
                           " values)";
    std::string what;
    switch (id) {
        case 31: case 32: case 33:
            what = "an interleaved Q4_0 variant (Q4_0_4_4/4_8/8_8) that upstream ggml removed";
            break;
        case 37:
            what = "I8_S, bitnet.cpp's activation type, which never belongs in a file";
            break;
        case 38: {
            // TL1: M*K/4 bytes, plus the 32-byte scale slot the writer reserves after it.
            const bool tl1 = space == pad32(n / 4) || space == pad32(n / 4) + 32;
            if (tl1 || space == 0) {
                what = "TL1 of bitnet.cpp (ids 38/39 collide with upstream ggml), a LUT layout "
                       "whose tiling comes from a kernel_config.ini that is not in the file";
            } else if (space >= n / 32 * 18 && space < n / 32 * 18 + 64) {
                what = "IQ4_NL_8_8, which upstream ggml removed";
            } else {
                what = "TL1 of bitnet.cpp or upstream's removed IQ4_NL_8_8, by neither's size";
            }
            break;
        }
        case 39: {
            const uint64_t tl2 = k > 256 ? pad32((k - 256) * m / 3 * 5 / 8 + 256 * m / 2 * 4 / 8) : 0;
            const bool is_tl2 = tl2 != 0 && (space == tl2 || space == tl2 + 32);
            const bool mxfp4 = space >= n / 32 * 17 && space < n / 32 * 17 + 64;
            if (is_tl2 && !mxfp4) {
                what = "TL2 of bitnet.cpp (ids 38/39 collide with upstream ggml), a LUT layout "
                       "whose tiling comes from a kernel_config.ini that is not in the file";
            } else if (mxfp4) {
                what = "MXFP4 (upstream ggml), a 4-bit float format, not a ternary one";
            } else {
                what = "TL2 of bitnet.cpp or upstream's MXFP4, by neither's size";
            }
            break;
        }
        case 40: what = "NVFP4 (upstream ggml), not a ternary format"; break;
        case 41: what = "Q1_0 (upstream ggml) or ik_llama.cpp's Q1_0_G128"; break;
        case 42: what = "Q2_0 of upstream ggml or TL2 of bitnet.cpp's 2026 fork"; break;
        case 134:
            what = "IQ1_BN of ik_llama.cpp (64-value blocks with a per-row F16 scale)";
            break;
        case 135:
            what = "IQ2_BN of ik_llama.cpp (64-value blocks with a per-row F32 scale)";
            break;
        case 335:
            what = "IQ2_BN_R4 of ik_llama.cpp (four rows interleaved)";
            break;
        default: what = "a type this library does not know"; break;
    }
    return "ggml type " + std::to_string(id) + sp + ", which is " + what + kGetSupported;
}

}  // namespace bitnet::gguf
