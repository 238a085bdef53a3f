// A GoogleTest suite that shares one fixture model, loaded through the C API once per suite
// (tiny-b158-i2s.gguf, used in place from ../shared/fixtures).
#pragma once

#include <gtest/gtest.h>

#include "bitnet.h"
#include "fixtures.h"

namespace bitnet::test {

class FixtureModelSuite : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        ASSERT_EQ(bitnet_model_load(fixture("tiny-b158-i2s.gguf").c_str(), nullptr, &model_),
                  BITNET_OK)
            << bitnet_last_error_message();
    }
    static void TearDownTestSuite() {
        bitnet_model_free(model_);
        model_ = nullptr;
    }
    static inline bitnet_model *model_ = nullptr;
};

}  // namespace bitnet::test
