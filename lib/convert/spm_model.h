// SentencePiece `tokenizer.model` files (a serialized sentencepiece.ModelProto), read with a small
// protobuf wire-format reader instead of libsentencepiece: linking that into libbitnet would add
// it and libprotobuf-lite as runtime dependencies of every user for three message fields. Every
// varint, length and field is bounds-checked; unknown fields are skipped, as protobuf does.
// The fields read (sentencepiece_model.proto): ModelProto.pieces (1: piece 1, score 2, type 3),
// trainer_spec (2: model_type 3, vocab_size 4, byte_fallback 35, unk/bos/eos/pad_id 40-43),
// normalizer_spec (3: name 1, precompiled_charsmap 2, add_dummy_prefix 3,
// remove_extra_whitespaces 4, escape_whitespaces 5).
// Writing (for the generated test checkpoints of `bitnet gen-hf`) covers the same fields.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace bitnet::convert {

struct SpmModel {
    struct Piece {
        std::string text;
        float score = 0.0f;
        int32_t type = 1;  // NORMAL 1, UNKNOWN 2, CONTROL 3, USER_DEFINED 4, UNUSED 5, BYTE 6
    };
    std::vector<Piece> pieces;
    int32_t model_type = 1;  // UNIGRAM 1 (the proto default), BPE 2, WORD 3, CHAR 4
    bool byte_fallback = false;
    int32_t unk_id = 0, bos_id = 1, eos_id = 2, pad_id = -1;  // -1 = none (proto defaults)
    std::string normalizer_name;
    bool has_charsmap = false;  // a non-empty precompiled_charsmap: the model rewrites text
    bool add_dummy_prefix = true, remove_extra_whitespaces = true, escape_whitespaces = true;
};

// Parses a serialized ModelProto. BAD_FORMAT naming `path` and the byte offset for a malformed
// message, an empty or out-of-range piece list, a non-finite score, an unknown piece type or a
// special id outside the pieces.
SpmModel parse_spm_model(const uint8_t *data, size_t size, const std::string &path);
// Reads `path` (at most 64 MiB). IO when missing/unreadable; then as parse_spm_model.
SpmModel read_spm_model(const std::string &path);
// Serializes the fields above (the inverse of parse_spm_model).
std::string serialize_spm_model(const SpmModel &m);

}  // namespace bitnet::convert
