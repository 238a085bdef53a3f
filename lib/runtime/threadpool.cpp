// Thread pool for the forward pass. A decode step calls run() a few hundred times per token, so
// a job is handed over through one atomic generation counter that idle workers spin on, and
// completion through one atomic countdown; workers fall back to a futex sleep (std::atomic wait)
// only after ~100 us without work, so an idle pool costs no CPU.
#include "runtime/threadpool.h"

#include <hwloc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace bitnet::runtime {
namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

// Spin-wait policy: pause-spin first (a new job usually follows within microseconds during a
// forward pass), then also yield the CPU in case threads outnumber cores, and after
// kSpinTime go to sleep.
constexpr uint32_t kPauseSpins = 2048;
constexpr auto kSpinTime = std::chrono::microseconds(100);

// Spins until pred() holds or kSpinTime has passed; returns pred().
template <class Pred>
bool spin_until(Pred pred) {
    const auto start = std::chrono::steady_clock::now();
    for (uint32_t i = 0;; ++i) {
        if (pred()) return true;
        if (i < kPauseSpins) {
            cpu_relax();
        } else {
            if ((i & 63) == 0 && std::chrono::steady_clock::now() - start > kSpinTime) {
                return pred();
            }
            std::this_thread::yield();
        }
    }
}

// The machine's topology as hwloc sees it (only the PUs this process may use), loaded once.
class Topology {
public:
    static const Topology &get() {
        static const Topology t;
        return t;
    }

    int cores() const { return n_cores_; }
    int pus() const { return n_pus_; }

    // Index of the core the calling thread last ran on, or -1.
    int current_core() const {
        if (topo_ == nullptr) return -1;
        hwloc_bitmap_t set = hwloc_bitmap_alloc();
        int core = -1;
        if (set != nullptr && hwloc_get_last_cpu_location(topo_, set, HWLOC_CPUBIND_THREAD) == 0) {
            hwloc_obj_t obj = hwloc_get_next_obj_covering_cpuset_by_type(topo_, set, HWLOC_OBJ_CORE,
                                                                         nullptr);
            if (obj != nullptr) core = (int)obj->logical_index;
        }
        hwloc_bitmap_free(set);
        return core;
    }

    // Binds the calling thread to all PUs of one core. Binding is only an optimisation, so
    // failures (unsupported platform, restricted container) are ignored.
    void bind_current_thread(int core) const {
        if (topo_ == nullptr) return;
        hwloc_obj_t obj = hwloc_get_obj_by_type(topo_, HWLOC_OBJ_CORE, (unsigned)core);
        if (obj != nullptr && obj->cpuset != nullptr) {
            hwloc_set_cpubind(topo_, obj->cpuset, HWLOC_CPUBIND_THREAD);
        }
    }

    Topology(const Topology &) = delete;
    Topology &operator=(const Topology &) = delete;

private:
    Topology() {
        if (hwloc_topology_init(&topo_) != 0) {
            topo_ = nullptr;
        } else if (hwloc_topology_load(topo_) != 0) {
            hwloc_topology_destroy(topo_);
            topo_ = nullptr;
        }
        const int fallback = std::max(1, (int)std::thread::hardware_concurrency());
        const int cores = topo_ ? hwloc_get_nbobjs_by_type(topo_, HWLOC_OBJ_CORE) : 0;
        const int pus = topo_ ? hwloc_get_nbobjs_by_type(topo_, HWLOC_OBJ_PU) : 0;
        n_cores_ = cores > 0 ? cores : fallback;
        n_pus_ = pus > 0 ? pus : fallback;
    }
    ~Topology() {
        if (topo_ != nullptr) hwloc_topology_destroy(topo_);
    }

    hwloc_topology_t topo_ = nullptr;
    int n_cores_ = 1;
    int n_pus_ = 1;
};

bool pinning_disabled() {
    const char *env = std::getenv("BITNET_NO_PIN");
    return env != nullptr && *env != '\0' && std::strcmp(env, "0") != 0;
}

}  // namespace

int physical_core_count() { return Topology::get().cores(); }

struct ThreadPool::Impl {
    using Fn = void (*)(void *ctx, int ith, int nth);

    explicit Impl(int n) : n_threads(n), oversubscribed(n > Topology::get().pus()) {}

    void worker_main(int ith, int core);
    uint32_t wait_for_job(uint32_t seen);
    void stop_workers();

    const int n_threads;
    // More threads than hardware threads: a spinning thread would only delay the one it waits
    // for, so workers sleep at once and the owner yields.
    const bool oversubscribed;
    std::vector<std::thread> workers;

    // The job: written by the owner before it bumps `generation` (release), read by workers
    // after they observe the new generation (acquire).
    Fn fn = nullptr;
    void *ctx = nullptr;
    bool stop = false;

    // Separate cache lines: workers poll `generation` while finishing workers write `pending`.
    alignas(64) std::atomic<uint32_t> generation{0};
    alignas(64) std::atomic<int> pending{0};
    alignas(64) std::atomic<int> sleepers{0};
};

uint32_t ThreadPool::Impl::wait_for_job(uint32_t seen) {
    uint32_t g = seen;
    const auto new_job = [&] { return (g = generation.load(std::memory_order_acquire)) != seen; };
    if (oversubscribed ? new_job() : spin_until(new_job)) return g;
    // Announce the sleep before the final check; the owner bumps `generation` before reading
    // `sleepers` (both seq_cst), so either it sees us and notifies, or we see its new value.
    sleepers.fetch_add(1, std::memory_order_seq_cst);
    while ((g = generation.load(std::memory_order_seq_cst)) == seen) {
        generation.wait(seen, std::memory_order_acquire);
    }
    sleepers.fetch_sub(1, std::memory_order_relaxed);
    return g;
}

void ThreadPool::Impl::worker_main(int ith, int core) {
    if (core >= 0) Topology::get().bind_current_thread(core);
    uint32_t seen = 0;
    for (;;) {
        seen = wait_for_job(seen);
        if (stop) return;
        fn(ctx, ith, n_threads);
        pending.fetch_sub(1, std::memory_order_release);
    }
}

ThreadPool::ThreadPool(int n_threads) : impl_(std::make_unique<Impl>(std::max(1, n_threads))) {
    const int n = impl_->n_threads;
    // Workers get distinct cores other than the one the owner runs on, which stays the owner's
    // (thread 0 is not bound: it is the application's thread). With more threads than cores,
    // binding would only stack threads, so nothing is bound then.
    std::vector<int> cores(n, -1);
    const Topology &topo = Topology::get();
    if (!pinning_disabled() && n > 1 && n <= topo.cores()) {
        const int own = topo.current_core();
        int next = 0;
        for (int i = 1; i < n; ++i) {
            if (next == own) ++next;  // n <= cores, so skipping one core still leaves enough
            cores[i] = next++;
        }
    }
    impl_->workers.reserve((size_t)n - 1);
    try {
        for (int i = 1; i < n; ++i) {
            impl_->workers.emplace_back([impl = impl_.get(), i, core = cores[i]] {
                impl->worker_main(i, core);
            });
        }
    } catch (...) {  // thread creation failed: the destructor will not run, so join here
        impl_->stop_workers();
        throw;
    }
}

void ThreadPool::Impl::stop_workers() {
    stop = true;
    generation.fetch_add(1, std::memory_order_seq_cst);
    generation.notify_all();
    for (std::thread &t : workers) t.join();
}

ThreadPool::~ThreadPool() { impl_->stop_workers(); }

int ThreadPool::size() const { return impl_->n_threads; }

void ThreadPool::run(void (*fn)(void *ctx, int ith, int nth), void *ctx) {
    Impl &p = *impl_;
    if (p.n_threads == 1) {
        fn(ctx, 0, 1);
        return;
    }
    p.fn = fn;
    p.ctx = ctx;
    p.pending.store(p.n_threads - 1, std::memory_order_relaxed);
    p.generation.fetch_add(1, std::memory_order_seq_cst);
    if (p.sleepers.load(std::memory_order_seq_cst) > 0) p.generation.notify_all();

    // The workers use ctx until they are done, so an exception from thread 0's share waits too.
    std::exception_ptr error;
    try {
        fn(ctx, 0, p.n_threads);
    } catch (...) {
        error = std::current_exception();
    }
    for (uint32_t i = 0; p.pending.load(std::memory_order_acquire) != 0; ++i) {
        if (i < kPauseSpins && !p.oversubscribed) {
            cpu_relax();
        } else {
            std::this_thread::yield();
        }
    }
    if (error) std::rethrow_exception(error);
}

}  // namespace bitnet::runtime
