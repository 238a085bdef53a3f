// A generation task of `bitnet serve`: what a slot is asked to do (prompt tokens and sampling
// settings) and the stream of events it produces, shared between the HTTP handler that waits
// for the events and the slot that generates them.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace bitnet_serve {

struct GenerationParams {
    int32_t max_tokens = 0;         // > 0; the handler clips it to the context
    float temperature = 1.0f, top_p = 1.0f, min_p = 0.0f;
    int32_t top_k = 0;
    float repeat_penalty = 1.0f;
    float presence_penalty = 0.0f, frequency_penalty = 0.0f;
    uint64_t seed = 0;
    std::vector<std::string> stop;
    bool logprobs = false;
    int32_t top_logprobs = 0;
};

// One sampled token with its log-probability and the most likely alternatives.
struct TokenLogprob {
    std::string piece;  // the token's bytes (may be part of a UTF-8 character)
    float logprob = 0.0f;
    std::vector<std::pair<std::string, float>> top;
};

struct TaskEvent {
    std::string text;                  // new text (whole UTF-8 characters)
    std::vector<TokenLogprob> tokens;  // logprobs of the tokens sampled for this text
    bool final = false;                // the last event of the task
    std::string finish_reason;         // final: "stop", "length", "cancelled" or "error"
    std::string error;                 // finish_reason "error": what failed
    int32_t prompt_tokens = 0, completion_tokens = 0;  // final: usage counts
};

class Task {
public:
    Task(std::vector<int32_t> prompt, GenerationParams params)
        : prompt_(std::move(prompt)), params_(std::move(params)) {}

    const std::vector<int32_t> &prompt() const { return prompt_; }
    const GenerationParams &params() const { return params_; }

    void push(TaskEvent event) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (event.final) finished_ = true;
            events_.push_back(std::move(event));
        }
        cv_.notify_all();
    }
    // Waits up to `timeout` for the next event; false if none came.
    bool pop(TaskEvent &out, std::chrono::milliseconds timeout) {
        std::unique_lock<std::mutex> lock(mutex_);
        if (!cv_.wait_for(lock, timeout, [&] { return !events_.empty(); })) return false;
        out = std::move(events_.front());
        events_.pop_front();
        return true;
    }
    bool finished() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return finished_;
    }
    // Set by the handler when its client is gone; the slot stops at its next step.
    std::atomic<bool> cancelled{false};

private:
    const std::vector<int32_t> prompt_;
    const GenerationParams params_;
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<TaskEvent> events_;
    bool finished_ = false;
};

}  // namespace bitnet_serve
