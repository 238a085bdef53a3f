// Library log messages: routed to the callback set with bitnet_log_set, dropped when none is
// set, so that libbitnet never writes to the host program's stderr on its own.
#pragma once

#include "bitnet.h"

namespace bitnet {

// Formats a message (printf-style) and passes it to the installed callback, if any.
// Never throws; a message that cannot be formatted is dropped.
void log(bitnet_log_level level, const char *fmt, ...) noexcept
    __attribute__((format(printf, 2, 3)));

}  // namespace bitnet
