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

// The generated fixtures (tiny-llama-*, tiny-bitnet-*, hf/...): written into the build tree by
// the ctest fixture `make_fixtures` (../shared/tools/make-fixtures); BITNET_GENERATED_FIXTURES
// overrides the folder. Their references are stored with the others (fixture("reference/...")).
inline std::string generated_fixtures_dir() {
    if (const char *env = std::getenv("BITNET_GENERATED_FIXTURES")) return env;
    return BITNET_GENERATED_FIXTURES_DIR;
}
inline std::string generated_fixture(const std::string &name) {
    return generated_fixtures_dir() + "/" + name;
}

}  // namespace bitnet::test
