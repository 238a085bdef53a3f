// One slot's generation under continuous batching: the state a request carries between
// scheduler steps (prompt tokens still to prefill, the sampled token still to decode, sampler,
// penalties, stop-string filter) and what happens when its logits come back from a step.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "bitnet.h"
#include "task.h"
#include "text_stream.h"

namespace bitnet_serve {

struct Metrics;

struct SamplerDeleter {
    void operator()(bitnet_sampler *s) const { bitnet_sampler_free(s); }
};

struct SlotRun {
    SlotRun(const bitnet_model *model, std::shared_ptr<Task> task);

    const bitnet_model *model;
    std::shared_ptr<Task> task;
    std::unique_ptr<bitnet_sampler, SamplerDeleter> sampler;  // null: bad sampling settings
    size_t n_eval = 0;      // prompt tokens already in the KV cache (reused or prefilled)
    int32_t pending = -1;   // sampled token to decode in the next step
    int32_t out_row = -1;   // batch index of this slot's logits in the current step
    int32_t n_gen = 0;
    std::unordered_map<int32_t, int> counts;  // generated tokens, for OpenAI's penalties
    TextStream text;

    // Samples from the slot's logits row, streams the token's text and either sets `pending`
    // (returns false) or ends the task (returns true, `out` = the final event, not pushed).
    // `n_cached`/`n_ctx_slot`: positions used by the sequence and its limit.
    bool on_logits(const float *row, size_t n_cached, uint32_t n_ctx_slot, Metrics &metrics,
                   TaskEvent &out);
};

TaskEvent task_finish(const char *reason, int32_t n_prompt, int32_t n_gen);
TaskEvent task_failure(bitnet_status st, int32_t n_prompt, int32_t n_gen);

}  // namespace bitnet_serve
