// GPT-2 byte <-> unicode mapping and small UTF-8 helpers.
#include <array>

#include "tokenizer/tokenizer_internal.h"

namespace bitnet::tokenizer_detail {
namespace {

// Bytes that byte-level BPE spells as themselves: printable ASCII and printable Latin-1
// (0xAD, soft hyphen, is excluded because it is invisible).
constexpr bool maps_to_itself(unsigned b) {
    return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
}

struct Tables {
    std::array<uint32_t, 256> to_cp{};
    std::array<int16_t, 256 + 68> from_cp{};  // code points 0..323; -1 = not a mapped code point
    std::array<std::string, 256> utf8;        // UTF-8 of to_cp[b], to encode without branching

    Tables() {
        from_cp.fill(-1);
        uint32_t next = 256;  // the bytes that are not printable take U+0100.. in byte order
        for (unsigned b = 0; b < 256; ++b) {
            const uint32_t cp = maps_to_itself(b) ? b : next++;
            to_cp[b] = cp;
            from_cp[cp] = static_cast<int16_t>(b);
            append_utf8(cp, utf8[b]);
        }
    }
};

const Tables &tables() {
    static const Tables t;  // thread-safe initialisation (C++11 magic statics)
    return t;
}

}  // namespace

uint32_t byte_to_codepoint(uint8_t byte) { return tables().to_cp[byte]; }

int byte_from_codepoint(uint32_t cp) {
    const auto &t = tables().from_cp;
    return cp < t.size() ? t[cp] : -1;
}

void append_byte_encoded(std::string_view raw, std::string &out) {
    const auto &utf8 = tables().utf8;
    for (unsigned char c : raw) out += utf8[c];
}

void append_utf8(uint32_t cp, std::string &out) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

size_t decode_utf8(std::string_view s, uint32_t &cp) {
    const auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
    const unsigned c0 = byte(0);
    cp = UINT32_MAX;
    if (c0 < 0x80) {
        cp = c0;
        return 1;
    }
    size_t len;
    uint32_t value, min;
    if ((c0 & 0xE0) == 0xC0) { len = 2; value = c0 & 0x1F; min = 0x80; }
    else if ((c0 & 0xF0) == 0xE0) { len = 3; value = c0 & 0x0F; min = 0x800; }
    else if ((c0 & 0xF8) == 0xF0) { len = 4; value = c0 & 0x07; min = 0x10000; }
    else return 1;
    if (s.size() < len) return 1;
    for (size_t i = 1; i < len; ++i) {
        if ((byte(i) & 0xC0) != 0x80) return 1;
        value = (value << 6) | (byte(i) & 0x3F);
    }
    // Reject overlong forms, surrogates and values past U+10FFFF.
    if (value < min || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) return 1;
    cp = value;
    return len;
}

}  // namespace bitnet::tokenizer_detail
