// Turns the byte pieces of generated tokens into text that is safe to send: whole UTF-8
// characters only, and never a suffix that could be the start of a stop sequence (so a stop
// sequence is never sent, even when it spans several tokens).
#pragma once

#include <string>
#include <vector>

namespace bitnet_serve {

class TextStream {
public:
    explicit TextStream(std::vector<std::string> stop) : stop_(std::move(stop)) {}

    // Appends a token's bytes. Returns the text that can be sent now; sets `stopped` when a
    // stop sequence appeared (the text up to it is returned, the rest dropped).
    std::string append(const std::string &piece, bool &stopped);
    // The text still held back, at the end of generation (possibly invalid UTF-8 at the end).
    std::string flush();

private:
    std::vector<std::string> stop_;
    std::string text_;  // all generated text
    size_t sent_ = 0;   // bytes of text_ already returned
};

// Length of the longest prefix of s that ends on a UTF-8 character boundary, treating a
// trailing incomplete (but so far valid) multi-byte sequence as not yet complete.
size_t utf8_complete_prefix(const std::string &s);

}  // namespace bitnet_serve
