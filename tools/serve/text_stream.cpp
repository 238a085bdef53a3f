// See text_stream.h.
#include "text_stream.h"

#include <algorithm>

namespace bitnet_serve {

size_t utf8_complete_prefix(const std::string &s) {
    // Look back at most 3 bytes for the lead byte of the last character.
    const size_t n = s.size();
    for (size_t back = 1; back <= std::min<size_t>(4, n); ++back) {
        const unsigned char c = (unsigned char)s[n - back];
        if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking
        size_t len = 1;
        if ((c & 0xE0) == 0xC0) len = 2;
        else if ((c & 0xF0) == 0xE0) len = 3;
        else if ((c & 0xF8) == 0xF0) len = 4;
        return back < len ? n - back : n;  // incomplete last character: hold it back
    }
    return n;  // only continuation bytes (invalid): nothing to wait for
}

std::string TextStream::append(const std::string &piece, bool &stopped) {
    stopped = false;
    text_ += piece;
    // A stop sequence cannot start before sent_: text that could begin one is held back.
    size_t stop_at = std::string::npos;
    for (const std::string &s : stop_) stop_at = std::min(stop_at, text_.find(s, sent_));
    if (stop_at != std::string::npos) {
        stopped = true;
        std::string out = text_.substr(sent_, stop_at - sent_);
        text_.resize(stop_at);
        sent_ = stop_at;
        return out;
    }
    size_t end = utf8_complete_prefix(text_);
    // Hold back the longest suffix that is a proper prefix of a stop sequence.
    for (const std::string &s : stop_) {
        for (size_t k = std::min(s.size() - 1, text_.size() - sent_); k > 0; --k) {
            if (text_.compare(text_.size() - k, k, s, 0, k) == 0) {
                end = std::min(end, text_.size() - k);
                break;
            }
        }
    }
    if (end <= sent_) return {};
    std::string out = text_.substr(sent_, end - sent_);
    sent_ = end;
    return out;
}

std::string TextStream::flush() {
    std::string out = text_.substr(sent_);
    sent_ = text_.size();
    return out;
}

}  // namespace bitnet_serve
