// Concurrency through the C API: many contexts on one shared model generating at the same time,
// contexts on two models at once, tokenization from many threads, abort from another thread,
// freeing a model while its contexts live, and the per-thread error message. Run under
// ThreadSanitizer too (BITNET_SANITIZE=thread, see tests/sanitizers.md).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bitnet.h"
#include "sanitized.h"
#include "fixtures.h"

using bitnet::test::fixture;

namespace {

using bitnet::test::kSanitized;

bitnet_model *load(const std::string &name) {
    bitnet_model *m = nullptr;
    EXPECT_EQ(bitnet_model_load(fixture(name).c_str(), nullptr, &m), BITNET_OK)
        << bitnet_last_error_message();
    return m;
}

bitnet_context *new_context(bitnet_model *m, uint32_t n_ctx = 128, int32_t n_threads = 1) {
    bitnet_context_params p = bitnet_context_default_params();
    p.n_ctx = n_ctx;
    p.n_threads = n_threads;
    bitnet_context *c = nullptr;
    EXPECT_EQ(bitnet_context_new(m, &p, &c), BITNET_OK) << bitnet_last_error_message();
    return c;
}

struct Output {
    bitnet_status status = BITNET_ERR_INTERNAL;
    std::string text;
    std::vector<bitnet_token> tokens;
    bool operator==(const Output &o) const {
        return status == o.status && text == o.text && tokens == o.tokens;
    }
};

int collect(const char *piece, size_t len, bitnet_token token, void *user) {
    auto *o = static_cast<Output *>(user);
    o->text.append(piece, len);
    o->tokens.push_back(token);
    return 0;
}

// One generation job: prompt, greedy or seeded sampling.
struct Job {
    std::string prompt;
    float temperature;
    uint64_t seed;
};

Output run_job(bitnet_context *c, const Job &j, int32_t max_tokens) {
    bitnet_sampling_params sp = bitnet_sampling_default_params();
    sp.temperature = j.temperature;
    sp.seed = j.seed;
    bitnet_generate_params p = bitnet_generate_default_params();
    p.max_tokens = max_tokens;
    p.sampling = &sp;
    Output o;
    o.status = bitnet_generate(c, j.prompt.data(), j.prompt.size(), &p, collect, &o, nullptr);
    bitnet_context_reset(c);
    return o;
}

const std::vector<Job> kJobs = {
    {"The quick brown fox", 0.0f, 0},
    {"Ternary weights: -1, 0, +1.", 0.8f, 42},
    {"Once upon a time", 1.0f, 7},
    {"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 0.0f, 0},
};

// Runs every job on its own thread with its own context (n_threads workers each) on `m`, all
// at once, repeating each `reps` times; returns the outputs per job and repetition.
std::vector<std::vector<Output>> run_parallel(const std::vector<bitnet_model *> &models,
                                              const std::vector<Job> &jobs, int reps,
                                              int32_t max_tokens, int32_t n_threads = 1) {
    std::vector<std::vector<Output>> out(jobs.size(), std::vector<Output>((size_t)reps));
    std::vector<std::thread> threads;
    std::atomic<int> ready{0};
    for (size_t i = 0; i < jobs.size(); ++i) {
        threads.emplace_back([&, i] {
            bitnet_context *c = new_context(models[i % models.size()], 128, n_threads);
            ready.fetch_add(1);
            while (ready.load() < (int)jobs.size()) std::this_thread::yield();  // start together
            for (int r = 0; r < reps; ++r) out[i][(size_t)r] = run_job(c, jobs[i], max_tokens);
            bitnet_context_free(c);
        });
    }
    for (auto &t : threads) t.join();
    return out;
}

}  // namespace

TEST(Concurrency, ContextsOnOneModelMatchSerialRuns) {
    bitnet_model *m = load("tiny-b158-i2s.gguf");
    ASSERT_NE(m, nullptr);
    const int32_t n = kSanitized ? 8 : 24;
    std::vector<Output> serial;
    {
        bitnet_context *c = new_context(m);
        for (const Job &j : kJobs) serial.push_back(run_job(c, j, n));
        bitnet_context_free(c);
    }
    for (const Output &o : serial) {
        ASSERT_EQ(o.status, BITNET_OK);
        ASSERT_FALSE(o.tokens.empty());
    }
    const auto par = run_parallel({m}, kJobs, 2, n);
    for (size_t i = 0; i < kJobs.size(); ++i) {
        for (const Output &o : par[i]) {
            EXPECT_TRUE(o == serial[i]) << "job " << i << ": '" << o.text << "' vs '"
                                        << serial[i].text << "'";
        }
    }
    bitnet_model_free(m);
}

TEST(Concurrency, MultiThreadedContextsAtTheSameTime) {
    // Each context has its own worker pool (2 threads): pools run side by side.
    bitnet_model *m = load("tiny-b158-i2s.gguf");
    ASSERT_NE(m, nullptr);
    const int32_t n = kSanitized ? 6 : 16;
    std::vector<Output> serial;
    {
        bitnet_context *c = new_context(m, 128, 2);
        for (const Job &j : kJobs) serial.push_back(run_job(c, j, n));
        bitnet_context_free(c);
    }
    const auto par = run_parallel({m}, kJobs, 1, n, 2);
    for (size_t i = 0; i < kJobs.size(); ++i) EXPECT_TRUE(par[i][0] == serial[i]) << "job " << i;
    bitnet_model_free(m);
}

TEST(Concurrency, TwoModelsAtTheSameTime) {
    bitnet_model *i2s = load("tiny-b158-i2s.gguf");
    bitnet_model *f32 = load("tiny-b158-f32.gguf");
    ASSERT_NE(i2s, nullptr);
    ASSERT_NE(f32, nullptr);
    const int32_t n = kSanitized ? 6 : 16;
    const std::vector<bitnet_model *> models = {i2s, f32};
    std::vector<Output> serial;
    for (size_t i = 0; i < kJobs.size(); ++i) {
        bitnet_context *c = new_context(models[i % 2]);
        serial.push_back(run_job(c, kJobs[i], n));
        ASSERT_EQ(serial.back().status, BITNET_OK);
        bitnet_context_free(c);
    }
    const auto par = run_parallel(models, kJobs, 2, n);
    for (size_t i = 0; i < kJobs.size(); ++i) {
        for (const Output &o : par[i]) EXPECT_TRUE(o == serial[i]) << "job " << i;
    }
    bitnet_model_free(i2s);
    bitnet_model_free(f32);
}

TEST(Concurrency, TokenizeFromManyThreads) {
    bitnet_model *m = load("tiny-b158-i2s.gguf");
    ASSERT_NE(m, nullptr);
    const std::vector<std::string> texts = {
        "The quick brown fox jumps over the lazy dog.",
        "<|begin_of_text|>User: hi<|eot_id|>",
        "Ünïcödé ✓ 日本語 🚀 and numbers 1234567",
        "invalid \xff\xfe bytes",
        std::string(2000, 'a') + " " + std::string(300, ' ') + "end",
    };
    auto tokenize = [&](const std::string &t) {
        std::vector<bitnet_token> ids(4096);
        size_t n = 0;
        EXPECT_EQ(bitnet_tokenize(m, t.data(), t.size(), 1, 1, ids.data(), ids.size(), &n),
                  BITNET_OK);
        ids.resize(n);
        return ids;
    };
    std::vector<std::vector<bitnet_token>> expected;
    for (const auto &t : texts) expected.push_back(tokenize(t));

    const int n_threads = 8, iters = kSanitized ? 5 : 40;
    std::atomic<int> mismatches{0};
    std::vector<std::thread> threads;
    for (int th = 0; th < n_threads; ++th) {
        threads.emplace_back([&, th] {
            for (int it = 0; it < iters; ++it) {
                const size_t k = (size_t)(th + it) % texts.size();
                const auto ids = tokenize(texts[k]);
                if (ids != expected[k]) mismatches.fetch_add(1);
                // And back to text (pieces of the non-BOS tokens give the input back).
                std::string back(texts[k].size() + 64, '\0');
                size_t nb = 0;
                if (bitnet_detokenize(m, ids.data() + 1, ids.size() - 1, 1, back.data(),
                                      back.size(), &nb) != BITNET_OK ||
                    back.substr(0, nb) != texts[k]) {
                    mismatches.fetch_add(1);
                }
            }
        });
    }
    for (auto &t : threads) t.join();
    EXPECT_EQ(mismatches.load(), 0);
    bitnet_model_free(m);
}

TEST(Concurrency, ConcurrentLoadsOfTheSameFile) {
    std::vector<bitnet_model *> models(4, nullptr);
    std::vector<std::thread> threads;
    for (size_t i = 0; i < models.size(); ++i) {
        threads.emplace_back([&, i] {
            bitnet_model_params p = bitnet_model_default_params();
            p.use_mmap = (int)(i % 2);
            EXPECT_EQ(bitnet_model_load(fixture("tiny-b158-i2s.gguf").c_str(), &p, &models[i]),
                      BITNET_OK);
        });
    }
    for (auto &t : threads) t.join();
    for (bitnet_model *m : models) {
        EXPECT_EQ(bitnet_model_n_vocab(m), 128256);
        bitnet_model_free(m);
    }
}

namespace {

// Generation that signals once it is under way, then runs until the context is full.
struct AbortProbe {
    std::atomic<int> pieces{0};
};

int count_piece(const char *, size_t, bitnet_token, void *user) {
    static_cast<AbortProbe *>(user)->pieces.fetch_add(1);
    return 0;
}

}  // namespace

TEST(Concurrency, AbortFromAnotherThreadIsPromptAndContextStaysUsable) {
    bitnet_model *m = load("tiny-b158-i2s.gguf");
    ASSERT_NE(m, nullptr);
    bitnet_context *c = new_context(m, 512, 2);
    ASSERT_NE(c, nullptr);

    // Reference: a short greedy generation on a fresh context.
    const Job j{"The quick brown fox", 0.0f, 0};
    const Output ref = run_job(c, j, 8);
    ASSERT_EQ(ref.status, BITNET_OK);

    for (int round = 0; round < 3; ++round) {
        AbortProbe probe;
        bitnet_sampling_params sp = bitnet_sampling_default_params();
        sp.temperature = 1.0f;  // no early EOG dependence on greedy ties
        sp.seed = (uint64_t)round;
        bitnet_generate_params p = bitnet_generate_default_params();
        p.max_tokens = 1 << 20;  // only the abort (or the full context) stops it
        p.sampling = &sp;
        bitnet_status status = BITNET_OK;
        std::atomic<bool> finished{false};
        std::chrono::steady_clock::time_point returned;
        std::thread gen([&] {
            status = bitnet_generate(c, j.prompt.data(), j.prompt.size(), &p, count_piece, &probe,
                                     nullptr);
            returned = std::chrono::steady_clock::now();
            finished = true;
        });
        while (probe.pieces.load() < 2 && !finished) std::this_thread::yield();
        const auto t0 = std::chrono::steady_clock::now();
        bitnet_context_abort(c);
        gen.join();
        if (status == BITNET_OK) {
            // Ended by an end-of-generation token before the abort landed; the flag stays set
            // for the next call ("the running (or next)"), which must then abort at once.
            status = bitnet_eval(c, &ref.tokens[0], 1, BITNET_LOGITS_LAST);
            returned = std::chrono::steady_clock::now();
        }
        EXPECT_EQ(status, BITNET_ERR_ABORTED) << bitnet_last_error_message();
        const double ms = std::chrono::duration<double, std::milli>(returned - t0).count();
        EXPECT_LT(ms, 1000.0) << "abort took " << ms << " ms";
        std::printf("round %d: aborted after %d pieces, %.2f ms after the request\n", round,
                    probe.pieces.load(), ms);

        // The flag was cleared: the same context continues from its cache, then after a reset
        // reproduces the reference.
        bitnet_token t = ref.tokens[0];
        EXPECT_EQ(bitnet_eval(c, &t, 1, BITNET_LOGITS_LAST), BITNET_OK)
            << bitnet_last_error_message();
        ASSERT_EQ(bitnet_context_reset(c), BITNET_OK);
        EXPECT_TRUE(run_job(c, j, 8) == ref);
    }
    bitnet_context_free(c);
    bitnet_model_free(m);
}

TEST(Concurrency, AbortDuringALongPrefill) {
    bitnet_model *m = load("tiny-b158-i2s.gguf");
    ASSERT_NE(m, nullptr);
    // 4000 tokens in chunks of 512 take far longer than the 5 ms before the abort request
    // (500 tokens no longer did once prefill got faster).
    bitnet_context *c = new_context(m, 4096, 1);
    std::vector<bitnet_token> prompt(4000);
    for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = (bitnet_token)(i * 97 % 128000);
    std::atomic<bool> started{false};
    bitnet_status status = BITNET_OK;
    std::chrono::steady_clock::time_point returned;
    std::thread t([&] {
        started = true;
        // Checked for the abort flag before every layer of every 512-token chunk.
        status = bitnet_eval(c, prompt.data(), prompt.size(), BITNET_LOGITS_LAST);
        returned = std::chrono::steady_clock::now();
    });
    while (!started) std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    const auto t0 = std::chrono::steady_clock::now();
    bitnet_context_abort(c);
    t.join();
    if (status == BITNET_OK) {
        GTEST_SKIP() << "the prefill finished before the abort request";
    }
    EXPECT_EQ(status, BITNET_ERR_ABORTED);
    const double ms = std::chrono::duration<double, std::milli>(returned - t0).count();
    EXPECT_LT(ms, 1000.0);
    // Usable afterwards.
    EXPECT_EQ(bitnet_context_reset(c), BITNET_OK);
    EXPECT_EQ(bitnet_eval(c, prompt.data(), 4, BITNET_LOGITS_LAST), BITNET_OK);
    bitnet_context_free(c);
    bitnet_model_free(m);
}

TEST(Concurrency, AbortStormWhileGenerating) {
    // Abort requests arriving at random moments, from several threads, while one thread keeps
    // generating: every call returns OK, ABORTED or CONTEXT_FULL and nothing else breaks.
    bitnet_model *m = load("tiny-b158-i2s.gguf");
    ASSERT_NE(m, nullptr);
    bitnet_context *c = new_context(m, 64, 1);
    std::atomic<bool> done{false};
    std::vector<std::thread> aborters;
    for (int i = 0; i < 3; ++i) {
        aborters.emplace_back([&, i] {
            while (!done) {
                bitnet_context_abort(c);
                std::this_thread::sleep_for(std::chrono::milliseconds(25 * (i + 1)));
            }
        });
    }
    int aborted = 0, ok = 0;
    for (int it = 0; it < (kSanitized ? 10 : 40); ++it) {
        bitnet_generate_params p = bitnet_generate_default_params();
        p.max_tokens = 8;
        const bitnet_status s = bitnet_generate(c, "abc", 3, &p, nullptr, nullptr, nullptr);
        EXPECT_TRUE(s == BITNET_OK || s == BITNET_ERR_ABORTED || s == BITNET_ERR_CONTEXT_FULL)
            << bitnet_status_string(s);
        (s == BITNET_ERR_ABORTED ? aborted : ok)++;
        bitnet_context_reset(c);
    }
    done = true;
    for (auto &t : aborters) t.join();
    std::printf("%d aborted, %d completed\n", aborted, ok);
    bitnet_context_free(c);
    bitnet_model_free(m);
}

TEST(Concurrency, FreeingTheModelWhileContextsAreAlive) {
    bitnet_model *m = load("tiny-b158-i2s.gguf");
    ASSERT_NE(m, nullptr);
    std::vector<bitnet_context *> ctxs;
    for (int i = 0; i < 3; ++i) ctxs.push_back(new_context(m, 64));
    Output ref;
    {
        bitnet_context *c = new_context(m, 64);
        ref = run_job(c, kJobs[0], 6);
        bitnet_context_free(c);
    }
    bitnet_model_free(m);  // the contexts keep it alive
    m = nullptr;
    std::vector<Output> outs(ctxs.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < ctxs.size(); ++i) {
        threads.emplace_back([&, i] { outs[i] = run_job(ctxs[i], kJobs[0], 6); });
    }
    for (auto &t : threads) t.join();
    for (const Output &o : outs) EXPECT_TRUE(o == ref);
    // Free the contexts from other threads, in parallel; the last one releases the model.
    threads.clear();
    for (bitnet_context *c : ctxs) threads.emplace_back([c] { bitnet_context_free(c); });
    for (auto &t : threads) t.join();
}

TEST(Concurrency, LastErrorMessageIsPerThread) {
    std::mutex mu;
    std::condition_variable cv;
    int stage = 0;
    auto wait_for = [&](int s) {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return stage >= s; });
    };
    auto advance = [&] {
        std::lock_guard<std::mutex> lock(mu);
        ++stage;
        cv.notify_all();
    };
    std::string a_msg_after, b_msg_fail, b_msg_ok;
    std::thread a([&] {
        bitnet_model *m = nullptr;
        EXPECT_EQ(bitnet_model_load("/nonexistent/thread-a.gguf", nullptr, &m), BITNET_ERR_IO);
        advance();  // 1: A has an error
        wait_for(3);  // B failed and then succeeded
        a_msg_after = bitnet_last_error_message();
    });
    std::thread b([&] {
        wait_for(1);
        EXPECT_EQ(bitnet_sampler_new(nullptr, nullptr), BITNET_ERR_INVALID_ARGUMENT);
        b_msg_fail = bitnet_last_error_message();
        advance();  // 2
        bitnet_sampler *s = nullptr;
        EXPECT_EQ(bitnet_sampler_new(nullptr, &s), BITNET_OK);
        bitnet_sampler_free(s);
        b_msg_ok = bitnet_last_error_message();
        advance();  // 3
    });
    a.join();
    b.join();
    EXPECT_NE(a_msg_after.find("thread-a.gguf"), std::string::npos) << a_msg_after;
    EXPECT_NE(b_msg_fail.find("bitnet_sampler_new"), std::string::npos) << b_msg_fail;
    EXPECT_EQ(b_msg_ok, "");
    // Many threads failing at once with distinct messages.
    std::atomic<int> wrong{0};
    std::vector<std::thread> ts;
    for (int i = 0; i < 8; ++i) {
        ts.emplace_back([&, i] {
            for (int k = 0; k < 200; ++k) {
                const std::string path = "/nonexistent/t" + std::to_string(i) + ".gguf";
                bitnet_model *m = nullptr;
                bitnet_model_load(path.c_str(), nullptr, &m);
                if (std::strstr(bitnet_last_error_message(), path.c_str()) == nullptr) ++wrong;
            }
        });
    }
    for (auto &t : ts) t.join();
    EXPECT_EQ(wrong.load(), 0);
}
