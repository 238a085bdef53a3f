// SentencePiece ModelProto reader and writer: see spm_model.h.
// Wire format: https://protobuf.dev/programming-guides/encoding/ (varint keys of
// field_number << 3 | wire_type; wire types 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32).
#include "convert/spm_model.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string_view>

#include "common/error.h"

namespace bitnet::convert {
namespace {

enum Wire { kVarint = 0, kFixed64 = 1, kLen = 2, kFixed32 = 5 };

class WireReader {
public:
    WireReader(const uint8_t *begin, const uint8_t *p, const uint8_t *end, const std::string &path)
        : begin_(begin), p_(p), end_(end), path_(path) {}

    bool done() const { return p_ == end_; }

    // Next field key; false at the end of the message.
    bool next(uint32_t &field, int &wire) {
        if (done()) return false;
        const uint64_t key = varint();
        field = static_cast<uint32_t>(key >> 3);
        wire = static_cast<int>(key & 7);
        if (key >> 3 == 0 || key >> 3 > 0x1FFFFFFF) bad("invalid field number");
        if (wire != kVarint && wire != kFixed64 && wire != kLen && wire != kFixed32)
            bad("unsupported wire type " + std::to_string(wire));
        return true;
    }
    uint64_t varint() {
        uint64_t v = 0;
        for (int shift = 0; shift < 70; shift += 7) {
            if (p_ == end_) bad("truncated varint");
            const uint8_t b = *p_++;
            if (shift == 63 && b > 1) bad("varint overflows 64 bits");
            v |= static_cast<uint64_t>(b & 0x7F) << shift;
            if (!(b & 0x80)) return v;
        }
        bad("varint longer than 10 bytes");
    }
    // An int32 field (negative values are sign-extended to ten bytes on the wire).
    int32_t int32() {
        const auto v = static_cast<int64_t>(varint());
        if (v < INT32_MIN || v > INT32_MAX) bad("int32 field out of range");
        return static_cast<int32_t>(v);
    }
    bool boolean() { return varint() != 0; }
    float fixed32_float() {
        if (end_ - p_ < 4) bad("truncated fixed32");
        uint32_t x;
        std::memcpy(&x, p_, 4);  // little-endian on the wire and on the supported hosts
        p_ += 4;
        return std::bit_cast<float>(x);
    }
    // A length-delimited field as a reader of its bytes.
    WireReader sub() {
        const uint64_t n = varint();
        if (n > static_cast<uint64_t>(end_ - p_)) bad("length " + std::to_string(n) + " past the end");
        WireReader r(begin_, p_, p_ + n, path_);
        p_ += n;
        return r;
    }
    std::string bytes() {
        WireReader r = sub();
        return std::string(reinterpret_cast<const char *>(r.p_), r.end_ - r.p_);
    }
    void skip(int wire) {
        switch (wire) {
        case kVarint: varint(); break;
        case kFixed64:
            if (end_ - p_ < 8) bad("truncated fixed64");
            p_ += 8;
            break;
        case kFixed32:
            if (end_ - p_ < 4) bad("truncated fixed32");
            p_ += 4;
            break;
        default: sub(); break;
        }
    }
    void expect(int wire, int want, const char *field) {
        if (wire != want) bad(std::string("field '") + field + "' has the wrong wire type");
    }
    [[noreturn]] void bad(const std::string &what) const {
        fail(BITNET_ERR_BAD_FORMAT, path_ + ": malformed SentencePiece model: " + what +
                                        " (byte " + std::to_string(p_ - begin_) + ")");
    }

private:
    const uint8_t *begin_, *p_, *end_;
    const std::string &path_;
};

SpmModel::Piece read_piece(WireReader r) {
    SpmModel::Piece piece;
    uint32_t f;
    int w;
    while (r.next(f, w)) {
        if (f == 1) {
            r.expect(w, kLen, "pieces.piece");
            piece.text = r.bytes();
        } else if (f == 2) {
            r.expect(w, kFixed32, "pieces.score");
            piece.score = r.fixed32_float();
        } else if (f == 3) {
            r.expect(w, kVarint, "pieces.type");
            piece.type = r.int32();
        } else {
            r.skip(w);
        }
    }
    return piece;
}

void read_trainer_spec(WireReader r, SpmModel &m) {
    uint32_t f;
    int w;
    while (r.next(f, w)) {
        int32_t *target = f == 3 ? &m.model_type : f == 40 ? &m.unk_id : f == 41 ? &m.bos_id
                        : f == 42 ? &m.eos_id : f == 43 ? &m.pad_id : nullptr;
        if (target) {
            r.expect(w, kVarint, "trainer_spec");
            *target = r.int32();
        } else if (f == 35) {
            r.expect(w, kVarint, "trainer_spec.byte_fallback");
            m.byte_fallback = r.boolean();
        } else {
            r.skip(w);
        }
    }
}

void read_normalizer_spec(WireReader r, SpmModel &m) {
    uint32_t f;
    int w;
    while (r.next(f, w)) {
        if (f == 1) {
            r.expect(w, kLen, "normalizer_spec.name");
            m.normalizer_name = r.bytes();
        } else if (f == 2) {
            r.expect(w, kLen, "normalizer_spec.precompiled_charsmap");
            m.has_charsmap = !r.bytes().empty();
        } else if (f >= 3 && f <= 5) {
            r.expect(w, kVarint, "normalizer_spec");
            const bool b = r.boolean();
            (f == 3 ? m.add_dummy_prefix : f == 4 ? m.remove_extra_whitespaces : m.escape_whitespaces) = b;
        } else {
            r.skip(w);
        }
    }
}

void validate(const SpmModel &m, const std::string &path) {
    auto bad = [&](const std::string &what) {
        fail(BITNET_ERR_BAD_FORMAT, path + ": SentencePiece model: " + what);
    };
    if (m.pieces.empty()) bad("no pieces");
    if (m.pieces.size() > (size_t{1} << 24)) bad("more than 2^24 pieces");
    for (size_t i = 0; i < m.pieces.size(); ++i) {
        const auto &p = m.pieces[i];
        const std::string at = "piece " + std::to_string(i);
        if (p.text.empty()) bad(at + " is empty");
        if (!std::isfinite(p.score)) bad(at + " has a non-finite score");
        if (p.type < 1 || p.type > 6) bad(at + " has unknown type " + std::to_string(p.type));
    }
    const std::pair<const char *, int32_t> ids[] = {
        {"unk_id", m.unk_id}, {"bos_id", m.bos_id}, {"eos_id", m.eos_id}, {"pad_id", m.pad_id}};
    for (const auto &[name, id] : ids)
        if (id < -1 || id >= static_cast<int64_t>(m.pieces.size()))
            bad(std::string("trainer_spec.") + name + " " + std::to_string(id) +
                " is outside the " + std::to_string(m.pieces.size()) + " pieces");
}

// ---- writer -------------------------------------------------------------------------------------

void put_varint(std::string &out, uint64_t v) {
    while (v >= 0x80) {
        out += static_cast<char>((v & 0x7F) | 0x80);
        v >>= 7;
    }
    out += static_cast<char>(v);
}
void put_key(std::string &out, uint32_t field, int wire) { put_varint(out, (uint64_t{field} << 3) | wire); }
void put_int(std::string &out, uint32_t field, int64_t v) {
    put_key(out, field, kVarint);
    put_varint(out, static_cast<uint64_t>(v));
}
void put_bytes(std::string &out, uint32_t field, std::string_view b) {
    put_key(out, field, kLen);
    put_varint(out, b.size());
    out += b;
}

}  // namespace

SpmModel parse_spm_model(const uint8_t *data, size_t size, const std::string &path) {
    SpmModel m;
    WireReader r(data, data, data + size, path);
    uint32_t f;
    int w;
    while (r.next(f, w)) {
        if (f == 1) {
            r.expect(w, kLen, "pieces");
            m.pieces.push_back(read_piece(r.sub()));
            if (m.pieces.size() > (size_t{1} << 24)) r.bad("more than 2^24 pieces");
        } else if (f == 2) {
            r.expect(w, kLen, "trainer_spec");
            read_trainer_spec(r.sub(), m);
        } else if (f == 3) {
            r.expect(w, kLen, "normalizer_spec");
            read_normalizer_spec(r.sub(), m);
        } else {
            r.skip(w);
        }
    }
    validate(m, path);
    return m;
}

SpmModel read_spm_model(const std::string &path) {
    constexpr uintmax_t kMaxSize = uintmax_t{64} << 20;  // LLaMA's is 0.5 MB
    std::error_code ec;
    const uintmax_t size = std::filesystem::file_size(path, ec);
    if (ec) fail(BITNET_ERR_IO, path + ": cannot read (" + ec.message() + ")");
    if (size > kMaxSize)
        fail(BITNET_ERR_BAD_FORMAT, path + ": " + std::to_string(size) +
                                        " bytes, more than a SentencePiece model can be (64 MiB)");
    std::ifstream in(path, std::ios::binary);
    std::string bytes(static_cast<size_t>(size), '\0');
    if (!in.read(bytes.data(), static_cast<std::streamsize>(size)))
        fail(BITNET_ERR_IO, path + ": read failed");
    return parse_spm_model(reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size(), path);
}

std::string serialize_spm_model(const SpmModel &m) {
    std::string out;
    for (const auto &p : m.pieces) {
        std::string msg;
        put_bytes(msg, 1, p.text);
        put_key(msg, 2, kFixed32);
        const auto bits = std::bit_cast<uint32_t>(p.score);
        for (int i = 0; i < 4; ++i) msg += static_cast<char>((bits >> (8 * i)) & 0xFF);
        put_int(msg, 3, p.type);
        put_bytes(out, 1, msg);
    }
    std::string trainer;
    put_int(trainer, 3, m.model_type);
    put_int(trainer, 35, m.byte_fallback);
    put_int(trainer, 40, m.unk_id);
    put_int(trainer, 41, m.bos_id);
    put_int(trainer, 42, m.eos_id);
    put_int(trainer, 43, m.pad_id);
    put_bytes(out, 2, trainer);
    std::string norm;
    put_bytes(norm, 1, m.normalizer_name);
    put_int(norm, 3, m.add_dummy_prefix);
    put_int(norm, 4, m.remove_extra_whitespaces);
    put_int(norm, 5, m.escape_whitespaces);
    put_bytes(out, 3, norm);
    return out;
}

}  // namespace bitnet::convert
