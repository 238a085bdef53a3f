// ABI stability of the parameter structs: a caller compiled against an older, smaller struct
// (its `size` field says how much it knows) gets defaults for the fields it does not know, and
// the sampling settings, held by pointer since 0.2, can grow without moving the fields of
// bitnet_generate_params.
#include <gtest/gtest.h>

#include <cstddef>
#include <string>

#include "bitnet.h"
#include "fixture_model.h"

using bitnet::test::fixture;

namespace {

// Layout facts an old binary relies on; a change here is an ABI break that must bump the
// version (and this test).
static_assert(offsetof(bitnet_generate_params, size) == 0);
static_assert(offsetof(bitnet_sampling_params, size) == 0);
static_assert(sizeof(((bitnet_generate_params *)nullptr)->sampling) == sizeof(void *),
              "bitnet_generate_params holds the sampling settings by pointer");

struct Text {
    std::string s;
};
int collect(const char *piece, size_t n, bitnet_token, void *user) {
    static_cast<Text *>(user)->s.append(piece, n);
    return 0;
}

class Abi : public bitnet::test::FixtureModelSuite {
protected:
    // Generates from a fresh context with context seed 7.
    static std::string generate(const bitnet_generate_params *gp) {
        bitnet_context_params cp = bitnet_context_default_params();
        cp.n_ctx = 64;
        cp.n_threads = 1;
        cp.seed = 7;
        bitnet_context *c = nullptr;
        EXPECT_EQ(bitnet_context_new(model_, &cp, &c), BITNET_OK) << bitnet_last_error_message();
        Text t;
        const bitnet_status s = bitnet_generate(c, "The quick brown fox", 19, gp, collect, &t,
                                                nullptr);
        EXPECT_EQ(s, BITNET_OK) << bitnet_last_error_message();
        bitnet_context_free(c);
        return t.s;
    }
};

TEST_F(Abi, NullSamplingMeansTheDefaults) {
    EXPECT_EQ(bitnet_generate_default_params().sampling, nullptr);
    bitnet_generate_params gp = bitnet_generate_default_params();
    gp.max_tokens = 12;
    const std::string with_null = generate(&gp);
    const bitnet_sampling_params sp = bitnet_sampling_default_params();
    gp.sampling = &sp;
    EXPECT_EQ(generate(&gp), with_null);
    EXPECT_FALSE(with_null.empty());
}

TEST_F(Abi, OlderGenerateParamsGetDefaultsForTheRest) {
    // A caller that knew only size, max_tokens and sampling: add_bos, parse_special and
    // render_special take their defaults even if the bytes behind its struct say otherwise.
    bitnet_generate_params old = bitnet_generate_default_params();
    old.max_tokens = 10;
    old.add_bos = 0;          // beyond the old size: must be ignored
    old.render_special = 1;   // likewise
    old.size = offsetof(bitnet_generate_params, add_bos);
    bitnet_generate_params full = bitnet_generate_default_params();
    full.max_tokens = 10;
    EXPECT_EQ(generate(&old), generate(&full));
}

TEST_F(Abi, OlderSamplingParamsGetDefaultsForTheRest) {
    // A sampling struct that ends before `seed`: the seed is the default (derived from the
    // context seed), not the garbage behind the caller's struct.
    bitnet_sampling_params old = bitnet_sampling_default_params();
    old.temperature = 1.0f;
    old.seed = 99;  // beyond the old size: must be ignored
    old.size = offsetof(bitnet_sampling_params, seed);
    bitnet_sampling_params full = bitnet_sampling_default_params();
    full.temperature = 1.0f;
    bitnet_generate_params gp = bitnet_generate_default_params();
    gp.max_tokens = 16;
    gp.sampling = &old;
    const std::string from_old = generate(&gp);
    gp.sampling = &full;
    EXPECT_EQ(from_old, generate(&gp));
    full.seed = 99;
    EXPECT_NE(from_old, generate(&gp)) << "the seed beyond the old size was read";
}

TEST_F(Abi, SizesOutsideTheStructAreRejected) {
    bitnet_sampling_params sp = bitnet_sampling_default_params();
    bitnet_generate_params gp = bitnet_generate_default_params();
    gp.sampling = &sp;
    for (size_t bad : {size_t{0}, sizeof(size_t) - 1, sizeof(sp) + 1}) {
        sp.size = bad;
        EXPECT_EQ(bitnet_generate(nullptr, "a", 1, &gp, nullptr, nullptr, nullptr),
                  BITNET_ERR_INVALID_ARGUMENT);
        bitnet_context *c = nullptr;
        ASSERT_EQ(bitnet_context_new(model_, nullptr, &c), BITNET_OK);
        EXPECT_EQ(bitnet_generate(c, "a", 1, &gp, nullptr, nullptr, nullptr),
                  BITNET_ERR_INVALID_ARGUMENT)
            << bad;
        EXPECT_NE(std::string(bitnet_last_error_message()).find("sampling->size"),
                  std::string::npos)
            << bitnet_last_error_message();
        EXPECT_EQ(bitnet_context_n_past(c), 0u) << "nothing is evaluated";
        bitnet_context_free(c);
    }
}

// The run-time string and the header macros come from one source (CMake reads the macros).
TEST(AbiVersion, HeaderAndLibraryAgree) {
    EXPECT_EQ(bitnet_version_number(), BITNET_VERSION_NUMBER);
    EXPECT_EQ(std::string(bitnet_version()), std::to_string(BITNET_VERSION_MAJOR) + "." +
                                                 std::to_string(BITNET_VERSION_MINOR) + "." +
                                                 std::to_string(BITNET_VERSION_PATCH));
}

}  // namespace
