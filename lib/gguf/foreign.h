// Type ids of other ggml forks that collide with or extend upstream's (ternary-formats.md 2.1).
#pragma once

#include <cstdint>
#include <string>

namespace bitnet::gguf {

// Whether an unknown id is one another fork writes (bitnet.cpp's TL1/TL2 = 38/39, ik_llama.cpp's
// IQ1_BN/IQ2_BN/IQ2_BN_R4 = 134/135/335, upstream's newer or removed types): the reader then
// identifies it by the bytes the tensor occupies before rejecting the file.
bool foreign_type_candidate(uint32_t id);
// What a tensor of type `id` and shape ne occupying `space` bytes (up to the next tensor or the
// end of the file) most likely is, and how to get a file this library reads.
std::string foreign_type_message(uint32_t id, const int64_t ne[4], uint64_t space);

}  // namespace bitnet::gguf
