// bitnet_log_set: library diagnostics go to the installed callback, and nowhere (in particular
// not to stderr) when none is installed.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "bitnet.h"
#include "kernels/kernels.h"

namespace {

struct Captured {
    std::vector<std::pair<int, std::string>> messages;
};

void capture(int level, const char *text, void *user_data) {
    static_cast<Captured *>(user_data)->messages.emplace_back(level, text);
}

// Sets BITNET_ISA for one scope and restores the previous value.
class ScopedIsaEnv {
public:
    explicit ScopedIsaEnv(const char *value) {
        const char *old = std::getenv("BITNET_ISA");
        had_ = old != nullptr;
        if (had_) old_ = old;
        setenv("BITNET_ISA", value, 1);
    }
    ~ScopedIsaEnv() {
        if (had_) setenv("BITNET_ISA", old_.c_str(), 1);
        else unsetenv("BITNET_ISA");
    }

private:
    bool had_ = false;
    std::string old_;
};

TEST(Log, WarningGoesToTheCallback) {
    Captured got;
    bitnet_log_set(capture, &got);
    {
        ScopedIsaEnv env("no-such-isa");
        (void)bitnet::kernels::best_isa();
    }
    bitnet_log_set(nullptr, nullptr);
    ASSERT_EQ(got.messages.size(), 1u);
    EXPECT_EQ(got.messages[0].first, BITNET_LOG_WARN);
    EXPECT_NE(got.messages[0].second.find("no-such-isa"), std::string::npos)
        << got.messages[0].second;
    EXPECT_EQ(got.messages[0].second.find('\n'), std::string::npos);  // one line, no newline
}

TEST(Log, NothingOnStderrWithoutCallback) {
    bitnet_log_set(nullptr, nullptr);
    testing::internal::CaptureStderr();
    {
        ScopedIsaEnv env("no-such-isa");
        (void)bitnet::kernels::best_isa();
    }
    EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

TEST(Log, CallbackCanBeReplaced) {
    Captured first, second;
    bitnet_log_set(capture, &first);
    bitnet_log_set(capture, &second);
    {
        ScopedIsaEnv env("no-such-isa");
        (void)bitnet::kernels::best_isa();
    }
    bitnet_log_set(nullptr, nullptr);
    EXPECT_TRUE(first.messages.empty());
    EXPECT_EQ(second.messages.size(), 1u);
}

}  // namespace
