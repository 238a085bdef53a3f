// The GGUF tensors of a Hugging Face model (ternary-formats.md 3.5 name mapping) as a plan of
// streamed producers, checked against the checkpoint before anything is written.
#pragma once

#include <string>
#include <vector>

#include "convert/convert.h"
#include "convert/hf_config.h"
#include "convert/safetensors.h"
#include "gguf/gguf.h"

namespace bitnet::convert {

struct PlannedTensor {
    std::string name;                 // GGUF name
    gguf::TensorType type;
    std::vector<int64_t> ne;          // ne0 first
    gguf::Writer::Producer produce;   // writes exactly the tensor's bytes
};

// token_embd, per layer the norms and the seven projections (Q/K rows permuted for arch
// llama), the BitNet sub-norms, output_norm, and output when the head is not tied. Fails
// (BAD_FORMAT naming file and tensor) when a tensor is missing or has a wrong dtype/shape, and
// (UNSUPPORTED) when a row length does not suit the ternary type.
std::vector<PlannedTensor> plan_hf_tensors(const HfConfig &cfg, const Checkpoint &ckpt,
                                           gguf::TensorType ternary, gguf::TensorType embd);

// Adds the planned tensors to w, each producer wrapped to report progress after it ran.
void add_planned_tensors(gguf::Writer &w, const std::vector<PlannedTensor> &plan,
                         const ProgressFn &progress);

}  // namespace bitnet::convert
