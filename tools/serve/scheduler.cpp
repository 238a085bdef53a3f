// See scheduler.h.
#include "scheduler.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>

#include "slot_generate.h"

namespace bitnet_serve {

Scheduler::Scheduler(bitnet_model *model, int n_slots, const bitnet_context_params &params,
                     size_t max_queue)
    : model_(model), max_queue_(max_queue) {
    for (int i = 0; i < n_slots; ++i) {
        auto slot = std::make_unique<Slot>();
        slot->id = i;
        const bitnet_status st = bitnet_context_new(model, &params, &slot->ctx);
        if (st != BITNET_OK) {
            const std::string msg = bitnet_last_error_message();
            for (auto &s : slots_) bitnet_context_free(s->ctx);
            throw std::runtime_error("slot " + std::to_string(i) + ": " + msg);
        }
        slots_.push_back(std::move(slot));
    }
    for (auto &s : slots_) s->worker = std::thread([this, slot = s.get()] { worker_loop(*slot); });
}

Scheduler::~Scheduler() {
    shutdown(0);
    for (auto &s : slots_) bitnet_context_free(s->ctx);
}

Scheduler::Submit Scheduler::submit(const std::shared_ptr<Task> &task) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_) {
            metrics_.requests_rejected += 1;
            return Submit::ShuttingDown;
        }
        if (queue_.size() >= max_queue_) {
            metrics_.requests_rejected += 1;
            return Submit::QueueFull;
        }
        queue_.push_back(task);
        dispatch_locked();
    }
    return Submit::Ok;
}

void Scheduler::cancel(const std::shared_ptr<Task> &task) {
    task->cancelled = true;
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = queue_.begin(); it != queue_.end(); ++it) {
        if (*it == task) {
            queue_.erase(it);
            metrics_.requests_cancelled += 1;
            TaskEvent e;
            e.final = true;
            e.finish_reason = "cancelled";
            task->push(std::move(e));
            return;
        }
    }
    for (auto &s : slots_) {
        if (s->current == task && !s->finishing) {
            // The flag stays set if the eval already returned: the slot resets its context
            // when the task ends (abort_pending), so it cannot hit the next task.
            s->abort_pending = true;
            bitnet_context_abort(s->ctx);
        }
    }
}

namespace {

size_t common_prefix(const std::vector<int32_t> &a, const std::vector<int32_t> &b) {
    const size_t n = std::min(a.size(), b.size());
    size_t i = 0;
    while (i < n && a[i] == b[i]) ++i;
    return i;
}

}  // namespace

void Scheduler::dispatch_locked() {
    // Queue order is kept; each task goes to the idle slot whose KV cache it extends the
    // furthest (a shared BOS alone does not count), else to the least recently used idle slot,
    // so that the caches of other conversations survive. Idle slots' `cached` only changes
    // while they are busy, so reading it here (under mutex_) is safe.
    while (!queue_.empty()) {
        Slot *best = nullptr;
        size_t best_len = 0;
        for (auto &s : slots_) {
            if (s->current) continue;
            size_t len = common_prefix(s->cached, queue_.front()->prompt());
            if (len <= 1) len = 0;
            if (!best || len > best_len || (len == best_len && s->last_used < best->last_used)) {
                best = s.get();
                best_len = len;
            }
        }
        if (!best) break;
        best->current = queue_.front();
        best->last_used = ++dispatched_;
        queue_.pop_front();
    }
    cv_.notify_all();
}

void Scheduler::worker_loop(Slot &slot) {
    for (;;) {
        std::shared_ptr<Task> task;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            cv_.wait(lock, [&] { return slot.current != nullptr || exiting_; });
            if (!slot.current) return;  // exiting and idle
            task = slot.current;
        }
        run_task(slot, *task);
    }
}

void Scheduler::run_task(Slot &slot, Task &task) {
    TaskEvent last = run_generation(model_, slot.ctx, slot.cached, task, metrics_);
    bool reset = last.finish_reason == "error" || last.finish_reason == "cancelled";
    {
        std::lock_guard<std::mutex> lock(mutex_);
        reset = reset || slot.abort_pending;
        slot.abort_pending = false;
        slot.finishing = true;  // no abort may reach the context from now on
    }
    if (reset) {  // the KV cache no longer matches `cached` (or an abort flag may be left)
        bitnet_context_reset(slot.ctx);
        slot.cached.clear();
    }
    slot.kv_used = (uint32_t)slot.cached.size();
    {
        std::lock_guard<std::mutex> lock(mutex_);
        slot.current.reset();
        slot.finishing = false;
        dispatch_locked();
    }
    if (last.finish_reason == "error") metrics_.requests_failed += 1;
    else if (last.finish_reason == "cancelled") metrics_.requests_cancelled += 1;
    else metrics_.requests_ok += 1;
    task.push(std::move(last));
}

void Scheduler::shutdown(int grace_ms) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
    while (std::chrono::steady_clock::now() < deadline && (queue_length() > 0 || slots_busy() > 0)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::vector<std::shared_ptr<Task>> dropped;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        dropped.assign(queue_.begin(), queue_.end());
        exiting_ = true;
    }
    for (auto &t : dropped) cancel(t);
    {
        std::lock_guard<std::mutex> lock(mutex_);
        for (auto &s : slots_) {
            if (s->current && !s->finishing) {
                s->current->cancelled = true;
                s->abort_pending = true;
                bitnet_context_abort(s->ctx);
            }
        }
    }
    cv_.notify_all();
    for (auto &s : slots_) {
        if (s->worker.joinable()) s->worker.join();
    }
}

uint32_t Scheduler::n_ctx() const { return bitnet_context_n_ctx(slots_.front()->ctx); }

size_t Scheduler::queue_length() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return queue_.size();
}

int Scheduler::slots_busy() const {
    std::lock_guard<std::mutex> lock(mutex_);
    int n = 0;
    for (const auto &s : slots_) n += s->current ? 1 : 0;
    return n;
}

uint64_t Scheduler::kv_cells_used() const {
    uint64_t n = 0;
    for (const auto &s : slots_) n += s->kv_used.load();
    return n;
}

}  // namespace bitnet_serve
