// The process-wide log callback of bitnet_log_set (see log.h).
#include "common/log.h"

#include <cstdarg>
#include <cstdio>
#include <mutex>

namespace bitnet {
namespace {

struct LogSink {
    std::mutex mutex;  // guards callback + user_data together, so a pair is never torn
    bitnet_log_callback callback = nullptr;
    void *user_data = nullptr;
};

LogSink &sink() {
    static LogSink s;
    return s;
}

}  // namespace

void log(bitnet_log_level level, const char *fmt, ...) noexcept {
    bitnet_log_callback cb;
    void *ud;
    {
        std::lock_guard<std::mutex> lock(sink().mutex);
        cb = sink().callback;
        ud = sink().user_data;
    }
    if (!cb) return;
    char buf[1024];  // messages are one line; longer ones are truncated, not dropped
    va_list ap;
    va_start(ap, fmt);
    const int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    cb(level, buf, ud);
}

}  // namespace bitnet

extern "C" BITNET_API void bitnet_log_set(bitnet_log_callback callback, void *user_data) {
    std::lock_guard<std::mutex> lock(bitnet::sink().mutex);
    bitnet::sink().callback = callback;
    bitnet::sink().user_data = user_data;
}
