// Worker threads for the forward pass, pinned to cores with hwloc.
#pragma once

#include <memory>
#include <type_traits>

namespace bitnet::runtime {

// Number of physical cores (hwloc), at least 1.
int physical_core_count();

class ThreadPool {
public:
    // n_threads >= 1 in total; the calling thread takes part as thread 0, so n_threads - 1
    // workers are started. Threads are bound to distinct physical cores where hwloc can.
    explicit ThreadPool(int n_threads);
    ~ThreadPool();
    ThreadPool(const ThreadPool &) = delete;
    ThreadPool &operator=(const ThreadPool &) = delete;

    int size() const;

    // Runs fn(ctx, ith, nth) on every thread (ith = 0 .. nth-1, nth = size()) and returns when
    // all have finished. Not reentrant; call from the owning thread only.
    void run(void (*fn)(void *ctx, int ith, int nth), void *ctx);

    template <class F>
    void run(F &&f) {
        using Fn = std::remove_reference_t<F>;
        run([](void *c, int ith, int nth) { (*static_cast<Fn *>(c))(ith, nth); },
            const_cast<void *>(static_cast<const void *>(&f)));
    }

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace bitnet::runtime
