// Slots and the request queue of `bitnet serve`. A slot owns one bitnet_context (its own KV
// cache) and serves one task at a time; a bounded FIFO queue holds tasks until a slot is free,
// which then goes to the idle slot whose cache its prompt extends (else the least recently used).
// The seam for batched decoding later: a slot is already "a sequence with its state"; a
// batched scheduler would step all busy slots in one decode call instead of one thread each.
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
    int id = 0;
    bitnet_context *ctx = nullptr;
    std::vector<int32_t> cached;          // tokens whose keys/values are in ctx's KV cache
    std::shared_ptr<Task> current;        // assigned task; guarded by Scheduler::mutex_
    bool abort_pending = false;           // guarded by Scheduler::mutex_
    bool finishing = false;               // guarded by Scheduler::mutex_: ending its task
    uint64_t last_used = 0;               // guarded by Scheduler::mutex_: dispatch order
    std::atomic<uint32_t> kv_used{0};     // cached.size() after the last task (for /metrics)
    std::thread worker;
};

class Scheduler {
public:
    enum class Submit { Ok, QueueFull, ShuttingDown };

    // Creates n_slots contexts (throws std::runtime_error with the library's message).
    Scheduler(bitnet_model *model, int n_slots, const bitnet_context_params &params,
              size_t max_queue);
    ~Scheduler();
    Scheduler(const Scheduler &) = delete;
    Scheduler &operator=(const Scheduler &) = delete;

    Submit submit(const std::shared_ptr<Task> &task);
    // Marks a task cancelled; a queued task is dropped, a running one aborted.
    void cancel(const std::shared_ptr<Task> &task);
    // Refuses new tasks; waits up to grace_ms for queued and running tasks, then aborts the rest
    // and joins the slot threads.
    void shutdown(int grace_ms);

    int n_slots() const { return (int)slots_.size(); }
    uint32_t n_ctx() const;
    size_t queue_length() const;
    int slots_busy() const;
    uint64_t kv_cells_used() const;
    Metrics &metrics() { return metrics_; }

private:
    void dispatch_locked();  // assigns queued tasks to idle slots; mutex_ held
    void worker_loop(Slot &slot);
    void run_task(Slot &slot, Task &task);

    bitnet_model *model_;
    std::vector<std::unique_ptr<Slot>> slots_;
    size_t max_queue_;
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<std::shared_ptr<Task>> queue_;
    bool stopping_ = false;   // no new tasks
    bool exiting_ = false;    // workers leave once the queue is empty
    uint64_t dispatched_ = 0; // tasks assigned so far (for least-recently-used slots)
    Metrics metrics_;
};

}  // namespace bitnet_serve
