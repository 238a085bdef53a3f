// Internal error type: every failure inside libbitnet is a bitnet::Error carrying the public
// status code and a message. lib/api.cpp turns it into a status + thread-local message.
#pragma once

#include <stdexcept>
#include <string>

#include "bitnet.h"

namespace bitnet {

class Error : public std::runtime_error {
public:
    Error(bitnet_status status, const std::string &message)
        : std::runtime_error(message), status_(status) {}
    bitnet_status status() const noexcept { return status_; }

private:
    bitnet_status status_;
};

[[noreturn]] inline void fail(bitnet_status status, const std::string &message) {
    throw Error(status, message);
}

}  // namespace bitnet
