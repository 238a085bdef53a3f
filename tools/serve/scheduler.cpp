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
    bitnet_context_params cp = params;
    cp.n_seq_max = (uint32_t)n_slots;
    if (bitnet_context_new(model, &cp, &ctx_) != BITNET_OK) {
        throw std::runtime_error(std::string("context: ") + bitnet_last_error_message());
    }
    n_ctx_slot_ = bitnet_context_n_ctx(ctx_) / (uint32_t)n_slots;
    if (params.n_batch > 0) n_batch_ = params.n_batch;
    if (bitnet_batch_init(n_batch_ + n_slots, &batch_) != BITNET_OK) {
        const std::string msg = bitnet_last_error_message();
        bitnet_context_free(ctx_);
        throw std::runtime_error("batch: " + msg);
    }
    for (int i = 0; i < n_slots; ++i) {
        auto slot = std::make_unique<Slot>();
        slot->id = i;
        slots_.push_back(std::move(slot));
    }
    thread_ = std::thread([this] { loop(); });
}

Scheduler::~Scheduler() {
    shutdown(0);
    bitnet_batch_free(&batch_);
    bitnet_context_free(ctx_);
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
    // A running task sees `cancelled` at the scheduler's next step (a step is one decode of at
    // most n_batch tokens), so the shared context is never aborted for one request.
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

void Scheduler::loop() {
    for (;;) {
        std::vector<std::pair<Slot *, std::shared_ptr<Task>>> admitted;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            auto busy = [&] {
                for (auto &s : slots_) if (s->current) return true;
                return false;
            };
            cv_.wait(lock, [&] { return busy() || exiting_; });
            if (!busy()) break;  // exiting and idle
            for (auto &s : slots_) {
                if (s->current && !s->run) admitted.emplace_back(s.get(), s->current);
            }
        }
        for (auto &[slot, task] : admitted) begin(*slot, task);
        step(batch_);
    }
}

void Scheduler::begin(Slot &slot, std::shared_ptr<Task> task) {
    const std::vector<int32_t> &prompt = task->prompt();
    slot.run = std::make_unique<SlotRun>(model_, task);
    if (!slot.run->sampler || prompt.empty() || prompt.size() >= n_ctx_slot_) {
        end(slot, task_failure(BITNET_ERR_INVALID_ARGUMENT, (int32_t)prompt.size(), 0), false);
        return;
    }
    // Prompt-prefix reuse: keep the longest common prefix of the cached tokens and drop the
    // rest of the sequence; at least one prompt token is evaluated to get fresh logits.
    size_t common = std::min(common_prefix(slot.cached, prompt), prompt.size() - 1);
    if (bitnet_kv_seq_rm(ctx_, slot.id, (int32_t)common, -1) != BITNET_OK ||
        bitnet_kv_seq_pos_max(ctx_, slot.id) != (int32_t)common - 1) {
        bitnet_kv_seq_rm(ctx_, slot.id, 0, -1);
        common = 0;
    }
    slot.cached.resize(common);
    slot.run->n_eval = common;
    metrics_.prompt_tokens += prompt.size();
    metrics_.reused_prompt_tokens += common;
}

bool Scheduler::step(bitnet_batch &batch) {
    bitnet_batch_clear(&batch);
    std::vector<Slot *> in_batch;
    for (auto &s : slots_) {  // cancelled tasks end before their next token is computed
        if (s->run && s->run->task->cancelled) {
            end(*s, task_finish("cancelled", (int32_t)s->run->task->prompt().size(), s->run->n_gen), true);
        }
    }
    for (auto &s : slots_) {  // one token of every decoding slot
        SlotRun *r = s->run.get();
        if (!r || r->pending < 0) continue;
        r->out_row = batch.n_tokens;
        bitnet_batch_add(&batch, r->pending, (int32_t)s->cached.size(), s->id, 1);
        s->cached.push_back(r->pending);
        r->pending = -1;
        in_batch.push_back(s.get());
    }
    const int32_t n_decode = batch.n_tokens;
    int32_t budget = std::max<int32_t>(1, n_batch_ - batch.n_tokens);
    for (auto &s : slots_) {  // chunked prefill of newly admitted slots
        SlotRun *r = s->run.get();
        const size_t n_prompt = r ? r->task->prompt().size() : 0;
        if (!r || r->n_eval >= n_prompt || budget <= 0) continue;
        const size_t take = std::min(n_prompt - r->n_eval, (size_t)budget);
        for (size_t k = 0; k < take; ++k) {
            const size_t i = r->n_eval + k;
            const bool last = i + 1 == n_prompt;
            if (last) r->out_row = batch.n_tokens;
            bitnet_batch_add(&batch, r->task->prompt()[i], (int32_t)i, s->id, last ? 1 : 0);
            s->cached.push_back(r->task->prompt()[i]);
        }
        r->n_eval += take;
        budget -= (int32_t)take;
        in_batch.push_back(s.get());
    }
    if (batch.n_tokens == 0) return false;
    const auto t0 = std::chrono::steady_clock::now();
    const bitnet_status st = bitnet_decode(ctx_, &batch);
    const auto us = (uint64_t)std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::steady_clock::now() - t0).count();
    // Time of a mixed step counts as prompt time when it carried prompt tokens.
    (batch.n_tokens > n_decode ? metrics_.prompt_ms_x1000 : metrics_.generate_ms_x1000) += us;
    for (Slot *s : in_batch) {
        SlotRun *r = s->run.get();
        if (st != BITNET_OK) {
            end(*s, task_failure(st, (int32_t)r->task->prompt().size(), r->n_gen), true);
            continue;
        }
        if (r->out_row < 0) continue;  // prefill chunk without the prompt's last token
        const float *row = bitnet_get_logits_ith(ctx_, r->out_row);
        r->out_row = -1;
        TaskEvent last;
        if (r->on_logits(row, s->cached.size(), n_ctx_slot_, metrics_, last)) end(*s, std::move(last), false);
    }
    return true;
}

void Scheduler::end(Slot &slot, TaskEvent last, bool drop_cache) {
    if (drop_cache || last.finish_reason == "error") {  // the cache may not match `cached`
        bitnet_kv_seq_rm(ctx_, slot.id, 0, -1);
        slot.cached.clear();
    }
    slot.kv_used = (uint32_t)slot.cached.size();
    std::shared_ptr<Task> task = slot.run->task;
    slot.run.reset();
    {
        std::lock_guard<std::mutex> lock(mutex_);
        slot.current.reset();
        dispatch_locked();
    }
    if (last.finish_reason == "error") metrics_.requests_failed += 1;
    else if (last.finish_reason == "cancelled") metrics_.requests_cancelled += 1;
    else metrics_.requests_ok += 1;
    task->push(std::move(last));
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
        bool any = false;
        for (auto &s : slots_) {
            if (s->current) {
                s->current->cancelled = true;
                any = true;
            }
        }
        // Stops a long decode now; its slots end as cancelled (BITNET_ERR_ABORTED).
        if (any) bitnet_context_abort(ctx_);
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

uint32_t Scheduler::n_ctx() const { return n_ctx_slot_; }
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
