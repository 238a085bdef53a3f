// The BitNet b1.58 2B4T chat format (see bitnet_chat_format in bitnet.h).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace bitnet {

struct ChatMessage {
    std::string_view role;
    std::string_view content;
};

// Throws bitnet::Error(INVALID_ARGUMENT) for an unknown role.
std::string format_chat(const std::vector<ChatMessage> &messages, bool add_generation_prompt);

}  // namespace bitnet
