// Replays the fuzz harnesses (tests/fuzz/fuzz_targets.h) without libFuzzer: every generated seed
// and every input saved under tests/fuzz/regressions/<harness>/ (inputs that once crashed or broke
// a property) must pass. Built with any compiler; run it in the ASan build to check memory
// safety too.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "fixtures.h"
#include "fuzz/fuzz_convert_targets.h"
#include "fuzz/fuzz_targets.h"
#include "fuzz/seeds.h"

namespace fs = std::filesystem;
using bitnet::fuzz::Finding;

namespace {

// From CMake, not __FILE__: ccache (base_dir) turns __FILE__ into a relative path.
const fs::path kRegressions = fs::path(BITNET_TESTS_DIR) / "fuzz" / "regressions";

std::vector<uint8_t> read_file(const fs::path &p) {
    std::ifstream f(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void run(const std::string &harness, const std::vector<uint8_t> &bytes) {
    // libFuzzer never passes a null pointer; keep one byte of storage for empty inputs.
    static const uint8_t empty = 0;
    const uint8_t *data = bytes.empty() ? &empty : bytes.data();
    if (harness == "fuzz_gguf") {
        bitnet::fuzz::run_gguf(data, bytes.size());
    } else if (harness == "fuzz_tokenizer") {
        bitnet::fuzz::run_tokenizer(data, bytes.size(),
                                    bitnet::test::fixture("llama3-vocab.gguf"));
    } else if (harness == "fuzz_chat_sampling") {
        bitnet::fuzz::run_chat_sampling(data, bytes.size());
    } else if (harness == "fuzz_safetensors") {
        try {
            bitnet::fuzz::run_safetensors(data, bytes.size());
        } catch (const bitnet::fuzz::ConvertFinding &f) {
            throw Finding(f.what());
        }
    } else {
        FAIL() << "unknown harness " << harness;
    }
}

void replay(const std::string &harness, const std::string &name,
            const std::vector<uint8_t> &bytes) {
    SCOPED_TRACE(harness + " " + name);
    try {
        run(harness, bytes);
    } catch (const Finding &f) {
        ADD_FAILURE() << harness << " " << name << ": " << f.what();
    }
}

}  // namespace

TEST(FuzzRegressions, GgufSeedsAreValidModels) {
    for (const auto &[name, bytes] : bitnet::fuzz::gguf_seeds()) {
        SCOPED_TRACE(name);
        EXPECT_LT(bytes.size(), 128u * 1024u);  // fuzz_gguf runs with -max_len=131072
        bitnet::fuzz::MemFile f(bytes.data(), bytes.size());
        bitnet_model *m = nullptr;
        ASSERT_EQ(bitnet_model_load(f.path().c_str(), nullptr, &m), BITNET_OK)
            << bitnet_last_error_message();
        bitnet_model_free(m);
        replay("fuzz_gguf", name, bytes);
    }
}

TEST(FuzzRegressions, TokenizerSeeds) {
    for (const auto &[name, bytes] : bitnet::fuzz::tokenizer_seeds())
        replay("fuzz_tokenizer", name, bytes);
}

TEST(FuzzRegressions, ChatSamplingSeeds) {
    for (const auto &[name, bytes] : bitnet::fuzz::chat_sampling_seeds())
        replay("fuzz_chat_sampling", name, bytes);
}

// The seeds are valid inputs: each reader accepts its seed outright.
TEST(FuzzRegressions, SafetensorsSeeds) {
    for (const auto &[name, bytes] : bitnet::fuzz::safetensors_seeds()) {
        SCOPED_TRACE(name);
        try {
            bitnet::fuzz::run_safetensors(bytes.data(), bytes.size());
        } catch (const std::exception &e) {
            ADD_FAILURE() << name << ": " << e.what();
        }
        const uint8_t mode = bytes[0];
        const std::string text(bytes.begin() + 1, bytes.end());
        if (mode == 0) {
            EXPECT_NO_THROW(bitnet::convert::SafetensorsFile::from_memory(bytes.data() + 1, bytes.size() - 1, name));
        } else if (mode == 1) {
            EXPECT_NO_THROW(bitnet::convert::parse_hf_config(bitnet::convert::JsonFile::parse(text, name)));
        } else if (mode == 0xFF) {
            EXPECT_NO_THROW(bitnet::convert::parse_spm_model(bytes.data() + 1, bytes.size() - 1, name));
        }
    }
}

TEST(FuzzRegressions, SavedInputs) {
    ASSERT_TRUE(fs::is_directory(kRegressions)) << kRegressions;
    int n = 0;
    for (const char *harness : {"fuzz_gguf", "fuzz_tokenizer", "fuzz_chat_sampling", "fuzz_safetensors"}) {
        const fs::path dir = kRegressions / harness;
        if (!fs::is_directory(dir)) continue;
        std::vector<fs::path> files;
        for (const auto &e : fs::directory_iterator(dir))
            if (e.is_regular_file() && e.path().filename() != "README.md" &&
                e.path().filename().string()[0] != '.')
                files.push_back(e.path());
        std::sort(files.begin(), files.end());
        for (const auto &p : files) {
            replay(harness, p.filename().string(), read_file(p));
            ++n;
        }
    }
    std::printf("replayed %d saved fuzz inputs\n", n);
}
