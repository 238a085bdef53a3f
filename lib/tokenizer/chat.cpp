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

enum class Role { System, User, Assistant };

Role parse_role(std::string_view r) {
    if (iequals(r, "system")) return Role::System;
    if (iequals(r, "user")) return Role::User;
    if (iequals(r, "assistant")) return Role::Assistant;
    fail(BITNET_ERR_INVALID_ARGUMENT, "chat: unknown role '" + std::string(r) +
                                          "' (expected system, user or assistant)");
}

const char *role_lower(Role r) {
    return r == Role::System ? "system" : r == Role::User ? "user" : "assistant";
}

}  // namespace

const char *chat_format_name(ChatFormat f) {
    switch (f) {
        case ChatFormat::Bitnet2B4T: return "bitnet-2b4t";
        case ChatFormat::Llama3: return "llama3";
        case ChatFormat::Falcon3: return "falcon3";
    }
    return "unknown";
}

std::optional<ChatFormat> detect_chat_template(std::string_view t) {
    auto has = [&](std::string_view s) { return t.find(s) != std::string_view::npos; };
    if (has("<|start_header_id|>") && has("<|end_header_id|>")) return ChatFormat::Llama3;
    if (has("<|user|>") && has("<|assistant|>")) return ChatFormat::Falcon3;
    if (has("BITNETAssistant") || (has("User: ") && has("<|eot_id|>"))) {
        return ChatFormat::Bitnet2B4T;
    }
    return std::nullopt;
}

std::string format_chat(ChatFormat f, const std::vector<ChatMessage> &messages,
                        bool add_generation_prompt, std::string_view eos_text) {
    std::string out;
    for (const ChatMessage &m : messages) {
        const Role role = parse_role(m.role);
        switch (f) {
            case ChatFormat::Bitnet2B4T:
                out += role == Role::System ? "System: " : role == Role::User ? "User: " : "Assistant: ";
                out += strip(m.content);
                out += "<|eot_id|>";
                break;
            case ChatFormat::Llama3:
                out += "<|start_header_id|>";
                out += role_lower(role);
                out += "<|end_header_id|>\n\n";
                out += strip(m.content);
                out += "<|eot_id|>";
                break;
            case ChatFormat::Falcon3:
                out += "<|";
                out += role_lower(role);
                out += "|>\n";
                out += m.content;
                if (role == Role::Assistant) out += eos_text;
                out += "\n";
                break;
        }
    }
    if (add_generation_prompt) {
        switch (f) {
            case ChatFormat::Bitnet2B4T: out += "Assistant: "; break;
            case ChatFormat::Llama3: out += "<|start_header_id|>assistant<|end_header_id|>\n\n"; break;
            case ChatFormat::Falcon3: out += "<|assistant|>\n"; break;
        }
    }
    return out;
}

std::string chat_turn_end(ChatFormat f, std::string_view eos_text) {
    if (f == ChatFormat::Falcon3) return std::string(eos_text) + "\n";
    return "<|eot_id|>";
}

std::string format_chat(const std::vector<ChatMessage> &messages, bool add_generation_prompt) {
    return format_chat(ChatFormat::Bitnet2B4T, messages, add_generation_prompt);
}

}  // namespace bitnet
