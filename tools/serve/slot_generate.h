// The generation loop of one slot: prefill (reusing the cached prompt prefix), then sample,
// stream and evaluate token by token, on the C API (bitnet_eval + bitnet_sampler).
#pragma once

#include <cstdint>
#include <vector>

#include "bitnet.h"
#include "scheduler.h"
#include "task.h"

namespace bitnet_serve {

// Runs `task` on ctx, whose KV cache holds the tokens `cached` (updated to what it holds after).
// Streams the text as events through task.push and returns the final event (not pushed).
TaskEvent run_generation(const bitnet_model *model, bitnet_context *ctx,
                         std::vector<int32_t> &cached, Task &task, Metrics &metrics);

}  // namespace bitnet_serve
