// Slots and the request queue of `bitnet serve`, with continuous batching: all slots share ONE
// bitnet_context whose KV cache holds n_seq_max = n_slots sequences (slot i = sequence i, n_ctx
// split evenly). One scheduler thread loops: admit queued tasks into idle slots (reusing the
// longest common prefix of the slot's cached tokens), build one bitnet_batch with a chunk of
// pending prompt tokens (prefill) plus the last sampled token of every decoding slot, call
// bitnet_decode once, then sample every slot from its row (bitnet_get_logits_ith). A bounded
// FIFO queue holds tasks until a slot is free; a task goes to the idle slot whose cache shares
// the longest prefix with its prompt (else the least recently used). Source: llama-server's
// slots and update loop (continuous batching).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "bitnet.h"
#include "slot_generate.h"
#include "task.h"

namespace bitnet_serve {

// Counters for /metrics (monotonic unless named as a gauge).
struct Metrics {
    std::atomic<uint64_t> requests_ok{0}, requests_failed{0}, requests_cancelled{0};
    std::atomic<uint64_t> requests_rejected{0};  // queue full or shutting down
    std::atomic<uint64_t> prompt_tokens{0}, generated_tokens{0}, reused_prompt_tokens{0};
    std::atomic<uint64_t> prompt_ms_x1000{0}, generate_ms_x1000{0};  // microseconds
};

struct Slot {
    int id = 0;                           // also its sequence id in the shared context
    std::vector<int32_t> cached;          // tokens whose keys/values are in sequence `id`
    std::shared_ptr<Task> current;        // assigned task; guarded by Scheduler::mutex_
    uint64_t last_used = 0;               // guarded by Scheduler::mutex_: dispatch order
    std::atomic<uint32_t> kv_used{0};     // cached.size() after the last task (for /metrics)
    std::unique_ptr<SlotRun> run;         // scheduler thread only: the task being generated
};

class Scheduler {
public:
    enum class Submit { Ok, QueueFull, ShuttingDown };

    // Creates the context with n_seq_max = n_slots (throws std::runtime_error with the
    // library's message); params.n_ctx is the total, split evenly between the slots.
    Scheduler(bitnet_model *model, int n_slots, const bitnet_context_params &params,
              size_t max_queue);
    ~Scheduler();
    Scheduler(const Scheduler &) = delete;
    Scheduler &operator=(const Scheduler &) = delete;

    Submit submit(const std::shared_ptr<Task> &task);
    // Marks a task cancelled; a queued task is dropped, a running one ends at the next step.
    void cancel(const std::shared_ptr<Task> &task);
    // Refuses new tasks; waits up to grace_ms for queued and running tasks, then aborts the rest
    // and joins the scheduler thread.
    void shutdown(int grace_ms);

    int n_slots() const { return (int)slots_.size(); }
    uint32_t n_ctx() const;  // positions per slot
    size_t queue_length() const;
    int slots_busy() const;
    uint64_t kv_cells_used() const;
    Metrics &metrics() { return metrics_; }

private:
    void dispatch_locked();  // assigns queued tasks to idle slots; mutex_ held
    void loop();
    void begin(Slot &slot, std::shared_ptr<Task> task);  // prefix reuse, sampler
    bool step(bitnet_batch &batch);                       // one decode; false: nothing to do
    void end(Slot &slot, TaskEvent last, bool drop_cache);

    bitnet_model *model_;
    bitnet_context *ctx_ = nullptr;
    uint32_t n_ctx_slot_ = 0;
    int32_t n_batch_ = 512;  // prompt + decode tokens per step at most (chunked prefill)
    std::vector<std::unique_ptr<Slot>> slots_;
    bitnet_batch batch_{};   // reused by every step (scheduler thread only)
    std::thread thread_;
    size_t max_queue_;
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<std::shared_ptr<Task>> queue_;
    bool stopping_ = false;   // no new tasks
    bool exiting_ = false;    // the scheduler thread leaves once no slot is busy
    uint64_t dispatched_ = 0; // tasks assigned so far (for least-recently-used slots)
    Metrics metrics_;
};

}  // namespace bitnet_serve
