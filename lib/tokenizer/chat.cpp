#include "tokenizer/chat.h"

#include <cctype>

#include "common/error.h"

namespace bitnet {

namespace {

std::string_view strip(std::string_view s) {
    auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
                                        c == '\v' || c == '\f'; };
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        if (std::tolower((unsigned char)a[i]) != std::tolower((unsigned char)b[i])) return false;
    }
    return true;
}

}  // namespace

std::string format_chat(const std::vector<ChatMessage> &messages, bool add_generation_prompt) {
    std::string out;
    for (const ChatMessage &m : messages) {
        const char *header = nullptr;
        if (iequals(m.role, "system")) header = "System: ";
        else if (iequals(m.role, "user")) header = "User: ";
        else if (iequals(m.role, "assistant")) header = "Assistant: ";
        else fail(BITNET_ERR_INVALID_ARGUMENT, "chat: unknown role '" + std::string(m.role) +
                                                   "' (expected system, user or assistant)");
        out += header;
        out += strip(m.content);
        out += "<|eot_id|>";
    }
    if (add_generation_prompt) out += "Assistant: ";
    return out;
}

}  // namespace bitnet
