// Llama 3 pre-tokenizer on PCRE2.
//
// The regex is the one of Llama 3 (tiktoken `pat_str`, llama.cpp `llama-bpe`), see
// ../shared/docs/bitnet-reference.md section 6.2. It is compiled once with UTF + UCP (so \s, \p{L},
// \p{N} and (?i) are Unicode-aware) and MATCH_INVALID_UTF (so arbitrary bytes are accepted: an
// invalid UTF-8 sequence never matches and simply ends up in an unmatched stretch).
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <memory>
#include <string>

#include "common/error.h"
#include "tokenizer/tokenizer_internal.h"

namespace bitnet::tokenizer_detail {
namespace {

constexpr const char *kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

struct MatchDataDeleter {
    void operator()(pcre2_match_data *md) const { pcre2_match_data_free(md); }
};
using MatchData = std::unique_ptr<pcre2_match_data, MatchDataDeleter>;

// Length of the character at the start of `s` (1 for an invalid byte).
size_t char_len(std::string_view s) {
    uint32_t cp;
    return decode_utf8(s, cp);
}

}  // namespace

struct PreTokenizer::Impl {
    pcre2_code *code = nullptr;
    ~Impl() { pcre2_code_free(code); }

    // One match attempt from `pos`. Returns pcre2's result; on a JIT stack overflow (very long
    // runs can need more than the default 32 KiB JIT stack) retries with the interpreter, which
    // keeps its backtracking state on the heap.
    int match(std::string_view text, size_t pos, pcre2_match_data *md) const {
        const auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
        int rc = pcre2_match(code, subject, text.size(), pos, 0, md, nullptr);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
            rc = pcre2_match(code, subject, text.size(), pos, PCRE2_NO_JIT, md, nullptr);
        return rc;
    }
};

const char *PreTokenizer::pattern() { return kLlama3Pattern; }

PreTokenizer::PreTokenizer() : impl_(std::make_unique<Impl>()) {
    int err = 0;
    PCRE2_SIZE err_offset = 0;
    impl_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(kLlama3Pattern), PCRE2_ZERO_TERMINATED,
                                PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &err_offset,
                                nullptr);
    if (!impl_->code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        fail(BITNET_ERR_INTERNAL, "tokenizer: cannot compile the pre-tokenizer regex at offset " +
                                      std::to_string(err_offset) + ": " +
                                      reinterpret_cast<const char *>(msg));
    }
    // JIT is an optimisation only: when unavailable (no JIT support on this platform or build),
    // pcre2_match silently uses the interpreter with identical results.
    (void)pcre2_jit_compile(impl_->code, PCRE2_JIT_COMPLETE);
}

PreTokenizer::~PreTokenizer() = default;

void PreTokenizer::split(std::string_view text, std::vector<std::string_view> &out) const {
    if (text.empty()) return;
    // Match data holds the per-match state, so every call has its own: the compiled pattern is
    // only read and can be shared between threads.
    MatchData md(pcre2_match_data_create_from_pattern(impl_->code, nullptr));
    size_t pos = 0;
    while (pos < text.size()) {
        const int rc = md ? impl_->match(text, pos, md.get()) : PCRE2_ERROR_NOMEMORY;
        if (rc == PCRE2_ERROR_NOMATCH) {  // only invalid UTF-8 is left: one piece
            out.push_back(text.substr(pos));
            return;
        }
        if (rc < 0) {
            // A resource limit (heap/match limit, out of memory). Tokenizing must not fail, so
            // cut off one character as a piece of its own and go on; the bytes are all kept.
            const size_t len = char_len(text.substr(pos));
            out.push_back(text.substr(pos, len));
            pos += len;
            continue;
        }
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md.get());
        const size_t start = ov[0], end = ov[1];
        if (start > pos) out.push_back(text.substr(pos, start - pos));  // unmatched stretch
        if (end <= start) {
            // An empty match cannot happen with this pattern (every branch needs a character);
            // guard anyway so the loop always advances.
            const size_t len = char_len(text.substr(start));
            out.push_back(text.substr(start, len));
            pos = start + len;
            continue;
        }
        out.push_back(text.substr(start, end - start));
        pos = end;
    }
}

}  // namespace bitnet::tokenizer_detail
