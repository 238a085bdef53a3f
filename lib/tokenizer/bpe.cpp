// Byte-level BPE tokenizer (GPT-2 scheme) with the Llama 3 pre-tokenizer.
//
// Encoding: optional special-token split -> regex pre-tokenizer -> per piece, either the whole
// piece as one token (Llama 3's ignore_merges) or BPE over the piece's bytes, merging the
// lowest-rank adjacent pair first. Decoding maps each token's code points back to bytes.
// Reference: ../shared/docs/bitnet-reference.md section 6.
#include <algorithm>
#include <array>
#include <limits>
#include <string>
#include <utility>

#include "common/error.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_internal.h"

namespace bitnet {
namespace tokenizer_detail {
namespace {

bool is_special_type(int32_t type) {
    return type == static_cast<int32_t>(TokenType::CONTROL) ||
           type == static_cast<int32_t>(TokenType::USER_DEFINED);
}

// The Llama 3 vocabulary, recognised by size and two special tokens. The official 2B4T GGUF
// carries it without a tokenizer.ggml.pre key and must still be tokenized like Llama 3.
bool is_llama3_vocab(const std::vector<std::string> &tokens) {
    return tokens.size() == 128256 && tokens[128000] == "<|begin_of_text|>" &&
           tokens[128009] == "<|eot_id|>";
}

class BpeTokenizer final : public Tokenizer {
public:
    explicit BpeTokenizer(TokenizerData data);
    BpeTokenizer(const BpeTokenizer &) = delete;  // token_index_ points into tokens_
    BpeTokenizer &operator=(const BpeTokenizer &) = delete;

    int32_t n_vocab() const override { return static_cast<int32_t>(tokens_.size()); }
    int32_t bos() const override { return bos_; }
    int32_t eos() const override { return eos_; }
    int32_t eot() const override { return eot_; }
    bool add_bos() const override { return add_bos_; }
    bool is_eog(int32_t id) const override {
        return std::find(eog_.begin(), eog_.end(), id) != eog_.end();
    }
    bool is_control(int32_t id) const override {
        return id >= 0 && id < n_vocab() && is_special_type(types_[id]);
    }
    std::vector<int32_t> tokenize(std::string_view text, bool add_bos,
                                  bool parse_special) const override;
    void append_piece(int32_t id, bool render_special, std::string &out) const override;
    const std::string &token_text(int32_t id) const override {
        static const std::string empty;
        return id >= 0 && id < n_vocab() ? tokens_[id] : empty;
    }
    int32_t find_token(std::string_view text) const override;
    const char *pre_tokenizer() const override { return llama3_ ? "llama3" : "default"; }

private:
    // Per-call working memory, reused across the pieces of one tokenize() call.
    struct Scratch {
        struct Symbol {
            int32_t id;    // token id; -1 = byte without a token; kDead = merged into the left
            int32_t prev;  // index of the neighbouring live symbols, -1 at the ends
            int32_t next;
        };
        struct Candidate {  // a mergeable adjacent pair, as it was when queued
            int32_t rank, left, right, left_id, right_id, result;
        };
        std::vector<std::string_view> pieces;
        std::vector<Symbol> symbols;
        std::vector<Candidate> heap;
        std::string mapped;
    };
    // Heap order (std heaps are max-heaps, so "after" means lower priority): lowest rank first,
    // then leftmost, as in llama.cpp and tiktoken.
    struct CandidateAfter {
        bool operator()(const Scratch::Candidate &a, const Scratch::Candidate &b) const {
            return a.rank != b.rank ? a.rank > b.rank : a.left > b.left;
        }
    };
    static constexpr int32_t kDead = -2;

    void validate_and_select(const TokenizerData &data);
    void index_tokens();
    void build_merges(const std::vector<std::string> &merges);
    void collect_specials();
    int32_t find_special(std::string_view text) const;

    // Id of the special token that starts at text[pos] (longest first), or -1.
    int32_t match_special(std::string_view text, size_t pos) const;
    void encode_text(std::string_view text, std::vector<int32_t> &out, Scratch &s) const;
    void encode_piece(std::string_view piece, std::vector<int32_t> &out, Scratch &s) const;
    void bpe_merge(std::string_view piece, std::vector<int32_t> &out, Scratch &s) const;
    void push_candidate(Scratch &s, int32_t left, int32_t right) const;

    std::vector<std::string> tokens_;
    std::vector<int32_t> types_;
    TokenIndex token_index_;  // text -> id, pointing into tokens_
    MergeTable merges_;
    std::array<int32_t, 256> byte_token_{};  // token of each single byte, -1 if none
    // Control/user-defined tokens by their first byte, longest text first (parse_special).
    std::array<std::vector<int32_t>, 256> specials_by_byte_;
    std::vector<int32_t> specials_;  // all of them, in id order
    std::vector<int32_t> eog_;
    int32_t bos_ = -1, eos_ = -1, eot_ = -1;
    bool add_bos_ = false;
    bool llama3_ = false;  // Llama 3 rules: ignore_merges and BOS by default
    PreTokenizer pre_;
};

BpeTokenizer::BpeTokenizer(TokenizerData data)
    : tokens_(std::move(data.tokens)), types_(std::move(data.token_types)) {
    validate_and_select(data);
    index_tokens();
    build_merges(data.merges);
    collect_specials();

    bos_ = data.bos;
    eos_ = data.eos;
    // Without the key, the end-of-turn token is found by its Llama 3 name.
    eot_ = data.eot >= 0 ? data.eot : find_special("<|eot_id|>");
    add_bos_ = data.add_bos.value_or(llama3_) && bos_ >= 0;

    // End of generation: eos, eot and the Llama 3 end markers wherever they are. 128008 is
    // <|eom_id|> only in the Llama 3.1 vocabulary, so that one is looked up by text too.
    for (int32_t id : {eos_, eot_, find_special("<|eot_id|>"), find_special("<|end_of_text|>"),
                       find_special("<|eom_id|>")}) {
        if (id >= 0 && !is_eog(id)) eog_.push_back(id);
    }
}

void BpeTokenizer::validate_and_select(const TokenizerData &data) {
    if (data.model != "gpt2")
        fail(BITNET_ERR_UNSUPPORTED,
             "tokenizer.ggml.model: unsupported tokenizer model '" + data.model +
                 "' (supported: 'gpt2', byte-level BPE, and 'llama', SentencePiece)");
    if (tokens_.empty()) fail(BITNET_ERR_BAD_FORMAT, "tokenizer.ggml.tokens: empty vocabulary");
    if (tokens_.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max()))
        fail(BITNET_ERR_BAD_FORMAT, "tokenizer.ggml.tokens: too many tokens");
    const size_t n = tokens_.size();
    if (types_.empty()) {
        types_.assign(n, static_cast<int32_t>(TokenType::NORMAL));
    } else if (types_.size() != n) {
        fail(BITNET_ERR_BAD_FORMAT, "tokenizer.ggml.token_type: " + std::to_string(types_.size()) +
                                        " entries for " + std::to_string(n) + " tokens");
    }
    const std::pair<const char *, int32_t> ids[] = {{"tokenizer.ggml.bos_token_id", data.bos},
                                                    {"tokenizer.ggml.eos_token_id", data.eos},
                                                    {"tokenizer.ggml.eot_token_id", data.eot}};
    for (const auto &[key, id] : ids) {
        if (id != -1 && (id < 0 || static_cast<size_t>(id) >= n))
            fail(BITNET_ERR_BAD_FORMAT, std::string(key) + ": token id " + std::to_string(id) +
                                            " out of range (vocabulary of " + std::to_string(n) +
                                            ")");
    }

    // Pre-tokenizer. All supported choices use the Llama 3 regex; they differ in BPE rules.
    const std::string pre = data.pre.value_or("default");
    // Falcon3 / Falcon-E / Falcon-H1 vocabularies use the Llama 3 regex and merge rules as well
    // (llama.cpp maps these names to its LLAMA3 pre-tokenizer with ignore_merges).
    if (pre == "llama-bpe" || pre == "llama3" || pre == "llama-v3" || pre == "falcon3" ||
        pre == "falcon_e" || pre == "falcon-e" || pre == "falcon-h1") {
        llama3_ = true;
    } else if (pre == "default") {
        // No (or the generic) pre-tokenizer name. The official BitNet 2B4T file is in this case
        // with the Llama 3 vocabulary, which was trained with the Llama 3 rules, so use them.
        // Other vocabularies get the same regex (the closest modern default) with plain GPT-2
        // BPE semantics.
        llama3_ = is_llama3_vocab(tokens_);
    } else {
        fail(BITNET_ERR_UNSUPPORTED, "tokenizer.ggml.pre: unsupported pre-tokenizer '" + pre + "'");
    }
}

void BpeTokenizer::index_tokens() {
    token_index_.build(tokens_);

    // Every byte's code point is a token in GPT-2 vocabularies; these are the BPE start symbols.
    std::string ch;
    for (int b = 0; b < 256; ++b) {
        const char byte = static_cast<char>(b);
        ch.clear();
        append_byte_encoded(std::string_view(&byte, 1), ch);
        byte_token_[b] = token_index_.find(ch);
    }
}

void BpeTokenizer::build_merges(const std::vector<std::string> &merges) {
    if (merges.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max()))
        fail(BITNET_ERR_BAD_FORMAT, "tokenizer.ggml.merges: too many merges");
    merges_.reserve(merges.size());
    std::string joined;
    for (size_t rank = 0; rank < merges.size(); ++rank) {
        const std::string_view m = merges[rank];
        // "left right"; the separator is the first space after position 0.
        const size_t sep = m.size() > 1 ? m.find(' ', 1) : std::string_view::npos;
        if (sep == std::string_view::npos)
            fail(BITNET_ERR_BAD_FORMAT, "tokenizer.ggml.merges: entry " + std::to_string(rank) +
                                            " ('" + std::string(m) + "') has no space");
        const std::string_view left = m.substr(0, sep), right = m.substr(sep + 1);
        const int32_t l = token_index_.find(left), r = token_index_.find(right);
        joined.assign(left).append(right);
        const int32_t result = token_index_.find(joined);
        // A merge whose parts or result are not tokens can never take part in id-level BPE.
        if (l < 0 || r < 0 || result < 0) continue;
        // insert() keeps the first (lowest) rank of a duplicated merge.
        merges_.insert(l, r, {static_cast<int32_t>(rank), result});
    }
}

void BpeTokenizer::collect_specials() {
    for (size_t i = 0; i < tokens_.size(); ++i) {
        if (!is_special_type(types_[i]) || tokens_[i].empty()) continue;
        specials_.push_back(static_cast<int32_t>(i));
        specials_by_byte_[static_cast<unsigned char>(tokens_[i][0])].push_back(
            static_cast<int32_t>(i));
    }
    for (auto &list : specials_by_byte_) {
        std::stable_sort(list.begin(), list.end(), [&](int32_t a, int32_t b) {
            return tokens_[a].size() > tokens_[b].size();
        });
    }
}

int32_t BpeTokenizer::find_special(std::string_view text) const {
    for (int32_t id : specials_)
        if (tokens_[id] == text) return id;
    return -1;
}

int32_t BpeTokenizer::find_token(std::string_view text) const {
    const int32_t special = find_special(text);
    if (special >= 0) return special;
    return token_index_.find(text);
}

// ---- encoding -----------------------------------------------------------------------------------

std::vector<int32_t> BpeTokenizer::tokenize(std::string_view text, bool add_bos,
                                            bool parse_special) const {
    std::vector<int32_t> out;
    out.reserve(text.size() / 3 + 2);
    if (add_bos && add_bos_) out.push_back(bos_);
    Scratch scratch;
    if (!parse_special || specials_.empty()) {
        encode_text(text, out, scratch);
        return out;
    }
    // Special-token texts become their ids; the text between them is encoded normally.
    size_t plain_start = 0;
    for (size_t pos = 0; pos < text.size();) {
        const int32_t id = match_special(text, pos);
        if (id < 0) {
            ++pos;
            continue;
        }
        encode_text(text.substr(plain_start, pos - plain_start), out, scratch);
        out.push_back(id);
        pos += tokens_[id].size();
        plain_start = pos;
    }
    encode_text(text.substr(plain_start), out, scratch);
    return out;
}

int32_t BpeTokenizer::match_special(std::string_view text, size_t pos) const {
    for (int32_t id : specials_by_byte_[static_cast<unsigned char>(text[pos])]) {
        if (text.substr(pos).starts_with(tokens_[id])) return id;  // lists are longest first
    }
    return -1;
}

void BpeTokenizer::encode_text(std::string_view text, std::vector<int32_t> &out,
                               Scratch &s) const {
    s.pieces.clear();
    pre_.split(text, s.pieces);
    for (std::string_view piece : s.pieces) encode_piece(piece, out, s);
}

void BpeTokenizer::encode_piece(std::string_view piece, std::vector<int32_t> &out,
                                Scratch &s) const {
    // The BPE state indexes bytes with int32. Only a pathological input (e.g. hundreds of MiB of
    // letters without a break) has longer pieces; cutting them keeps every byte.
    constexpr size_t kMaxPiece = size_t{1} << 26;
    if (piece.size() > kMaxPiece) {
        for (size_t i = 0; i < piece.size(); i += kMaxPiece)
            encode_piece(piece.substr(i, kMaxPiece), out, s);
        return;
    }
    if (piece.size() == 1) {
        const int32_t id = byte_token_[static_cast<unsigned char>(piece[0])];
        if (id >= 0) out.push_back(id);
        return;
    }
    if (llama3_) {
        // ignore_merges (Llama 3 / tiktoken): a piece that is itself a token is emitted as is,
        // even where the merge order would not build it. Special tokens are excluded so their
        // text stays plain text when not parsing specials.
        s.mapped.clear();
        append_byte_encoded(piece, s.mapped);
        const int32_t id = token_index_.find(s.mapped);
        if (id >= 0 && !is_special_type(types_[id])) {
            out.push_back(id);
            return;
        }
    }
    bpe_merge(piece, out, s);
}

void BpeTokenizer::push_candidate(Scratch &s, int32_t left, int32_t right) const {
    if (left < 0 || right < 0) return;
    const int32_t lid = s.symbols[left].id, rid = s.symbols[right].id;
    if (lid < 0 || rid < 0) return;
    const MergeTable::Merge *m = merges_.find(lid, rid);
    if (!m) return;
    s.heap.push_back({m->rank, left, right, lid, rid, m->result});
    std::push_heap(s.heap.begin(), s.heap.end(), CandidateAfter{});
}

// BPE over the bytes of `piece` with a linked list of symbols and a heap of mergeable pairs:
// O(n log n) even for very long pieces (a megabyte of letters is a single piece).
void BpeTokenizer::bpe_merge(std::string_view piece, std::vector<int32_t> &out,
                             Scratch &s) const {
    const int32_t n = static_cast<int32_t>(piece.size());
    s.symbols.resize(n);
    s.heap.clear();
    for (int32_t i = 0; i < n; ++i)
        s.symbols[i] = {byte_token_[static_cast<unsigned char>(piece[i])], i - 1,
                        i + 1 < n ? i + 1 : -1};
    for (int32_t i = 0; i + 1 < n; ++i) push_candidate(s, i, i + 1);

    while (!s.heap.empty()) {
        std::pop_heap(s.heap.begin(), s.heap.end(), CandidateAfter{});
        const Scratch::Candidate c = s.heap.back();
        s.heap.pop_back();
        auto &left = s.symbols[c.left], &right = s.symbols[c.right];
        // Stale entry: one side has been merged since it was queued. A symbol only grows, so an
        // unchanged id means an unchanged symbol.
        if (left.id != c.left_id || right.id != c.right_id || left.next != c.right) continue;
        left.id = c.result;
        left.next = right.next;
        if (right.next >= 0) s.symbols[right.next].prev = c.left;
        right.id = kDead;
        push_candidate(s, left.prev, c.left);
        push_candidate(s, c.left, left.next);
    }
    for (int32_t i = 0; i >= 0; i = s.symbols[i].next) {
        // -1: a byte with no token (only in a vocabulary lacking byte tokens); nothing to emit.
        if (s.symbols[i].id >= 0) out.push_back(s.symbols[i].id);
    }
}

// ---- decoding -----------------------------------------------------------------------------------

void BpeTokenizer::append_piece(int32_t id, bool render_special, std::string &out) const {
    if (id < 0 || id >= n_vocab()) return;
    const std::string &text = tokens_[id];
    switch (static_cast<TokenType>(types_[id])) {
    case TokenType::CONTROL:
        if (render_special) out += text;
        return;
    case TokenType::USER_DEFINED:  // user text, stored verbatim (not byte-encoded)
        out += text;
        return;
    default:
        break;
    }
    // Byte-level decoding: each code point of the token spells one byte.
    std::string_view rest = text;
    while (!rest.empty()) {
        uint32_t cp;
        const size_t len = decode_utf8(rest, cp);
        const int byte = cp == UINT32_MAX ? -1 : byte_from_codepoint(cp);
        if (byte >= 0)
            out += static_cast<char>(byte);
        else
            out.append(rest.substr(0, len));  // not a byte code point: keep the text as is
        rest.remove_prefix(len);
    }
}

}  // namespace
}  // namespace tokenizer_detail

std::unique_ptr<Tokenizer> Tokenizer::from_data(TokenizerData data) {
    if (data.model == "llama") return tokenizer_detail::make_spm_tokenizer(std::move(data));
    return std::make_unique<tokenizer_detail::BpeTokenizer>(std::move(data));
}

}  // namespace bitnet
