// Chat prompt formats: BitNet b1.58 2B4T's training format (see bitnet_chat_format in bitnet.h),
// Llama 3 and Falcon3, and recognition of a GGUF's tokenizer.chat_template as one of them.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bitnet {

struct ChatMessage {
    std::string_view role;
    std::string_view content;
};

enum class ChatFormat { Bitnet2B4T = 0, Llama3 = 1, Falcon3 = 2 };

// "bitnet-2b4t", "llama3", "falcon3".
const char *chat_format_name(ChatFormat f);

// Recognises a Jinja chat template by its markers (it is never executed): Llama 3's header
// tokens (<|start_header_id|>, <|end_header_id|>), Falcon3's role tags (<|user|>, <|assistant|>),
// or the 2B4T ones ("BITNETAssistant" of the file Microsoft's converter writes, or "User: " with
// "<|eot_id|>"). nullopt for anything else.
std::optional<ChatFormat> detect_chat_template(std::string_view tmpl);

// Renders messages (roles system/user/assistant, case-insensitive; throws
// bitnet::Error(INVALID_ARGUMENT) for another role). BOS is never included.
//  - Bitnet2B4T: `Role: content<|eot_id|>` (content stripped); prompt `Assistant: `.
//  - Llama3: `<|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>` (content stripped);
//    prompt `<|start_header_id|>assistant<|end_header_id|>\n\n`.
//  - Falcon3 (tiiuae/Falcon3-*-Instruct tokenizer_config.json): `<|role|>\ncontent\n`, an
//    assistant message `<|assistant|>\ncontent` + eos_text + `\n`; prompt `<|assistant|>\n`.
std::string format_chat(ChatFormat f, const std::vector<ChatMessage> &messages,
                        bool add_generation_prompt, std::string_view eos_text = "");
// The 2B4T format (bitnet_chat_format).
std::string format_chat(const std::vector<ChatMessage> &messages, bool add_generation_prompt);
// Text that closes an assistant reply whose end-of-turn token was sampled but not evaluated
// (continuing a conversation with its KV cache kept): `<|eot_id|>`, or eos_text + `\n` (Falcon3).
std::string chat_turn_end(ChatFormat f, std::string_view eos_text);

}  // namespace bitnet
