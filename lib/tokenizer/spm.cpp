// SentencePiece BPE tokenizer (`tokenizer.ggml.model` = "llama": LLaMA 1/2, 1bitLLM).
//
// Encoding, as SentencePiece's bpe_model.cc and llama.cpp's SPM tokenizer do: spaces become
// U+2581 ("▁") and a "▁" is put in front (the dummy prefix, tokenizer.ggml.add_space_prefix);
// the text is cut into UTF-8 characters (user-defined pieces stay whole); then the adjacent pair
// whose concatenation is the piece with the highest score is merged, repeatedly (ties: leftmost);
// a result that is not a piece falls back to its bytes' `<0xXX>` tokens.
// Decoding: "▁" -> space, `<0xXX>` -> that byte, and Decode-style removal of the dummy prefix.
// Differences from SentencePieceProcessor, both on invalid UTF-8 only: an invalid byte is its own
// symbol and becomes its byte token (SentencePiece's normalizer first replaces it by U+FFFD), and
// decoding gives back such bytes unchanged (SentencePiece again writes U+FFFD).
// Reference: ternary-formats.md section 4.4; Kudo & Richardson 2018 (SentencePiece).
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <queue>
#include <string>
#include <unordered_map>
#include <utility>

#include "common/error.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_internal.h"

namespace bitnet::tokenizer_detail {
namespace {

constexpr std::string_view kSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's space symbol
// What SentencePieceProcessor::Decode writes for <unk> (its default unk_surface, " ⁇ ").
constexpr std::string_view kUnkSurface = " \xE2\x81\x87 ";

bool type_is(int32_t t, TokenType want) { return t == static_cast<int32_t>(want); }

// "<0xXX>" (upper- or lower-case hex) -> the byte, else -1.
int parse_byte_piece(std::string_view s) {
    if (s.size() != 6 || !s.starts_with("<0x") || s[5] != '>') return -1;
    int v = 0;
    for (char c : s.substr(3, 2)) {
        const int d = c >= '0' && c <= '9'   ? c - '0'
                      : c >= 'A' && c <= 'F' ? c - 'A' + 10
                      : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                             : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

class SpmTokenizer final : public Tokenizer {
public:
    explicit SpmTokenizer(TokenizerData data);
    SpmTokenizer(const SpmTokenizer &) = delete;  // index_ points into tokens_
    SpmTokenizer &operator=(const SpmTokenizer &) = delete;

    int32_t n_vocab() const override { return static_cast<int32_t>(tokens_.size()); }
    int32_t bos() const override { return bos_; }
    int32_t eos() const override { return eos_; }
    int32_t eot() const override { return eot_; }
    bool add_bos() const override { return add_bos_; }
    bool is_eog(int32_t id) const override { return id >= 0 && (id == eos_ || id == eot_); }
    bool is_control(int32_t id) const override {
        return id >= 0 && id < n_vocab() &&
               (type_is(types_[id], TokenType::CONTROL) ||
                type_is(types_[id], TokenType::USER_DEFINED));
    }
    std::vector<int32_t> tokenize(std::string_view text, bool add_bos,
                                  bool parse_special) const override;
    void append_piece(int32_t id, bool render_special, std::string &out) const override;
    void detokenize(const int32_t *ids, size_t n, bool render_special,
                    std::string &out) const override;
    const std::string &token_text(int32_t id) const override {
        static const std::string empty;
        return id >= 0 && id < n_vocab() ? tokens_[id] : empty;
    }
    int32_t find_token(std::string_view text) const override { return index_.find(text); }
    const char *pre_tokenizer() const override { return "spm"; }

private:
    struct Symbol {
        int32_t start, len;  // bytes of the normalized text; len 0 = merged into the left
        int32_t prev, next;  // live neighbours, -1 at the ends
        bool frozen;         // a user-defined piece: never merged
    };
    struct Bigram {
        float score;
        int32_t left, right, len;  // len: left.len + right.len when queued (staleness check)
    };
    struct BigramBefore {  // priority_queue is a max-heap: highest score, then leftmost, on top
        bool operator()(const Bigram &a, const Bigram &b) const {
            return a.score != b.score ? a.score < b.score : a.left > b.left;
        }
    };
    using RevMerge = std::unordered_map<std::string_view, std::pair<std::string_view, std::string_view>>;

    void validate(const TokenizerData &data);
    void index_pieces();
    bool mergeable(int32_t id) const;
    // Id of the piece of `list` (longest first) that starts at text[pos], or -1.
    int32_t match_at(const std::array<std::vector<int32_t>, 256> &lists, std::string_view text,
                     size_t pos) const;
    void encode_fragment(std::string_view raw, bool prefix, std::vector<int32_t> &out) const;
    void split_symbols(std::string_view norm, std::vector<Symbol> &symbols) const;
    void try_bigram(std::string_view norm, const std::vector<Symbol> &symbols, int32_t left,
                    std::priority_queue<Bigram, std::vector<Bigram>, BigramBefore> &agenda,
                    RevMerge &rev) const;
    void resegment(std::string_view piece, const RevMerge &rev, std::vector<int32_t> &out) const;

    std::vector<std::string> tokens_;
    std::vector<float> scores_;
    std::vector<int32_t> types_;
    TokenIndex index_;
    std::array<int32_t, 256> byte_token_{};  // the <0xXX> token of each byte, -1 if none
    // By first byte, longest first: user-defined pieces (always whole), control and unknown
    // tokens (only with parse_special).
    std::array<std::vector<int32_t>, 256> user_by_byte_, special_by_byte_;
    bool has_special_ = false;
    int32_t bos_ = -1, eos_ = -1, eot_ = -1, unk_ = -1;
    bool add_bos_ = true, add_space_prefix_ = true;
};

SpmTokenizer::SpmTokenizer(TokenizerData data)
    : tokens_(std::move(data.tokens)),
      scores_(std::move(data.scores)),
      types_(std::move(data.token_types)) {
    validate(data);
    index_pieces();
    bos_ = data.bos;
    eos_ = data.eos;
    eot_ = data.eot;
    unk_ = data.unk;
    // LLaMA's SentencePiece models add BOS and the dummy prefix (llama.cpp's defaults for SPM).
    add_bos_ = data.add_bos.value_or(true) && bos_ >= 0;
    add_space_prefix_ = data.add_space_prefix.value_or(true);
}

void SpmTokenizer::validate(const TokenizerData &data) {
    if (tokens_.empty()) fail(BITNET_ERR_BAD_FORMAT, "tokenizer.ggml.tokens: empty vocabulary");
    if (tokens_.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max()))
        fail(BITNET_ERR_BAD_FORMAT, "tokenizer.ggml.tokens: too many tokens");
    const size_t n = tokens_.size();
    auto count = [&](const char *key, size_t got) {
        if (got != n)
            fail(BITNET_ERR_BAD_FORMAT, std::string(key) + ": " + std::to_string(got) +
                                            " entries for " + std::to_string(n) + " tokens");
    };
    if (types_.empty()) types_.assign(n, static_cast<int32_t>(TokenType::NORMAL));
    count("tokenizer.ggml.token_type", types_.size());
    count("tokenizer.ggml.scores", scores_.size());
    for (size_t i = 0; i < n; ++i) {
        const std::string at = " (token " + std::to_string(i) + ")";
        if (!std::isfinite(scores_[i]))
            fail(BITNET_ERR_BAD_FORMAT, "tokenizer.ggml.scores: score is not finite" + at);
        if (types_[i] < 0 || types_[i] > static_cast<int32_t>(TokenType::BYTE))
            fail(BITNET_ERR_BAD_FORMAT, "tokenizer.ggml.token_type: unknown type " +
                                            std::to_string(types_[i]) + at);
        if (tokens_[i].empty())
            fail(BITNET_ERR_BAD_FORMAT, "tokenizer.ggml.tokens: empty piece" + at);
        if (type_is(types_[i], TokenType::BYTE) && parse_byte_piece(tokens_[i]) < 0)
            fail(BITNET_ERR_BAD_FORMAT, "tokenizer.ggml.tokens: byte token '" + tokens_[i] +
                                            "' is not of the form <0xXX>" + at);
    }
    const std::pair<const char *, int32_t> ids[] = {{"tokenizer.ggml.bos_token_id", data.bos},
                                                    {"tokenizer.ggml.eos_token_id", data.eos},
                                                    {"tokenizer.ggml.eot_token_id", data.eot},
                                                    {"tokenizer.ggml.unknown_token_id", data.unk}};
    for (const auto &[key, id] : ids) {
        if (id != -1 && (id < 0 || static_cast<size_t>(id) >= n))
            fail(BITNET_ERR_BAD_FORMAT, std::string(key) + ": token id " + std::to_string(id) +
                                            " out of range (vocabulary of " + std::to_string(n) +
                                            ")");
    }
}

void SpmTokenizer::index_pieces() {
    index_.build(tokens_);
    byte_token_.fill(-1);
    for (size_t i = 0; i < tokens_.size(); ++i) {
        const auto id = static_cast<int32_t>(i);
        const auto first = static_cast<unsigned char>(tokens_[i][0]);
        switch (static_cast<TokenType>(types_[i])) {
        case TokenType::BYTE: {
            const int b = parse_byte_piece(tokens_[i]);
            if (byte_token_[b] < 0) byte_token_[b] = id;
            break;
        }
        case TokenType::USER_DEFINED: user_by_byte_[first].push_back(id); break;
        case TokenType::CONTROL:
        case TokenType::UNKNOWN:
            special_by_byte_[first].push_back(id);
            has_special_ = true;
            break;
        default: break;
        }
    }
    auto longest_first = [&](int32_t a, int32_t b) { return tokens_[a].size() > tokens_[b].size(); };
    for (auto &l : user_by_byte_) std::stable_sort(l.begin(), l.end(), longest_first);
    for (auto &l : special_by_byte_) std::stable_sort(l.begin(), l.end(), longest_first);
}

// SentencePiece merges into NORMAL, USER_DEFINED and UNUSED pieces only (its `pieces_` map);
// control, unknown and byte pieces are reserved.
bool SpmTokenizer::mergeable(int32_t id) const {
    const auto t = static_cast<TokenType>(types_[id]);
    return t == TokenType::NORMAL || t == TokenType::USER_DEFINED || t == TokenType::UNUSED ||
           t == TokenType::UNDEFINED;
}

int32_t SpmTokenizer::match_at(const std::array<std::vector<int32_t>, 256> &lists,
                               std::string_view text, size_t pos) const {
    for (int32_t id : lists[static_cast<unsigned char>(text[pos])])
        if (text.substr(pos).starts_with(tokens_[id])) return id;
    return -1;
}

// ---- encoding -----------------------------------------------------------------------------------

std::vector<int32_t> SpmTokenizer::tokenize(std::string_view text, bool add_bos,
                                            bool parse_special) const {
    std::vector<int32_t> out;
    out.reserve(text.size() / 3 + 2);
    if (add_bos && add_bos_) out.push_back(bos_);
    if (!parse_special || !has_special_) {
        if (!text.empty()) encode_fragment(text, add_space_prefix_, out);
        return out;
    }
    // Special-token texts become their ids. As in llama.cpp, the text after a special token gets
    // the dummy prefix again (the text was split there, each part encoded like a new sentence).
    bool prefix = add_space_prefix_;
    size_t plain = 0;
    for (size_t pos = 0; pos < text.size();) {
        const int32_t id = match_at(special_by_byte_, text, pos);
        if (id < 0) {
            ++pos;
            continue;
        }
        if (pos > plain) encode_fragment(text.substr(plain, pos - plain), prefix, out);
        out.push_back(id);
        prefix = add_space_prefix_;
        pos += tokens_[id].size();
        plain = pos;
    }
    if (plain < text.size()) encode_fragment(text.substr(plain), prefix, out);
    return out;
}

// Normalized text ("▁" for spaces, dummy prefix) -> BPE by score -> ids.
void SpmTokenizer::encode_fragment(std::string_view raw, bool prefix,
                                   std::vector<int32_t> &out) const {
    // Symbols index bytes with int32; only a pathological input (hundreds of MiB without a
    // special token) is longer. Cutting it keeps every byte.
    constexpr size_t kMaxFragment = size_t{1} << 26;
    if (raw.size() > kMaxFragment) {
        for (size_t i = 0; i < raw.size(); i += kMaxFragment)
            encode_fragment(raw.substr(i, kMaxFragment), prefix && i == 0, out);
        return;
    }
    std::string norm;
    norm.reserve(raw.size() + raw.size() / 4 + kSpace.size());
    if (prefix) norm += kSpace;
    for (char c : raw) {
        if (c == ' ')
            norm += kSpace;
        else
            norm += c;
    }
    std::vector<Symbol> symbols;
    split_symbols(norm, symbols);

    std::priority_queue<Bigram, std::vector<Bigram>, BigramBefore> agenda;
    RevMerge rev;
    for (size_t i = 1; i < symbols.size(); ++i)
        try_bigram(norm, symbols, static_cast<int32_t>(i - 1), agenda, rev);
    while (!agenda.empty()) {
        const Bigram b = agenda.top();
        agenda.pop();
        Symbol &l = symbols[b.left], &r = symbols[b.right];
        // Stale: a side was merged since. Symbols only grow, so equal lengths mean unchanged.
        if (l.len == 0 || r.len == 0 || l.len + r.len != b.len) continue;
        l.len += r.len;
        r.len = 0;
        l.next = r.next;
        if (r.next >= 0) symbols[r.next].prev = b.left;
        if (l.prev >= 0) try_bigram(norm, symbols, l.prev, agenda, rev);
        try_bigram(norm, symbols, b.left, agenda, rev);
    }
    for (int32_t i = symbols.empty() ? -1 : 0; i >= 0; i = symbols[i].next)
        resegment(std::string_view(norm).substr(symbols[i].start, symbols[i].len), rev, out);
}

// UTF-8 characters, each a symbol; a user-defined piece is one frozen symbol; an invalid byte is
// a symbol of its own.
void SpmTokenizer::split_symbols(std::string_view norm, std::vector<Symbol> &symbols) const {
    for (size_t pos = 0; pos < norm.size();) {
        const int32_t user = match_at(user_by_byte_, norm, pos);
        size_t len;
        if (user >= 0) {
            len = tokens_[user].size();
        } else {
            uint32_t cp;
            len = decode_utf8(norm.substr(pos), cp);
        }
        const auto k = static_cast<int32_t>(symbols.size());
        symbols.push_back({static_cast<int32_t>(pos), static_cast<int32_t>(len), k - 1, -1,
                           user >= 0});
        if (k > 0) symbols[k - 1].next = k;
        pos += len;
    }
}

void SpmTokenizer::try_bigram(
    std::string_view norm, const std::vector<Symbol> &symbols, int32_t left,
    std::priority_queue<Bigram, std::vector<Bigram>, BigramBefore> &agenda, RevMerge &rev) const {
    const int32_t right = symbols[left].next;
    if (right < 0) return;
    const Symbol &l = symbols[left], &r = symbols[right];
    if (l.frozen || r.frozen) return;
    const std::string_view text = norm.substr(l.start, l.len + r.len);
    const int32_t id = index_.find(text);
    if (id < 0 || !mergeable(id)) return;
    agenda.push({scores_[id], left, right, l.len + r.len});
    // An UNUSED piece may be built but is not emitted: remember its parts to split it again.
    if (type_is(types_[id], TokenType::UNUSED))
        rev[text] = {norm.substr(l.start, l.len), norm.substr(r.start, r.len)};
}

void SpmTokenizer::resegment(std::string_view piece, const RevMerge &rev,
                             std::vector<int32_t> &out) const {
    const int32_t id = index_.find(piece);
    if (id >= 0 && type_is(types_[id], TokenType::UNUSED)) {
        if (auto it = rev.find(piece); it != rev.end()) {
            resegment(it->second.first, rev, out);
            resegment(it->second.second, rev, out);
            return;
        }
    }
    if (id >= 0) {
        out.push_back(id);
        return;
    }
    // Byte fallback. A vocabulary lacking a byte token gives one <unk> for the piece instead (as
    // SentencePiece without byte_fallback), or nothing when it has no <unk> either.
    const bool all_bytes = std::all_of(piece.begin(), piece.end(), [&](char c) {
        return byte_token_[static_cast<unsigned char>(c)] >= 0;
    });
    if (!all_bytes) {
        if (unk_ >= 0) out.push_back(unk_);
        return;
    }
    for (char c : piece) out.push_back(byte_token_[static_cast<unsigned char>(c)]);
}

// ---- decoding -----------------------------------------------------------------------------------

void SpmTokenizer::append_piece(int32_t id, bool render_special, std::string &out) const {
    if (id < 0 || id >= n_vocab()) return;
    const std::string &text = tokens_[id];
    switch (static_cast<TokenType>(types_[id])) {
    case TokenType::CONTROL:
        if (render_special) out += text;
        return;
    case TokenType::UNKNOWN:
        out += render_special ? std::string_view(text) : kUnkSurface;
        return;
    case TokenType::BYTE:
        out += static_cast<char>(parse_byte_piece(text));
        return;
    default:
        break;
    }
    for (size_t pos = 0; pos < text.size();) {
        if (text.compare(pos, kSpace.size(), kSpace) == 0) {
            out += ' ';
            pos += kSpace.size();
        } else {
            out += text[pos++];
        }
    }
}

// SentencePieceProcessor::Decode: the dummy prefix is the leading "▁" of the first piece that
// writes text; it is dropped once, and only while nothing has been written (control tokens such
// as BOS write nothing, so the piece after them still counts as first). llama.cpp's detokenizer
// strips it too, except after a BOS.
void SpmTokenizer::detokenize(const int32_t *ids, size_t n, bool render_special,
                              std::string &out) const {
    const size_t start = out.size();
    bool expect_prefix = add_space_prefix_;
    for (size_t i = 0; i < n; ++i) {
        const int32_t id = ids[i];
        if (id < 0 || id >= n_vocab()) continue;
        const auto type = static_cast<TokenType>(types_[id]);
        const bool text_piece =
            type != TokenType::CONTROL && type != TokenType::UNKNOWN && type != TokenType::BYTE;
        if (expect_prefix && text_piece && out.size() == start) {
            expect_prefix = false;
            if (tokens_[id].starts_with(kSpace)) {
                append_piece(id, render_special, out);
                out.erase(start, 1);  // the space the leading "▁" became
                continue;
            }
        }
        append_piece(id, render_special, out);
    }
}

}  // namespace

std::unique_ptr<Tokenizer> make_spm_tokenizer(TokenizerData data) {
    return std::make_unique<SpmTokenizer>(std::move(data));
}

}  // namespace bitnet::tokenizer_detail
