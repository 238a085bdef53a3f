// Wall-clock milliseconds for the library's own timings (generation stats, bench).
#pragma once

#include <chrono>

namespace bitnet {

inline double now_ms() {
    using namespace std::chrono;
    return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace bitnet
