// 200 rounds of load / context / generate / free through the C API must leave resident memory
// flat. (In ASan builds LeakSanitizer checks for leaks at exit instead: ASan's quarantine holds
// freed memory back on purpose, so resident memory is not meaningful there.)
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "bitnet.h"
#include "sanitized.h"
#include "tiny_model.h"

namespace {

using bitnet::test::kSanitized;

// Resident set size in bytes (/proc/self/statm, second field, in pages).
long resident_bytes() {
    std::ifstream f("/proc/self/statm");
    long size = 0, resident = 0;
    f >> size >> resident;
    return resident * sysconf(_SC_PAGESIZE);
}

void one_round(const std::string &path, int i) {
    bitnet_model_params mp = bitnet_model_default_params();
    mp.use_mmap = i % 2;                           // both loaders
    mp.lm_head_type = i % 3 == 2 ? BITNET_LM_HEAD_Q8 : BITNET_LM_HEAD_AUTO;
    bitnet_model *m = nullptr;
    ASSERT_EQ(bitnet_model_load(path.c_str(), &mp, &m), BITNET_OK) << bitnet_last_error_message();
    bitnet_context_params cp = bitnet_context_default_params();
    cp.n_ctx = 64;
    cp.n_threads = 1 + i % 2;                      // with and without worker threads
    bitnet_context *c = nullptr;
    ASSERT_EQ(bitnet_context_new(m, &cp, &c), BITNET_OK) << bitnet_last_error_message();
    if (i % 4 == 0) bitnet_model_free(m), m = nullptr;  // freed while the context lives
    bitnet_sampling_params sp = bitnet_sampling_default_params();
    sp.seed = (uint64_t)i;
    bitnet_generate_params gp = bitnet_generate_default_params();
    gp.max_tokens = 8;
    gp.sampling = &sp;
    const bitnet_status s = bitnet_generate(c, "the quick brown fox", 19, &gp, nullptr, nullptr,
                                            nullptr);
    ASSERT_TRUE(s == BITNET_OK) << bitnet_last_error_message();
    // A failing call too (its message is thread-local state).
    ASSERT_EQ(bitnet_eval(c, nullptr, 1, 1), BITNET_ERR_INVALID_ARGUMENT);
    bitnet_sampler *smp = nullptr;
    ASSERT_EQ(bitnet_sampler_new(nullptr, &smp), BITNET_OK);
    bitnet_sampler_free(smp);
    bitnet_context_free(c);
    bitnet_model_free(m);
}

}  // namespace

TEST(LeakLoop, LoadGenerateFreeKeepsResidentMemoryFlat) {
    const std::string path =
        ::testing::TempDir() + "leak-loop-" + std::to_string(::getpid()) + ".gguf";
    bitnet::test::make_tiny_model(path);
    for (int i = 0; i < 20; ++i) one_round(path, i);  // warm-up: allocator pools, thread caches
    const long before = resident_bytes();
    for (int i = 0; i < 200; ++i) {
        one_round(path, i);
        if (HasFatalFailure()) break;
    }
    const long after = resident_bytes();
    std::remove(path.c_str());
    std::printf("resident: %.1f MiB before, %.1f MiB after 200 rounds (%+.1f KiB)\n",
                before / 1048576.0, after / 1048576.0, (after - before) / 1024.0);
    if (kSanitized) GTEST_SKIP() << "resident memory is not meaningful under sanitizers";
    // One round allocates ~1 MiB (model image, KV cache, scratch); a leak of any of it would
    // show as 200x that. Allow 4 MiB of allocator noise.
    EXPECT_LT(after - before, 4L << 20);
}
