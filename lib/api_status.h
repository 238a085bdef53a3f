// The C API's status plumbing shared by the files that implement bitnet.h entry points
// (api.cpp, api_convert.cpp): the calling thread's last error message, and `guarded`, which
// runs a body and maps every exception to a status and message so that none crosses the ABI.
#pragma once

#include <new>
#include <string>
#include <system_error>

#include "bitnet.h"
#include "common/error.h"

namespace bitnet::capi {

// The calling thread's message for bitnet_last_error_message().
std::string &last_error();

inline bitnet_status set_error(bitnet_status s, const std::string &msg) {
    last_error() = msg;
    return s;
}

template <class F>
bitnet_status guarded(F &&f) {
    last_error().clear();
    try {
        return f();
    } catch (const bitnet::Error &e) {
        return set_error(e.status(), e.what());
    } catch (const std::bad_alloc &) {
        return set_error(BITNET_ERR_OUT_OF_MEMORY, "out of memory");
    } catch (const std::length_error &e) {
        return set_error(BITNET_ERR_OUT_OF_MEMORY, std::string("allocation too large: ") + e.what());
    } catch (const std::exception &e) {
        return set_error(BITNET_ERR_INTERNAL, std::string("internal error: ") + e.what());
    } catch (...) {
        return set_error(BITNET_ERR_INTERNAL, "internal error: unknown exception");
    }
}

}  // namespace bitnet::capi
