// Thread pool: every index runs exactly once per run(), results are visible to the caller
// afterwards, the pool survives idle periods (sleeping workers) and is destroyed cleanly.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "runtime/threadpool.h"

namespace bitnet::runtime {
namespace {

TEST(ThreadPool, PhysicalCoreCount) {
    EXPECT_GE(physical_core_count(), 1);
    EXPECT_LE(physical_core_count(), (int)std::max(1u, std::thread::hardware_concurrency()));
}

TEST(ThreadPool, EveryIndexOncePerRun) {
    for (int n = 1; n <= 4; ++n) {
        ThreadPool pool(n);
        ASSERT_EQ(pool.size(), n);
        std::vector<std::atomic<int>> hits(n);
        std::atomic<int> bad_nth{0};
        for (int run = 0; run < 100; ++run) {
            for (auto &h : hits) h.store(0, std::memory_order_relaxed);
            pool.run([&](int ith, int nth) {
                if (nth != n) bad_nth.fetch_add(1);
                hits[ith].fetch_add(1, std::memory_order_relaxed);
            });
            for (int i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "n " << n << " ith " << i;
        }
        EXPECT_EQ(bad_nth.load(), 0);
    }
}

TEST(ThreadPool, ManyConsecutiveRuns) {
    // Plain (non-atomic) per-thread counters: run() must order each job's writes before its
    // return and before the next job, which ThreadSanitizer checks as well.
    constexpr int kRuns = 10000;
    for (int n : {2, 3, 4}) {
        ThreadPool pool(n);
        std::vector<long> counters(n, 0);
        long total = 0;
        for (int run = 0; run < kRuns; ++run) {
            pool.run([&](int ith, int) { counters[ith] += run; });
            total += run;
        }
        for (int i = 0; i < n; ++i) EXPECT_EQ(counters[i], total) << "n " << n << " ith " << i;
    }
}

TEST(ThreadPool, WorkSplitCoversRange) {
    ThreadPool pool(3);
    std::vector<int> data(1000, 0);
    for (int rep = 0; rep < 50; ++rep) {
        pool.run([&](int ith, int nth) {
            for (size_t i = (size_t)ith; i < data.size(); i += (size_t)nth) data[i] += 1;
        });
    }
    for (int v : data) ASSERT_EQ(v, 50);
}

TEST(ThreadPool, WakesAfterSleeping) {
    ThreadPool pool(3);
    std::atomic<int> count{0};
    for (int rep = 0; rep < 5; ++rep) {
        // Long enough for the workers to give up spinning and sleep.
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        pool.run([&](int, int) { count.fetch_add(1); });
        EXPECT_EQ(count.load(), 3 * (rep + 1));
    }
}

TEST(ThreadPool, ExceptionOnCallerThreadWaitsForWorkers) {
    ThreadPool pool(3);
    std::atomic<int> done{0};
    EXPECT_THROW(pool.run([&](int ith, int) {
        if (ith == 0) throw std::runtime_error("boom");
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        done.fetch_add(1);
    }),
                 std::runtime_error);
    EXPECT_EQ(done.load(), 2);
    // Still usable.
    pool.run([&](int, int) { done.fetch_add(1); });
    EXPECT_EQ(done.load(), 5);
}

TEST(ThreadPool, DestroyWhileIdle) {
    for (int n = 1; n <= 4; ++n) {
        { ThreadPool never_used(n); }
        {
            ThreadPool pool(n);
            pool.run([](int, int) {});
        }
        {
            ThreadPool pool(n);
            pool.run([](int, int) {});
            std::this_thread::sleep_for(std::chrono::milliseconds(2));  // workers asleep
        }
    }
}

TEST(ThreadPool, NoPinStillWorks) {
    setenv("BITNET_NO_PIN", "1", 1);
    {
        ThreadPool pool(2);
        std::atomic<int> count{0};
        pool.run([&](int, int) { count.fetch_add(1); });
        EXPECT_EQ(count.load(), 2);
    }
    unsetenv("BITNET_NO_PIN");
}

}  // namespace
}  // namespace bitnet::runtime
