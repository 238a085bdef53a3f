// Shared by the C API files (lib/api*.cpp): the handle structs behind the opaque C types, and
// the helpers that turn C++ exceptions into a status plus the thread-local message. Internal:
// never included by anything outside lib/api*.cpp.
#pragma once

#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <system_error>

#include "bitnet.h"
#include "common/error.h"
#include "model/context.h"
#include "model/model.h"
#include "sampling/sampler.h"

struct bitnet_model {
    std::shared_ptr<const bitnet::Model> impl;
};
struct bitnet_context {
    std::unique_ptr<bitnet::Context> impl;
    uint64_t seed = 0;             // bitnet_context_params.seed
    uint64_t generate_calls = 0;   // for BITNET_SEED_DEFAULT
};
struct bitnet_sampler {
    std::unique_ptr<bitnet::Sampler> impl;
};

namespace bitnet::api {

inline thread_local std::string g_last_error;

inline bitnet_status set_error(bitnet_status s, const std::string &msg) {
    g_last_error = msg;
    return s;
}

// Maps the exception being handled to a status and sets its message. Call only inside a catch
// block: it rethrows the current exception to tell its type.
inline bitnet_status status_of_current_exception() {
    try {
        throw;
    } catch (const bitnet::Error &e) {
        return set_error(e.status(), e.what());
    } catch (const std::bad_alloc &) {
        return set_error(BITNET_ERR_OUT_OF_MEMORY, "out of memory");
    } catch (const std::length_error &e) {
        return set_error(BITNET_ERR_OUT_OF_MEMORY, std::string("allocation too large: ") + e.what());
    } catch (const std::system_error &e) {
        // std::thread reports EAGAIN when no thread (or no memory for its stack) can be had:
        // a resource failure, not a bug.
        if (e.code() == std::errc::resource_unavailable_try_again ||
            e.code() == std::errc::not_enough_memory) {
            return set_error(BITNET_ERR_OUT_OF_MEMORY,
                             std::string("out of resources (cannot start a thread): ") + e.what());
        }
        return set_error(BITNET_ERR_INTERNAL, std::string("internal error: ") + e.what());
    } catch (const std::exception &e) {
        return set_error(BITNET_ERR_INTERNAL, std::string("internal error: ") + e.what());
    } catch (...) {
        return set_error(BITNET_ERR_INTERNAL, "internal error: unknown exception");
    }
}

// Runs f, mapping every exception to a status and message.
template <class F>
bitnet_status guarded(F &&f) {
    g_last_error.clear();
    try {
        return f();
    } catch (...) {
        return status_of_current_exception();
    }
}

// For the entry points that return a value, not a status (accessors): runs f and gives
// `fallback` instead of letting an exception cross the C ABI. The message (as guarded() would
// set it) is kept for bitnet_last_error_message, as far as memory allows.
template <class T, class F>
T guarded_value(T fallback, F &&f) noexcept {
    try {
        return f();
    } catch (...) {
        try {
            status_of_current_exception();
        } catch (...) {  // no memory even for the message
        }
    }
    return fallback;
}

inline bitnet_status invalid(const std::string &msg) { return set_error(BITNET_ERR_INVALID_ARGUMENT, msg); }

// Copies bytes into a caller buffer, reporting the size needed.
inline bitnet_status copy_out(const std::string &s, char *buf, size_t buf_size, size_t *n_out,
                       bool nul_terminate) {
    const size_t need = s.size() + (nul_terminate ? 1 : 0);
    if (n_out) *n_out = need;
    if (buf_size < need || (!buf && need > 0)) {
        return set_error(BITNET_ERR_BUFFER_TOO_SMALL, "buffer of " + std::to_string(buf_size) +
                                                          " bytes is too small; " +
                                                          std::to_string(need) + " needed");
    }
    if (!s.empty()) std::memcpy(buf, s.data(), s.size());
    if (nul_terminate) buf[s.size()] = '\0';
    return BITNET_OK;
}

// Reads a params struct of a possibly older/smaller layout: fields beyond its size keep
// their defaults.
template <class T>
bool read_params(const T *in, T &out, const T &defaults) {
    out = defaults;
    if (!in) return true;
    if (in->size < sizeof(size_t) || in->size > sizeof(T)) return false;
    std::memcpy(static_cast<void *>(&out), in, in->size);
    out.size = sizeof(T);
    return true;
}

}  // namespace bitnet::api
