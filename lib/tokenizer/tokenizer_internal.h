// Internals of the byte-level BPE tokenizer, shared by the files in lib/tokenizer/ only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace bitnet::tokenizer_detail {

// ---- GPT-2 byte <-> unicode mapping (byte_unicode.cpp) ------------------------------------------
// Byte-level BPE vocabularies spell every byte as a printable code point: bytes that are
// printable Latin-1 (33..126, 161..172, 174..255) map to themselves, the other 68 bytes to
// U+0100.. in increasing byte order. Token strings are UTF-8 of these code points.

uint32_t byte_to_codepoint(uint8_t byte);
// The byte spelled by `cp`, or -1 when cp is not part of the mapping.
int byte_from_codepoint(uint32_t cp);
// Appends the UTF-8 form of the mapped code point of every byte of `raw` to `out`.
void append_byte_encoded(std::string_view raw, std::string &out);
// Appends the UTF-8 encoding of `cp` (cp <= 0x10FFFF) to `out`.
void append_utf8(uint32_t cp, std::string &out);
// Decodes one UTF-8 sequence at the start of `s` (non-empty). Returns its length in bytes and
// stores the code point; an invalid or truncated sequence yields length 1 and cp = UINT32_MAX.
size_t decode_utf8(std::string_view s, uint32_t &cp);

// ---- Flat hash tables (hash_tables.cpp) ---------------------------------------------------------
// Loading builds a 128k-entry text index and a 280k-entry merge table; node-based maps spend
// most of that time on allocation and pointer chasing, so both are open-addressing tables in one
// flat array (linear probing, load factor <= 1/2, built once and then only read).

// Token text -> id. Holds pointers into the token vector, which must outlive it unchanged.
class TokenIndex {
public:
    // Indexes all tokens; for a text that occurs twice the later id wins.
    void build(const std::vector<std::string> &tokens);
    int32_t find(std::string_view text) const;  // -1 if absent

private:
    struct Slot {
        uint32_t hash;
        int32_t id;  // -1 = empty
    };
    std::vector<Slot> slots_;
    size_t mask_ = 0;
    const std::vector<std::string> *tokens_ = nullptr;
};

// (left id, right id) -> merge rank and merged id.
class MergeTable {
public:
    struct Merge {
        int32_t rank;    // index in tokenizer.ggml.merges: lower merges first
        int32_t result;  // id of the merged token
    };
    void reserve(size_t n);
    // Keeps the existing entry when the pair is already present (the lower rank).
    void insert(int32_t left, int32_t right, Merge m);
    const Merge *find(int32_t left, int32_t right) const;  // nullptr if absent
    size_t size() const { return size_; }

private:
    struct Slot {
        uint64_t key;  // kEmpty = unused
        Merge merge;
    };
    static constexpr uint64_t kEmpty = ~uint64_t{0};
    void grow();
    size_t index_of(uint64_t key) const;
    std::vector<Slot> slots_;
    size_t mask_ = 0, size_ = 0;
};

// ---- Pre-tokenizer (pretokenize.cpp) -----------------------------------------------------------
// Splits text into pieces with the Llama 3 regex (PCRE2, UTF + UCP, invalid UTF-8 allowed).
// The compiled pattern is immutable after construction, so one instance serves any number of
// threads; split() allocates its own match data.
class PreTokenizer {
public:
    PreTokenizer();  // throws bitnet::Error(INTERNAL) if the pattern does not compile
    ~PreTokenizer();
    PreTokenizer(const PreTokenizer &) = delete;
    PreTokenizer &operator=(const PreTokenizer &) = delete;

    // Appends the pieces of `text` to `out` as views into `text`. The pieces cover `text`
    // exactly, in order: stretches the regex does not match (invalid UTF-8) are pieces too.
    void split(std::string_view text, std::vector<std::string_view> &out) const;

    static const char *pattern();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// ---- SentencePiece tokenizer (spm.cpp) ----------------------------------------------------------
// Builds the tokenizer of `tokenizer.ggml.model` = "llama" (validates data; throws bitnet::Error).
std::unique_ptr<Tokenizer> make_spm_tokenizer(TokenizerData data);

}  // namespace bitnet::tokenizer_detail
