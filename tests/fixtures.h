// Paths of the shared test fixtures (../shared/fixtures beside the checkout, used in place).
#pragma once

#include <cstdlib>
#include <string>

namespace bitnet::test {

inline std::string fixtures_dir() {
    if (const char *env = std::getenv("BITNET_FIXTURES")) return env;
    return BITNET_FIXTURES_DIR;
}
inline std::string fixture(const std::string &name) { return fixtures_dir() + "/" + name; }

}  // namespace bitnet::test
