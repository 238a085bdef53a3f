// Tokenizer tests: a small synthetic vocabulary for the BPE rules and errors, then the real
// Llama 3 vocabulary (llama3-vocab.gguf) against llama.cpp's 46 test vectors, the reference
// prompts and round trips.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "fixtures.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_internal.h"

namespace bitnet {
namespace {

using Ids = std::vector<int32_t>;

// ---- helpers ------------------------------------------------------------------------------------

std::string read_file(const std::string &path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error("cannot open " + path);
    std::ostringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// GPT-2 byte -> code point, written out independently of the library's table.
std::string gpt2_char(unsigned char b) {
    uint32_t cp = b;
    if (!((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174))) {
        uint32_t n = 0;
        for (unsigned x = 0; x < b; ++x)
            if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174))) ++n;
        cp = 256 + n;
    }
    std::string s;
    tokenizer_detail::append_utf8(cp, s);
    return s;
}

std::string decode(const Tokenizer &tok, const Ids &ids, bool render_special = true) {
    std::string out;
    for (int32_t id : ids) tok.append_piece(id, render_special, out);
    return out;
}

std::string ids_str(const Ids &ids) {
    std::string s;
    for (int32_t id : ids) s += (s.empty() ? "" : " ") + std::to_string(id);
    return s;
}

template <typename F>
bitnet_status status_of(F &&f) {
    try {
        f();
    } catch (const Error &e) {
        return e.status();
    }
    return BITNET_OK;
}

// ---- a synthetic vocabulary ---------------------------------------------------------------------
// 256 byte tokens (ids 0..255 = bytes in order), then a few merged tokens and specials.
enum SynthId : int32_t {
    kAB = 256, kBC, kABC, kXYZ, kAA, kEnd, kE, kUser, kBos, kZZ, kSynthVocab
};

TokenizerData synthetic(std::optional<std::string> pre = std::nullopt) {
    TokenizerData d;
    d.pre = std::move(pre);
    for (int b = 0; b < 256; ++b) d.tokens.push_back(gpt2_char(static_cast<unsigned char>(b)));
    d.tokens.insert(d.tokens.end(), {"ab", "bc", "abc", "xyz", "aa", "<|end|>", "<|e", "<user>", "<s>", "zz"});
    d.token_types.assign(d.tokens.size(), 1);
    d.token_types[kEnd] = 3;
    d.token_types[kE] = 3;
    d.token_types[kUser] = 4;
    d.token_types[kBos] = 3;
    d.token_types[kZZ] = 3;  // a control token whose text is a single pre-token
    // "xyz" is a token that no merge builds: only ignore_merges produces it.
    d.merges = {"b c", "a b", "a bc", "a a"};
    d.bos = kBos;
    d.eos = kEnd;
    return d;
}

TEST(TokenizerSynthetic, MergesLowestRankFirst) {
    auto tok = Tokenizer::from_data(synthetic());
    EXPECT_STREQ(tok->pre_tokenizer(), "default");
    EXPECT_EQ(tok->n_vocab(), kSynthVocab);
    // (b,c) has rank 0, then (a,bc) rank 2 -> abc.
    EXPECT_EQ(tok->tokenize("abc", false, false), (Ids{kABC}));
    EXPECT_EQ(tok->tokenize("abab", false, false), (Ids{kAB, kAB}));
    // Equal ranks: leftmost first.
    EXPECT_EQ(tok->tokenize("aaa", false, false), (Ids{kAA, 'a'}));
    EXPECT_EQ(tok->tokenize("aaaa", false, false), (Ids{kAA, kAA}));
    // Default (plain GPT-2 BPE) cannot reach "xyz".
    EXPECT_EQ(tok->tokenize("xyz", false, false), (Ids{'x', 'y', 'z'}));
    EXPECT_EQ(tok->tokenize("", false, false), Ids{});
}

TEST(TokenizerSynthetic, IgnoreMergesWithLlamaBpe) {
    auto tok = Tokenizer::from_data(synthetic("llama-bpe"));
    EXPECT_STREQ(tok->pre_tokenizer(), "llama3");
    EXPECT_EQ(tok->tokenize("xyz", false, false), (Ids{kXYZ}));
    EXPECT_EQ(tok->tokenize("abc", false, false), (Ids{kABC}));
    // A whole piece equal to a special token's text is not the special token...
    EXPECT_EQ(tok->tokenize("zz", false, false), (Ids{'z', 'z'}));
    // ...unless specials are parsed.
    EXPECT_EQ(tok->tokenize("zz", false, true), (Ids{kZZ}));
}

TEST(TokenizerSynthetic, PreNamesAndBosDefaults) {
    for (const char *name : {"llama-bpe", "llama3", "llama-v3"}) {
        auto tok = Tokenizer::from_data(synthetic(name));
        EXPECT_TRUE(tok->add_bos()) << name;
        EXPECT_STREQ(tok->pre_tokenizer(), "llama3") << name;
    }
    EXPECT_FALSE(Tokenizer::from_data(synthetic())->add_bos());
    EXPECT_FALSE(Tokenizer::from_data(synthetic("default"))->add_bos());
    auto d = synthetic();
    d.add_bos = true;
    EXPECT_TRUE(Tokenizer::from_data(d)->add_bos());
    d = synthetic("llama-bpe");
    d.add_bos = false;
    EXPECT_FALSE(Tokenizer::from_data(d)->add_bos());
    d = synthetic("llama-bpe");
    d.bos = -1;  // no BOS token: nothing to add
    EXPECT_FALSE(Tokenizer::from_data(d)->add_bos());
}

TEST(TokenizerSynthetic, BosIsPrependedOnce) {
    auto tok = Tokenizer::from_data(synthetic("llama-bpe"));
    EXPECT_EQ(tok->tokenize("ab", true, false), (Ids{kBos, kAB}));
    EXPECT_EQ(tok->tokenize("ab", false, false), (Ids{kAB}));
    EXPECT_EQ(tok->tokenize("", true, false), (Ids{kBos}));
    // BOS text in the input is parsed (when asked), but no second automatic BOS is added.
    EXPECT_EQ(tok->tokenize("<s>ab", true, true), (Ids{kBos, kBos, kAB}));
}

TEST(TokenizerSynthetic, SpecialTokens) {
    auto tok = Tokenizer::from_data(synthetic());
    // Longest special first: <|end|> rather than <|e.
    EXPECT_EQ(tok->tokenize("ab<|end|>abc", false, true), (Ids{kAB, kEnd, kABC}));
    EXPECT_EQ(tok->tokenize("<|ex", false, true), (Ids{kE, 'x'}));
    EXPECT_EQ(tok->tokenize("<user><user>", false, true), (Ids{kUser, kUser}));
    // Not parsed: plain text.
    const Ids plain = tok->tokenize("<|end|>", false, false);
    EXPECT_GT(plain.size(), 1u);
    for (int32_t id : plain) EXPECT_FALSE(tok->is_control(id));
    EXPECT_EQ(decode(*tok, plain, false), "<|end|>");
    // Rendering: control only when asked, user-defined always.
    EXPECT_EQ(decode(*tok, {kEnd}, false), "");
    EXPECT_EQ(decode(*tok, {kEnd}, true), "<|end|>");
    EXPECT_EQ(decode(*tok, {kUser}, false), "<user>");
    EXPECT_TRUE(tok->is_control(kEnd));
    EXPECT_TRUE(tok->is_control(kUser));
    EXPECT_FALSE(tok->is_control(kAB));
    EXPECT_FALSE(tok->is_control(-1));
    EXPECT_FALSE(tok->is_control(kSynthVocab));
    EXPECT_EQ(tok->find_token("<|end|>"), kEnd);
    EXPECT_EQ(tok->find_token("abc"), kABC);
    EXPECT_EQ(tok->find_token("nope"), -1);
}

TEST(TokenizerSynthetic, EndOfGeneration) {
    auto d = synthetic();
    auto tok = Tokenizer::from_data(d);
    EXPECT_EQ(tok->eos(), kEnd);
    EXPECT_EQ(tok->eot(), -1);
    EXPECT_TRUE(tok->is_eog(kEnd));
    EXPECT_FALSE(tok->is_eog(kE));
    d.eot = kE;
    tok = Tokenizer::from_data(d);
    EXPECT_EQ(tok->eot(), kE);
    EXPECT_TRUE(tok->is_eog(kE));
}

TEST(TokenizerSynthetic, Errors) {
    auto d = synthetic();
    d.model = "bert";
    EXPECT_EQ(status_of([&] { Tokenizer::from_data(d); }), BITNET_ERR_UNSUPPORTED);
    d.model = "llama";  // SentencePiece, which needs one score per token
    EXPECT_EQ(status_of([&] { Tokenizer::from_data(d); }), BITNET_ERR_BAD_FORMAT);
    d = synthetic("qwen2");
    EXPECT_EQ(status_of([&] { Tokenizer::from_data(d); }), BITNET_ERR_UNSUPPORTED);
    for (int32_t bad : {int32_t{kSynthVocab}, int32_t{-5}}) {
        d = synthetic();
        d.bos = bad;
        EXPECT_EQ(status_of([&] { Tokenizer::from_data(d); }), BITNET_ERR_BAD_FORMAT);
        d = synthetic();
        d.eos = bad;
        EXPECT_EQ(status_of([&] { Tokenizer::from_data(d); }), BITNET_ERR_BAD_FORMAT);
        d = synthetic();
        d.eot = bad;
        EXPECT_EQ(status_of([&] { Tokenizer::from_data(d); }), BITNET_ERR_BAD_FORMAT);
    }
    d = synthetic();
    d.token_types.pop_back();
    EXPECT_EQ(status_of([&] { Tokenizer::from_data(d); }), BITNET_ERR_BAD_FORMAT);
    d = synthetic();
    d.merges.push_back("nospace");
    EXPECT_EQ(status_of([&] { Tokenizer::from_data(d); }), BITNET_ERR_BAD_FORMAT);
    d = synthetic();
    d.tokens.clear();
    d.token_types.clear();
    d.bos = d.eos = -1;
    EXPECT_EQ(status_of([&] { Tokenizer::from_data(d); }), BITNET_ERR_BAD_FORMAT);
    // The message names the key.
    d = synthetic();
    d.bos = kSynthVocab;
    try {
        Tokenizer::from_data(d);
        FAIL();
    } catch (const Error &e) {
        EXPECT_NE(std::string(e.what()).find("tokenizer.ggml.bos_token_id"), std::string::npos);
    }
}

TEST(TokenizerSynthetic, MissingByteTokensNeverThrow) {
    // A degenerate vocabulary without byte tokens: bytes that cannot be spelled are dropped,
    // nothing throws.
    TokenizerData d;
    d.tokens = {"a", "b", "ab"};
    d.merges = {"a b"};
    auto tok = Tokenizer::from_data(d);
    EXPECT_EQ(tok->tokenize("ab", false, false), (Ids{2}));
    EXPECT_EQ(tok->tokenize("a\xff" "b", false, false), (Ids{0, 1}));
    EXPECT_EQ(tok->tokenize("zzz", false, false), Ids{});
}

// ---- pre-tokenizer ------------------------------------------------------------------------------

std::vector<std::string> split(std::string_view text) {
    static const tokenizer_detail::PreTokenizer pre;
    std::vector<std::string_view> pieces;
    pre.split(text, pieces);
    return {pieces.begin(), pieces.end()};
}

using Pieces = std::vector<std::string>;

TEST(PreTokenizer, Llama3Regex) {
    EXPECT_EQ(split("Hello world"), (Pieces{"Hello", " world"}));
    EXPECT_EQ(split("   Hello"), (Pieces{"  ", " Hello"}));
    EXPECT_EQ(split("I'M you'll"), (Pieces{"I", "'M", " you", "'ll"}));
    EXPECT_EQ(split("1234567"), (Pieces{"123", "456", "7"}));
    EXPECT_EQ(split("a,\n\nb"), (Pieces{"a", ",\n\n", "b"}));
    EXPECT_EQ(split("x  \n\n  y"), (Pieces{"x", "  \n\n", " ", " y"}));
    EXPECT_EQ(split("日本語 🚀"), (Pieces{"日本語", " 🚀"}));
    EXPECT_EQ(split(""), Pieces{});
}

TEST(PreTokenizer, InvalidUtf8BecomesPieces) {
    EXPECT_EQ(split("a\xff\xfe" "b"), (Pieces{"a", "\xff\xfe", "b"}));
    EXPECT_EQ(split("\xe6\x97"), (Pieces{"\xe6\x97"}));  // truncated 3-byte sequence
    EXPECT_EQ(split("x\xc0\xaf"), (Pieces{"x", "\xc0\xaf"}));  // overlong '/'
    std::string nul("a\0b", 3);
    EXPECT_EQ(split(nul), (Pieces{"a", std::string("\0b", 2)}));  // NUL is a non-letter prefix
}

TEST(PreTokenizer, PiecesCoverLongInputs) {
    // Long runs must neither fail nor lose bytes (JIT stack / match limits).
    for (const std::string &text :
         {std::string(1 << 20, 'a'), std::string(1 << 18, ' '), std::string(1 << 18, '\n'),
          std::string(1 << 18, '!'), std::string(1 << 18, '7'), std::string(1 << 16, '\xff')}) {
        std::string joined;
        for (const auto &p : split(text)) joined += p;
        EXPECT_EQ(joined, text);
    }
}

// ---- the Llama 3 vocabulary ---------------------------------------------------------------------

const gguf::File &vocab_file() {
    static const auto file = gguf::File::open(test::fixture("llama3-vocab.gguf"));
    return *file;
}

const Tokenizer &llama3() {
    static const auto tok = Tokenizer::from_gguf(vocab_file());
    return *tok;
}

struct Case {
    std::string text;
    Ids ids;
};

const std::vector<Case> &vocab_cases() {
    static const std::vector<Case> cases = [] {
        const std::string inp = read_file(test::fixture("llama3-vocab.inp"));
        const std::string out = read_file(test::fixture("llama3-vocab.out"));
        const std::string sep = "\n__ggml_vocab_test__\n";
        std::vector<Case> v;
        // Every case is followed by the separator, including the last.
        for (size_t pos = 0; pos < inp.size();) {
            const size_t end = inp.find(sep, pos);
            if (end == std::string::npos) throw std::runtime_error("unterminated case in .inp");
            v.push_back({inp.substr(pos, end - pos), {}});
            pos = end + sep.size();
        }
        std::istringstream lines(out);
        std::string line;
        for (auto &c : v) {
            if (!std::getline(lines, line)) throw std::runtime_error(".out has too few lines");
            std::istringstream ids(line);
            for (int32_t id; ids >> id;) c.ids.push_back(id);
        }
        return v;
    }();
    return cases;
}

TEST(TokenizerLlama3, VocabularyFacts) {
    const Tokenizer &tok = llama3();
    EXPECT_EQ(tok.n_vocab(), 128256);
    EXPECT_EQ(tok.bos(), 128000);
    EXPECT_EQ(tok.eos(), 128001);
    EXPECT_EQ(tok.eot(), 128009);
    EXPECT_TRUE(tok.add_bos());
    EXPECT_STREQ(tok.pre_tokenizer(), "llama3");
    EXPECT_EQ(tok.token_text(128009), "<|eot_id|>");
    EXPECT_EQ(tok.token_text(220), "Ġ");
    EXPECT_EQ(tok.find_token("<|begin_of_text|>"), 128000);
    std::vector<int32_t> eog;
    for (int32_t id = 0; id < tok.n_vocab(); ++id)
        if (tok.is_eog(id)) eog.push_back(id);
    EXPECT_EQ(eog, (Ids{128001, 128009}));
    EXPECT_FALSE(tok.is_eog(-1));
    EXPECT_TRUE(tok.is_control(128000));
    EXPECT_TRUE(tok.is_control(128255));
    EXPECT_FALSE(tok.is_control(127999));
}

TEST(TokenizerLlama3, AllTestVectors) {
    const auto &cases = vocab_cases();
    ASSERT_EQ(cases.size(), 46u);
    for (size_t i = 0; i < cases.size(); ++i) {
        const Ids got = llama3().tokenize(cases[i].text, false, false);
        EXPECT_EQ(got, cases[i].ids) << "case " << i << " text '" << cases[i].text << "'\n got "
                                     << ids_str(got) << "\nwant " << ids_str(cases[i].ids);
    }
}

TEST(TokenizerLlama3, TestVectorsRoundTrip) {
    for (const auto &c : vocab_cases()) {
        EXPECT_EQ(decode(llama3(), llama3().tokenize(c.text, false, false)), c.text);
        EXPECT_EQ(decode(llama3(), llama3().tokenize(c.text, true, true), false), c.text);
    }
}

TEST(TokenizerLlama3, FoxPrompt) {
    EXPECT_EQ(llama3().tokenize("The quick brown fox jumps over the lazy dog.", true, false),
              (Ids{128000, 791, 4062, 14198, 39935, 35308, 927, 279, 16053, 5679, 13}));
}

TEST(TokenizerLlama3, UnicodePromptMatchesReference) {
    const auto ref = nlohmann::json::parse(
        read_file(test::fixture("reference/exact/tiny-b158-i2s.unicode.json")));
    const std::string text = ref.at("prompt_text");
    ASSERT_EQ(text, "Ternary weights: -1, 0, +1. Ünïcödé ✓ 日本語 🚀");
    const Ids want = ref.at("token_ids").get<Ids>();
    EXPECT_EQ(llama3().tokenize(text, true, false), want);
    EXPECT_EQ(llama3().tokenize(text, true, true), want);
}

TEST(TokenizerLlama3, PartialUtf8Pieces) {
    // 🚀 is three tokens: byte F0 9F, byte 9A, byte 80 (in some split); each piece alone is not
    // valid UTF-8, together they are the emoji.
    const Ids ids = llama3().tokenize("🚀", false, false);
    EXPECT_EQ(ids, (Ids{9468, 248, 222}));
    std::string bytes;
    for (int32_t id : ids) {
        std::string piece;
        llama3().append_piece(id, false, piece);
        EXPECT_FALSE(piece.empty());
        bytes += piece;
    }
    EXPECT_EQ(bytes, "🚀");
}

TEST(TokenizerLlama3, SpecialTokenParsing) {
    const Tokenizer &tok = llama3();
    EXPECT_EQ(tok.tokenize("<|eot_id|>", false, true), (Ids{128009}));
    const Ids plain = tok.tokenize("<|eot_id|>", false, false);
    EXPECT_GT(plain.size(), 1u);
    for (int32_t id : plain) EXPECT_LT(id, 128000);
    EXPECT_EQ(decode(tok, plain, false), "<|eot_id|>");

    const std::string chat =
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>";
    const Ids ids = tok.tokenize(chat, false, true);
    EXPECT_EQ(ids, (Ids{128000, 128006, 882, 128007, 271, 13347, 128009}));
    EXPECT_EQ(decode(tok, ids, true), chat);
    EXPECT_EQ(decode(tok, ids, false), "user\n\nHi");
    // add_bos with a BOS already in the text: the caller asked for both.
    EXPECT_EQ(tok.tokenize("<|begin_of_text|>Hi", true, true), (Ids{128000, 128000, 13347}));
    // An incomplete special stays text.
    EXPECT_EQ(decode(tok, tok.tokenize("<|eot_id|", false, true)), "<|eot_id|");
}

TEST(TokenizerLlama3, BosHandling) {
    const Tokenizer &tok = llama3();
    EXPECT_EQ(tok.tokenize("", true, false), (Ids{128000}));
    EXPECT_EQ(tok.tokenize("", false, false), Ids{});
    EXPECT_EQ(tok.tokenize("Hello", true, false), (Ids{128000, 9906}));
    EXPECT_EQ(tok.tokenize("Hello", false, false), (Ids{9906}));
    EXPECT_EQ(decode(tok, {128000}, false), "");
    EXPECT_EQ(decode(tok, {128000}, true), "<|begin_of_text|>");
}

// Random byte strings, including invalid UTF-8, NULs and specials-like text.
TEST(TokenizerLlama3, RandomBytesRoundTrip) {
    std::mt19937 rng(1234);
    const std::string alphabet_bias = " \n\t<|>'sa0é";
    for (int iter = 0; iter < 2000; ++iter) {
        std::string s(rng() % 64, '\0');
        for (char &c : s) {
            c = rng() % 4 == 0 ? alphabet_bias[rng() % alphabet_bias.size()]
                               : static_cast<char>(rng() & 0xFF);
        }
        const Ids ids = llama3().tokenize(s, false, false);
        for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < 128000) << ids_str(ids);
        ASSERT_EQ(decode(llama3(), ids), s) << "iteration " << iter;
        ASSERT_EQ(decode(llama3(), llama3().tokenize(s, true, true)), "<|begin_of_text|>" + s);
    }
}

std::string random_unicode(std::mt19937 &rng, size_t n_chars) {
    // Ranges that exercise the regex classes: ASCII, Latin-1 (incl. NBSP), combining marks,
    // Cyrillic, Devanagari, CJK, Unicode spaces and separators, other-script digits, emoji.
    static const std::pair<uint32_t, uint32_t> ranges[] = {
        {0x20, 0x7E}, {0x09, 0x0D}, {0xA0, 0xFF},     {0x300, 0x36F},   {0x400, 0x4FF},
        {0x900, 0x97F}, {0x4E00, 0x4FFF}, {0x2000, 0x206F}, {0x3000, 0x303F}, {0x660, 0x669},
        {0x1F300, 0x1F6FF}, {0x10000, 0x1007F}, {0xFFF0, 0xFFFD}, {0x85, 0x85}};
    std::string s;
    for (size_t i = 0; i < n_chars; ++i) {
        const auto &[lo, hi] = ranges[rng() % std::size(ranges)];
        tokenizer_detail::append_utf8(lo + rng() % (hi - lo + 1), s);
    }
    return s;
}

TEST(TokenizerLlama3, RandomUnicodeRoundTrip) {
    std::mt19937 rng(99);
    for (int iter = 0; iter < 2000; ++iter) {
        const std::string s = random_unicode(rng, rng() % 40);
        const Ids ids = llama3().tokenize(s, false, false);
        ASSERT_EQ(decode(llama3(), ids), s) << "iteration " << iter;
    }
}

TEST(TokenizerLlama3, LongInputs) {
    std::mt19937 rng(7);
    const std::string text = random_unicode(rng, 200000) + std::string(100000, 'a') +
                             std::string(100000, ' ') + std::string(50000, '\xff');
    const auto t0 = std::chrono::steady_clock::now();
    const Ids ids = llama3().tokenize(text, false, false);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::printf("tokenized %zu bytes into %zu tokens in %.1f ms\n", text.size(), ids.size(), ms);
    EXPECT_EQ(decode(llama3(), ids), text);
}

TEST(TokenizerLlama3, ConcurrentTokenizeIsDeterministic) {
    const auto &cases = vocab_cases();
    std::vector<Ids> want;
    for (const auto &c : cases) want.push_back(llama3().tokenize(c.text, true, true));
    std::vector<int> mismatches(4, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int rep = 0; rep < 20; ++rep)
                for (size_t i = 0; i < cases.size(); ++i) {
                    const size_t k = (i + t * 11) % cases.size();  // different order per thread
                    if (llama3().tokenize(cases[k].text, true, true) != want[k]) ++mismatches[t];
                }
        });
    }
    for (auto &th : threads) th.join();
    EXPECT_EQ(mismatches, (std::vector<int>{0, 0, 0, 0}));
}

// ---- loading: other files, the official 2B4T situation, errors ----------------------------------

// The tokenizer.* arrays of a GGUF as TokenizerData, read here independently of from_gguf.
TokenizerData data_from_file(const gguf::File &f) {
    TokenizerData d;
    for (const auto &item : f.find("tokenizer.ggml.tokens")->arr) d.tokens.push_back(item.str);
    for (const auto &item : f.find("tokenizer.ggml.token_type")->arr)
        d.token_types.push_back(static_cast<int32_t>(item.i64));
    for (const auto &item : f.find("tokenizer.ggml.merges")->arr) d.merges.push_back(item.str);
    d.bos = static_cast<int32_t>(f.get_u32("tokenizer.ggml.bos_token_id"));
    d.eos = static_cast<int32_t>(f.get_u32("tokenizer.ggml.eos_token_id"));
    return d;
}

TEST(TokenizerLoad, ModelFileMatchesVocabFile) {
    const auto file = gguf::File::open(test::fixture("tiny-b158-i2s.gguf"));
    const auto tok = Tokenizer::from_gguf(*file);
    ASSERT_EQ(tok->n_vocab(), llama3().n_vocab());
    EXPECT_EQ(tok->bos(), 128000);
    EXPECT_EQ(tok->eos(), 128001);
    EXPECT_EQ(tok->eot(), 128009);
    EXPECT_TRUE(tok->add_bos());
    for (const auto &c : vocab_cases()) {
        EXPECT_EQ(tok->tokenize(c.text, false, false), c.ids);
        EXPECT_EQ(tok->tokenize(c.text, true, true), llama3().tokenize(c.text, true, true));
    }
    EXPECT_EQ(tok->tokenize("The quick brown fox jumps over the lazy dog.", true, false),
              (Ids{128000, 791, 4062, 14198, 39935, 35308, 927, 279, 16053, 5679, 13}));
}

TEST(TokenizerLoad, Official2B4TWithoutPreKey) {
    // The official file has no tokenizer.ggml.pre but has add_bos_token; it must tokenize like
    // Llama 3 all the same.
    TokenizerData d = data_from_file(vocab_file());
    d.pre.reset();
    const auto tok = Tokenizer::from_data(d);
    EXPECT_STREQ(tok->pre_tokenizer(), "llama3");
    EXPECT_TRUE(tok->add_bos());
    EXPECT_EQ(tok->eot(), 128009);
    for (size_t i = 0; i < vocab_cases().size(); ++i) {
        const auto &c = vocab_cases()[i];
        EXPECT_EQ(tok->tokenize(c.text, false, false), c.ids) << "case " << i;
    }
    d.add_bos = true;
    d.pre = "default";
    const auto tok2 = Tokenizer::from_data(std::move(d));
    EXPECT_STREQ(tok2->pre_tokenizer(), "llama3");
    EXPECT_EQ(tok2->tokenize("The quick brown fox jumps over the lazy dog.", true, false),
              (Ids{128000, 791, 4062, 14198, 39935, 35308, 927, 279, 16053, 5679, 13}));
}

TEST(TokenizerLoad, LoadTime) {
    // Building the 128256-token, 280147-merge tokenizer from plain values (the part this module
    // owns; GGUF parsing is measured by the reader's tests).
    const TokenizerData d = data_from_file(vocab_file());
    ASSERT_EQ(d.merges.size(), 280147u);
    double best_ms = 1e9;
    for (int rep = 0; rep < 3; ++rep) {
        TokenizerData copy = d;
        const auto t0 = std::chrono::steady_clock::now();
        const auto tok = Tokenizer::from_data(std::move(copy));
        best_ms = std::min(best_ms, std::chrono::duration<double, std::milli>(
                                        std::chrono::steady_clock::now() - t0)
                                        .count());
    }
    const auto t0 = std::chrono::steady_clock::now();
    const auto tok = Tokenizer::from_gguf(vocab_file());
    const double gguf_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::printf("tokenizer build: %.1f ms from vectors, %.1f ms from_gguf (incl. copying)\n",
                best_ms, gguf_ms);
#ifndef __SANITIZE_ADDRESS__  // sanitizers make allocation-heavy code several times slower
    EXPECT_LT(best_ms, 1000.0);
#endif
}

// A small GGUF holding only tokenizer keys, to test from_gguf's key handling.
std::unique_ptr<gguf::File> tokenizer_gguf(const std::function<void(gguf::Writer &)> &tweak,
                                           const std::string &model = "gpt2",
                                           uint32_t bos = kBos) {
    const TokenizerData d = synthetic();
    gguf::Writer w;
    w.add_string("tokenizer.ggml.model", model);
    w.add_string_array("tokenizer.ggml.tokens", d.tokens);
    w.add_i32_array("tokenizer.ggml.token_type", d.token_types);
    w.add_string_array("tokenizer.ggml.merges", d.merges);
    w.add_u32("tokenizer.ggml.bos_token_id", bos);
    w.add_u32("tokenizer.ggml.eos_token_id", kEnd);
    tweak(w);
    const auto bytes = w.to_bytes();
    return gguf::File::from_memory(bytes.data(), bytes.size(), "tokenizer-test");
}

TEST(TokenizerLoad, FromGgufKeys) {
    auto tok = Tokenizer::from_gguf(*tokenizer_gguf([](gguf::Writer &) {}));
    EXPECT_EQ(tok->bos(), kBos);
    EXPECT_EQ(tok->eos(), kEnd);
    EXPECT_FALSE(tok->add_bos());
    EXPECT_STREQ(tok->pre_tokenizer(), "default");
    EXPECT_EQ(tok->tokenize("abc", false, false), (Ids{kABC}));

    tok = Tokenizer::from_gguf(*tokenizer_gguf([](gguf::Writer &w) {
        w.add_string("tokenizer.ggml.pre", "llama-bpe");
        w.add_u32("tokenizer.ggml.eot_token_id", kE);
    }));
    EXPECT_TRUE(tok->add_bos());
    EXPECT_EQ(tok->eot(), kE);
    EXPECT_EQ(tok->tokenize("xyz", true, false), (Ids{kBos, kXYZ}));

    tok = Tokenizer::from_gguf(*tokenizer_gguf([](gguf::Writer &w) {
        w.add_string("tokenizer.ggml.pre", "llama-bpe");
        w.add_bool("tokenizer.ggml.add_bos_token", false);
    }));
    EXPECT_FALSE(tok->add_bos());
}

TEST(TokenizerLoad, FromGgufErrors) {
    const auto status = [](const gguf::File &f) {
        return status_of([&] { Tokenizer::from_gguf(f); });
    };
    const auto nothing = [](gguf::Writer &) {};
    EXPECT_EQ(status(*tokenizer_gguf(nothing, "bert")), BITNET_ERR_UNSUPPORTED);
    // SentencePiece: tokenizer.ggml.scores is required.
    EXPECT_EQ(status(*tokenizer_gguf(nothing, "llama")), BITNET_ERR_BAD_FORMAT);
    EXPECT_EQ(status(*tokenizer_gguf(nothing, "gpt2", kSynthVocab)), BITNET_ERR_BAD_FORMAT);
    EXPECT_EQ(status(*tokenizer_gguf(nothing, "gpt2", 0xFFFFFFFFu)), BITNET_ERR_BAD_FORMAT);
    EXPECT_EQ(status(*tokenizer_gguf([](gguf::Writer &w) {
                  w.add_u32("tokenizer.ggml.eot_token_id", 1000000);
              })),
              BITNET_ERR_BAD_FORMAT);
    EXPECT_EQ(status(*tokenizer_gguf([](gguf::Writer &w) {
                  w.add_string("tokenizer.ggml.pre", "no-such-pre");
              })),
              BITNET_ERR_UNSUPPORTED);
    EXPECT_EQ(status(*tokenizer_gguf([](gguf::Writer &w) {
                  w.add_u32("tokenizer.ggml.add_bos_token", 1);
              })),
              BITNET_ERR_BAD_FORMAT);
    // Missing and ill-typed keys.
    gguf::Writer w;
    w.add_string("tokenizer.ggml.model", "gpt2");
    auto bytes = w.to_bytes();
    EXPECT_EQ(status(*gguf::File::from_memory(bytes.data(), bytes.size())), BITNET_ERR_BAD_FORMAT);
    gguf::Writer w2;
    w2.add_u32("tokenizer.ggml.model", 2);
    bytes = w2.to_bytes();
    EXPECT_EQ(status(*gguf::File::from_memory(bytes.data(), bytes.size())), BITNET_ERR_BAD_FORMAT);
    gguf::Writer w3;
    bytes = w3.to_bytes();
    EXPECT_EQ(status(*gguf::File::from_memory(bytes.data(), bytes.size())), BITNET_ERR_BAD_FORMAT);
    try {
        Tokenizer::from_gguf(*tokenizer_gguf(nothing, "bert"));
        FAIL();
    } catch (const Error &e) {
        EXPECT_NE(std::string(e.what()).find("tokenizer.ggml.model"), std::string::npos);
    }
}

}  // namespace
}  // namespace bitnet
