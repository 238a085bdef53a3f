// SentencePiece tokenizer (tokenizer.ggml.model = "llama") against libsentencepiece (Debian's
// libsentencepiece-dev) as the independent truth: a small LLaMA-style BPE model (byte_fallback,
// split_digits, dummy prefix, identity normalization) is trained in the test, and our encode and
// decode must equal SentencePieceProcessor's Encode/Decode exactly on fixed and random strings.
// A few rules are tested on a hand-made vocabulary as well, and the error checks. Then the
// converter's tokenizer.model reader (against what libsentencepiece reads from the same file) and
// a generated 1bitLLM-layout checkpoint converted and loaded: its tokenizer = SentencePiece.
#include <gtest/gtest.h>

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include <unistd.h>

#include "bitnet.h"
#include "common/error.h"
#include "convert/convert.h"
#include "convert/hf_generate.h"
#include "convert/spm_model.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace bitnet {
namespace {

namespace fs = std::filesystem;
using Ids = std::vector<int32_t>;

template <typename F>
bitnet_status status_of(F &&f) {
    try {
        f();
    } catch (const Error &e) {
        return e.status();
    }
    return BITNET_OK;
}

std::string detok(const Tokenizer &tok, const Ids &ids, bool render_special = false) {
    std::string out;
    tok.detokenize(ids.data(), ids.size(), render_special, out);
    return out;
}

// ---- a hand-made vocabulary ---------------------------------------------------------------------

enum HandId : int32_t { kUnk, kBos, kEos, kByte0 = 3, kA = kByte0 + 256, kB, kSp, kSpA, kAB, kSpAB,
                        kUser, kSpaceB, kHandVocab };

TokenizerData hand_made() {
    TokenizerData d;
    d.model = "llama";
    d.tokens = {"<unk>", "<s>", "</s>"};
    d.token_types = {2, 3, 3};
    d.scores = {0, 0, 0};
    for (int b = 0; b < 256; ++b) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "<0x%02X>", b);
        d.tokens.push_back(buf);
        d.token_types.push_back(6);
        d.scores.push_back(0);
    }
    // "a b" -> "▁a" outranks "ab" (score), so "▁ab" is built as ▁a + b.
    const std::vector<std::pair<std::string, float>> pieces = {
        {"a", -1}, {"b", -2}, {"\xE2\x96\x81", -3}, {"\xE2\x96\x81" "a", -4}, {"ab", -5},
        {"\xE2\x96\x81" "ab", -6}, {"<tool>", 0}, {"\xE2\x96\x81" "b", -7}};
    for (const auto &[p, s] : pieces) {
        d.tokens.push_back(p);
        d.token_types.push_back(p == "<tool>" ? 4 : 1);
        d.scores.push_back(s);
    }
    d.bos = kBos;
    d.eos = kEos;
    d.unk = kUnk;
    return d;
}

TEST(SpmHandMade, MergesByScoreWithDummyPrefix) {
    auto tok = Tokenizer::from_data(hand_made());
    EXPECT_STREQ(tok->pre_tokenizer(), "spm");
    EXPECT_TRUE(tok->add_bos());
    EXPECT_EQ(tok->tokenize("ab", true, false), (Ids{kBos, kSpAB}));
    EXPECT_EQ(tok->tokenize("a b", false, false), (Ids{kSpA, kSpaceB}));
    EXPECT_EQ(tok->tokenize("", true, false), (Ids{kBos}));
    EXPECT_EQ(tok->tokenize("", false, false), (Ids{}));
    // Byte fallback: "c" and "é" have no piece.
    EXPECT_EQ(tok->tokenize("c\xC3\xA9", false, false),
              (Ids{kSp, kByte0 + 'c', kByte0 + 0xC3, kByte0 + 0xA9}));
    // User-defined pieces stay whole and are never merged into their neighbours.
    EXPECT_EQ(tok->tokenize("a<tool>b", false, false), (Ids{kSpA, kUser, kB}));
    // Control texts are plain text unless parse_special; after one, the dummy prefix again.
    EXPECT_EQ(tok->tokenize("</s>a", false, true), (Ids{kEos, kSpA}));
    EXPECT_EQ(tok->tokenize("</s>", false, false).size(), 5u);  // ▁ < / s >: all bytes but ▁
    EXPECT_EQ(detok(*tok, {kBos, kSpAB, kSpaceB}), "ab b");
    EXPECT_EQ(detok(*tok, {kBos, kSpAB}, true), "<s> ab");
    EXPECT_EQ(detok(*tok, {kByte0 + 0xC3, kByte0 + 0xA9, kUnk}), "\xC3\xA9 \xE2\x81\x87 ");
    std::string piece;
    tok->append_piece(kSpAB, false, piece);  // a single piece keeps its space
    EXPECT_EQ(piece, " ab");

    auto d = hand_made();
    d.add_space_prefix = false;
    d.add_bos = false;
    tok = Tokenizer::from_data(d);
    EXPECT_FALSE(tok->add_bos());
    EXPECT_EQ(tok->tokenize("ab", true, false), (Ids{kAB}));
    EXPECT_EQ(detok(*tok, {kSpAB}), " ab");
}

TEST(SpmHandMade, UnusedPiecesAreSplitAgain) {
    auto d = hand_made();
    d.token_types[kSpAB] = 5;  // UNUSED: built by a merge, then resegmented into ▁a + b
    auto tok = Tokenizer::from_data(d);
    EXPECT_EQ(tok->tokenize("ab", false, false), (Ids{kSpA, kB}));
}

TEST(SpmHandMade, Errors) {
    auto expect_bad = [](TokenizerData d, const char *what) {
        try {
            Tokenizer::from_data(std::move(d));
            ADD_FAILURE() << "accepted: " << what;
        } catch (const Error &e) {
            EXPECT_EQ(e.status(), BITNET_ERR_BAD_FORMAT) << what;
            EXPECT_NE(std::string(e.what()).find("tokenizer.ggml."), std::string::npos) << e.what();
        }
    };
    auto d = hand_made();
    d.scores.pop_back();
    expect_bad(d, "short scores");
    d = hand_made();
    d.scores[kA] = std::nanf("");
    expect_bad(d, "NaN score");
    d = hand_made();
    d.scores[kA] = INFINITY;
    expect_bad(d, "infinite score");
    d = hand_made();
    d.token_types.push_back(1);
    expect_bad(d, "long token types");
    d = hand_made();
    d.token_types[kA] = 9;
    expect_bad(d, "unknown type");
    d = hand_made();
    d.tokens[kByte0 + 5] = "<0xZZ>";
    expect_bad(d, "bad byte token");
    d = hand_made();
    d.tokens[kA] = "";
    expect_bad(d, "empty piece");
    d = hand_made();
    d.unk = kHandVocab;
    expect_bad(d, "unk out of range");
    d = hand_made();
    d.bos = -7;
    expect_bad(d, "negative bos");
}

// The GGUF keys: scores required, unknown_token_id and add_space_prefix read.
std::unique_ptr<gguf::File> spm_gguf(const TokenizerData &d,
                                     const std::function<void(gguf::Writer &)> &tweak) {
    gguf::Writer w;
    w.add_string("tokenizer.ggml.model", "llama");
    w.add_string("tokenizer.ggml.pre", "default");
    w.add_string_array("tokenizer.ggml.tokens", d.tokens);
    w.add_i32_array("tokenizer.ggml.token_type", d.token_types);
    w.add_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(d.bos));
    w.add_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(d.eos));
    tweak(w);
    const auto bytes = w.to_bytes();
    return gguf::File::from_memory(bytes.data(), bytes.size(), "spm-tokenizer-test");
}

TEST(SpmHandMade, FromGguf) {
    const TokenizerData d = hand_made();
    auto tok = Tokenizer::from_gguf(*spm_gguf(d, [&](gguf::Writer &w) {
        w.add_f32_array("tokenizer.ggml.scores", d.scores);
        w.add_u32("tokenizer.ggml.unknown_token_id", kUnk);
        w.add_bool("tokenizer.ggml.add_space_prefix", false);
    }));
    EXPECT_EQ(tok->tokenize("ab", true, false), (Ids{kBos, kAB}));
    EXPECT_EQ(tok->n_vocab(), kHandVocab);
    auto status = [&](const std::function<void(gguf::Writer &)> &tweak) {
        return status_of([&] { Tokenizer::from_gguf(*spm_gguf(d, tweak)); });
    };
    EXPECT_EQ(status([](gguf::Writer &) {}), BITNET_ERR_BAD_FORMAT);  // no scores
    EXPECT_EQ(status([&](gguf::Writer &w) {
                  w.add_i32_array("tokenizer.ggml.scores", std::vector<int32_t>(d.scores.size()));
              }),
              BITNET_ERR_BAD_FORMAT);
    EXPECT_EQ(status([&](gguf::Writer &w) {
                  w.add_f32_array("tokenizer.ggml.scores", d.scores);
                  w.add_string("tokenizer.ggml.add_space_prefix", "yes");
              }),
              BITNET_ERR_BAD_FORMAT);
    EXPECT_EQ(status([&](gguf::Writer &w) {
                  w.add_f32_array("tokenizer.ggml.scores", d.scores);
                  w.add_u32("tokenizer.ggml.unknown_token_id", kHandVocab);
              }),
              BITNET_ERR_BAD_FORMAT);
}

// ---- against libsentencepiece -------------------------------------------------------------------

// Deterministic training text: words, numbers, punctuation, accented and non-Latin text, emoji.
std::string training_text() {
    const std::vector<std::string> words = {
        "the", "model", "ternary", "weights", "are", "quantized", "to", "minus", "one", "zero",
        "plus", "and", "inference", "runs", "on", "CPU", "with", "int8", "activations", "Hello",
        "world", "tokenizer", "SentencePiece", "merges", "pieces", "by", "score", "café",
        "naïve", "Grüße", "日本語", "テキスト", "Привет", "мир", "emoji", "😀", "🎉", "(", ")",
        ",", ".", "!", "?", "'s", "don't", "x=1;", "<tool>", "@@", "  ", "-"};
    std::mt19937 rng(7);
    std::string text;
    for (int line = 0; line < 600; ++line) {
        const int n = 4 + static_cast<int>(rng() % 12);
        for (int i = 0; i < n; ++i) {
            if (i) text += ' ';
            if (rng() % 7 == 0)
                text += std::to_string(rng() % 100000);
            else
                text += words[rng() % words.size()];
        }
        text += '\n';
    }
    return text;
}

struct Trained {
    ~Trained() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
    fs::path dir;
    sentencepiece::SentencePieceProcessor sp;
    std::unique_ptr<Tokenizer> tok;
};

// The tokenizer data of a loaded SentencePiece model, through its public API (piece, score,
// flags; user-defined pieces are the ones given to the trainer).
TokenizerData data_from_processor(const sentencepiece::SentencePieceProcessor &sp,
                                  const std::set<std::string> &user_defined) {
    TokenizerData d;
    d.model = "llama";
    for (int id = 0; id < sp.GetPieceSize(); ++id) {
        d.tokens.push_back(sp.IdToPiece(id));
        d.scores.push_back(sp.GetScore(id));
        d.token_types.push_back(sp.IsUnknown(id)   ? 2
                                : sp.IsControl(id) ? 3
                                : sp.IsUnused(id)  ? 5
                                : sp.IsByte(id)    ? 6
                                : user_defined.count(sp.IdToPiece(id)) ? 4
                                                                       : 1);
    }
    d.unk = sp.unk_id();
    d.bos = sp.bos_id();
    d.eos = sp.eos_id();
    return d;
}

const Trained &trained() {
    static const std::unique_ptr<Trained> t = [] {
        auto r = std::make_unique<Trained>();
        r->dir = fs::temp_directory_path() /
                 ("bitnet-spm-" + std::to_string(static_cast<long>(::getpid())));
        fs::create_directories(r->dir);
        const fs::path corpus = r->dir / "corpus.txt";
        std::ofstream(corpus) << training_text();
        // LLaMA's trainer settings (byte_fallback, split_digits, dummy prefix, identity
        // normalization, whitespace kept), at a small vocabulary.
        const std::string args =
            "--input=" + corpus.string() + " --model_prefix=" + (r->dir / "spm").string() +
            " --model_type=bpe --vocab_size=600 --byte_fallback=true --split_digits=true"
            " --add_dummy_prefix=true --normalization_rule_name=identity"
            " --remove_extra_whitespaces=false --allow_whitespace_only_pieces=true"
            " --character_coverage=1.0 --unk_id=0 --bos_id=1 --eos_id=2 --pad_id=-1"
            " --user_defined_symbols=<tool>,@@ --num_threads=1 --minloglevel=2";
        const auto st = sentencepiece::SentencePieceTrainer::Train(args);
        if (!st.ok()) throw std::runtime_error("sentencepiece training: " + st.ToString());
        const auto ld = r->sp.Load((r->dir / "spm.model").string());
        if (!ld.ok()) throw std::runtime_error("sentencepiece load: " + ld.ToString());
        r->tok = Tokenizer::from_data(data_from_processor(r->sp, {"<tool>", "@@"}));
        return r;
    }();
    return *t;
}

std::vector<std::string> fixed_strings() {
    return {"", " ", "  ", "   ", "Hello world", " Hello", "Hello  world", "Hello world ",
            "hello\nworld", "\t tab\t", "\n\n", "1234567890", "3.14159 and 42", "x=1; y=22;",
            "café naïve Grüße", "日本語のテキスト", "Привет, мир!", "emoji 😀🎉 here",
            "unseen 🤖 Ωμέγα ß", "<tool>call</tool>", "a@@b @@ @@@", "<s>", "</s> <unk>",
            "the ternary model runs on CPU with int8 activations.", "don't stop", "  leading",
            "trailing  ", "a\u00A0b", "\xE2\x96\x81" "already", "mixed 12ab34 ab12"};
}

// Random strings over an alphabet that mixes trained and unseen characters, spaces and digits.
std::vector<std::string> random_strings(int n) {
    const std::vector<std::string> alphabet = {
        "a", "e", "t", "h", "o", "n", "s", "r", "the", "model", "weights", "Hello", " ", " ",
        " ", "  ", "\n", "\t", "0", "1", "7", "42", ".", ",", "!", "'", "é", "ï", "ü", "日",
        "本", "語", "П", "р", "😀", "🎉", "🤖", "Ω", "中", "<tool>", "@@", "@", "<", ">", "-",
        "\xE2\x96\x81", "~", "Z", "q"};
    std::mt19937 rng(11);
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i) {
        std::string s;
        const int len = static_cast<int>(rng() % 24);
        for (int j = 0; j < len; ++j) s += alphabet[rng() % alphabet.size()];
        out.push_back(s);
    }
    return out;
}

std::string shown(const std::string &s) {
    std::string r;
    for (unsigned char c : s) {
        if (c >= 0x20 && c < 0x7F) {
            r += static_cast<char>(c);
        } else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02X", c);
            r += buf;
        }
    }
    return r;
}

TEST(SpmVsSentencePiece, TrainedModelShape) {
    const Trained &t = trained();
    EXPECT_EQ(t.sp.GetPieceSize(), 600);
    EXPECT_EQ(t.tok->n_vocab(), 600);
    EXPECT_TRUE(t.sp.IsByte(t.sp.PieceToId("<0x0A>")));  // byte_fallback is on
    EXPECT_NE(t.sp.PieceToId("<tool>"), t.sp.unk_id());
    // The comparisons below exercise real merges: trained words are single pieces.
    EXPECT_EQ(t.tok->tokenize("the model", false, false).size(), 2u);
}

TEST(SpmVsSentencePiece, EncodeEqualsSentencePiece) {
    const Trained &t = trained();
    auto strings = fixed_strings();
    for (auto &s : random_strings(3000)) strings.push_back(std::move(s));
    int compared = 0;
    for (const std::string &s : strings) {
        std::vector<int> want;
        ASSERT_TRUE(t.sp.Encode(s, &want).ok());
        const Ids got = t.tok->tokenize(s, false, false);
        ASSERT_EQ(got, Ids(want.begin(), want.end())) << "text '" << shown(s) << "'";
        // With BOS: the same after it.
        Ids with_bos = t.tok->tokenize(s, true, false);
        ASSERT_EQ(with_bos.front(), t.sp.bos_id());
        with_bos.erase(with_bos.begin());
        ASSERT_EQ(with_bos, got);
        ++compared;
    }
    EXPECT_EQ(compared, static_cast<int>(fixed_strings().size()) + 3000);
}

TEST(SpmVsSentencePiece, DecodeEqualsSentencePiece) {
    const Trained &t = trained();
    auto strings = fixed_strings();
    for (auto &s : random_strings(1000)) strings.push_back(std::move(s));
    for (const std::string &s : strings) {
        std::vector<int> ids;
        ASSERT_TRUE(t.sp.Encode(s, &ids).ok());
        std::string want;
        ASSERT_TRUE(t.sp.Decode(ids, &want).ok());
        ASSERT_EQ(detok(*t.tok, Ids(ids.begin(), ids.end())), want) << "text '" << shown(s) << "'";
        // And with BOS/EOS around it (control tokens write nothing).
        Ids framed = {t.sp.bos_id()};
        framed.insert(framed.end(), ids.begin(), ids.end());
        framed.push_back(t.sp.eos_id());
        std::string want_framed;
        ASSERT_TRUE(t.sp.Decode(std::vector<int>(framed.begin(), framed.end()), &want_framed).ok());
        ASSERT_EQ(detok(*t.tok, framed), want_framed) << "text '" << shown(s) << "'";
    }
    // Random id sequences over the non-byte pieces (<unk>, controls and normal pieces): byte
    // pieces are left out because random bytes are invalid UTF-8 (see InvalidUtf8).
    std::vector<int> pool;
    for (int id = 0; id < t.sp.GetPieceSize(); ++id)
        if (!t.sp.IsByte(id)) pool.push_back(id);
    std::mt19937 rng(3);
    for (int i = 0; i < 1000; ++i) {
        std::vector<int> ids(rng() % 12);
        for (int &id : ids) id = pool[rng() % pool.size()];
        std::string want;
        ASSERT_TRUE(t.sp.Decode(ids, &want).ok());
        ASSERT_EQ(detok(*t.tok, Ids(ids.begin(), ids.end())), want);
    }
}

// Special-token texts with parse_special: the specials' ids, and each text part encoded as its
// own sentence (llama.cpp's rule), so SentencePiece on the parts is the truth.
TEST(SpmVsSentencePiece, ParseSpecialSplitsAtControlTokens) {
    const Trained &t = trained();
    auto enc = [&](const std::string &s) {
        std::vector<int> v;
        EXPECT_TRUE(t.sp.Encode(s, &v).ok());
        return Ids(v.begin(), v.end());
    };
    Ids want = {t.sp.bos_id()};
    for (int32_t id : enc("Hello world")) want.push_back(id);
    want.push_back(t.sp.eos_id());
    for (int32_t id : enc(" the model")) want.push_back(id);
    EXPECT_EQ(t.tok->tokenize("<s>Hello world</s> the model", false, true), want);
    // Without parse_special, the same text is plain text, as SentencePiece encodes it.
    EXPECT_EQ(t.tok->tokenize("<s>Hello world</s>", false, false), enc("<s>Hello world</s>"));
}

// Invalid UTF-8 (documented difference): SentencePiece's normalizer replaces each invalid byte by
// U+FFFD before encoding; we keep the byte and encode it as its <0xXX> token, so decoding gives
// the input back.
TEST(SpmVsSentencePiece, InvalidUtf8) {
    const Trained &t = trained();
    const std::string bad = "ab\xFF" "cd \xC3(", replaced = "ab\xEF\xBF\xBD" "cd \xEF\xBF\xBD(";
    std::vector<int> sp_ids;
    ASSERT_TRUE(t.sp.Encode(bad, &sp_ids).ok());
    std::vector<int> sp_replaced;
    ASSERT_TRUE(t.sp.Encode(replaced, &sp_replaced).ok());
    EXPECT_EQ(sp_ids, sp_replaced);  // the peer's behaviour this test documents
    const Ids ours = t.tok->tokenize(bad, false, false);
    const int32_t ff = t.sp.PieceToId("<0xFF>"), c3 = t.sp.PieceToId("<0xC3>");
    EXPECT_NE(std::find(ours.begin(), ours.end(), ff), ours.end());
    EXPECT_NE(std::find(ours.begin(), ours.end(), c3), ours.end());
    EXPECT_EQ(detok(*t.tok, ours), bad);
}

// Random bytes (invalid UTF-8 included): ids in range, no control or unknown token without
// parse_special, and decoding gives the input back, with U+2581 read as a space (SentencePiece's
// own rule: the input "▁" is the space symbol).
TEST(SpmVsSentencePiece, RandomBytesRoundTrip) {
    const Trained &t = trained();
    std::mt19937 rng(5);
    const std::string pool[] = {"a", "t", "he", " ", "  ", "\n", "\xE2\x96\x81", "\xE2\x96", "\x81",
                                "\xC3", "\xA9", "\xF0\x9F", "\xFF", "<s>", "<tool>", "@", "0", "日"};
    for (int i = 0; i < 2000; ++i) {
        std::string s;
        for (int j = static_cast<int>(rng() % 20); j > 0; --j) {
            if (rng() % 3 == 0)
                s += static_cast<char>(rng() & 0xFF);
            else
                s += pool[rng() % std::size(pool)];
        }
        const Ids ids = t.tok->tokenize(s, false, false);
        for (int32_t id : ids) {
            ASSERT_TRUE(id >= 0 && id < t.tok->n_vocab());
            ASSERT_FALSE(t.sp.IsControl(id) || t.sp.IsUnknown(id)) << shown(s);
        }
        std::string want;
        for (size_t k = 0; k < s.size();) {
            if (s.compare(k, 3, "\xE2\x96\x81") == 0) {
                want += ' ';
                k += 3;
            } else {
                want += s[k++];
            }
        }
        ASSERT_EQ(detok(*t.tok, ids), want) << shown(s);
    }
}

// ---- tokenizer.model reader and the converter ---------------------------------------------------

std::string file_bytes(const fs::path &p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

int32_t sp_type(const sentencepiece::SentencePieceProcessor &sp, int id) {
    return sp.IsUnknown(id) ? 2 : sp.IsControl(id) ? 3 : sp.IsUnused(id) ? 5 : sp.IsByte(id) ? 6 : 1;
}

TEST(SpmModelFile, ReadsWhatSentencePieceReads) {
    const Trained &t = trained();
    const convert::SpmModel m = convert::read_spm_model((t.dir / "spm.model").string());
    ASSERT_EQ(m.pieces.size(), static_cast<size_t>(t.sp.GetPieceSize()));
    int user_defined = 0;
    for (int id = 0; id < t.sp.GetPieceSize(); ++id) {
        ASSERT_EQ(m.pieces[id].text, t.sp.IdToPiece(id)) << id;
        ASSERT_EQ(m.pieces[id].score, t.sp.GetScore(id)) << id;
        const int32_t want = sp_type(t.sp, id);
        if (m.pieces[id].type == 4) {  // the processor reports user-defined pieces as normal
            ++user_defined;
            ASSERT_EQ(want, 1);
        } else {
            ASSERT_EQ(m.pieces[id].type, want) << id;
        }
    }
    EXPECT_EQ(user_defined, 2);  // <tool>, @@
    EXPECT_EQ(m.model_type, 2);
    EXPECT_TRUE(m.byte_fallback);
    EXPECT_EQ(m.unk_id, t.sp.unk_id());
    EXPECT_EQ(m.bos_id, t.sp.bos_id());
    EXPECT_EQ(m.eos_id, t.sp.eos_id());
    EXPECT_EQ(m.pad_id, -1);
    EXPECT_EQ(m.normalizer_name, "identity");
    EXPECT_FALSE(m.has_charsmap);
    EXPECT_TRUE(m.add_dummy_prefix);
    EXPECT_FALSE(m.remove_extra_whitespaces);

    // The writer (used by gen-hf): what it writes, SentencePiece loads and encodes identically.
    const std::string written = convert::serialize_spm_model(m);
    sentencepiece::SentencePieceProcessor again;
    ASSERT_TRUE(again.LoadFromSerializedProto(written).ok());
    for (const std::string &s : fixed_strings()) EXPECT_EQ(again.EncodeAsIds(s), t.sp.EncodeAsIds(s));
    const auto back = convert::parse_spm_model(reinterpret_cast<const uint8_t *>(written.data()),
                                               written.size(), "written");
    EXPECT_EQ(back.pieces.size(), m.pieces.size());
}

TEST(SpmModelFile, MalformedInputFailsCleanly) {
    const Trained &t = trained();
    const std::string bytes = file_bytes(t.dir / "spm.model");
    auto status = [](const std::string &b) {
        return status_of([&] {
            convert::parse_spm_model(reinterpret_cast<const uint8_t *>(b.data()), b.size(), "x.model");
        });
    };
    EXPECT_EQ(status(bytes), BITNET_OK);
    // Every truncation either parses (cut between fields) or fails with BAD_FORMAT.
    int rejected = 0;
    for (size_t n = 0; n < bytes.size(); n += 3) {
        const bitnet_status st = status(bytes.substr(0, n));
        ASSERT_TRUE(st == BITNET_OK || st == BITNET_ERR_BAD_FORMAT) << n;
        rejected += st == BITNET_ERR_BAD_FORMAT;
    }
    EXPECT_GT(rejected, 0);
    const std::string cases[] = {
        std::string("\x0A\xFF\xFF\xFF\xFF\x0F", 6),            // length past the end
        std::string("\x0B", 1),                                   // wire type 3 (group)
        std::string("\x08\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\x01", 12),  // 11-byte varint
        std::string("\x00\x01", 2),                               // field number 0
        std::string("\x08\x01", 2),                               // pieces as a varint
        std::string("\x1A\x00", 2),                               // no pieces at all
        std::string("\x0A\x02\x0A\x00", 4),                       // an empty piece
        std::string("\x0A\x05\x0A\x01" "a\x18\x09", 7),            // piece type 9
        std::string("\x0A\x08\x0A\x01" "a\x15\x00\x00\xC0\x7F", 10),  // NaN score
        std::string("\x0A\x03\x0A\x01" "a\x12\x03\xC8\x02\x05", 10),  // bos_id 5, 1 piece
    };
    for (const std::string &c : cases) EXPECT_EQ(status(c), BITNET_ERR_BAD_FORMAT) << shown(c);
    // A piece with the wrong wire type for its text.
    EXPECT_EQ(status(std::string("\x0A\x02\x08\x01", 4)), BITNET_ERR_BAD_FORMAT);
    EXPECT_EQ(status_of([] { convert::read_spm_model("/nonexistent/tokenizer.model"); }), BITNET_ERR_IO);
}

struct ConvertedSpm {
    fs::path hf, gguf;
};

// A 1bitLLM-layout checkpoint whose tokenizer is the trained model plus added tokens, converted.
const ConvertedSpm &converted() {
    static const ConvertedSpm c = [] {
        const Trained &t = trained();
        ConvertedSpm r{t.dir / "hf-1bitllm", t.dir / "1bitllm.gguf"};
        const fs::path tok = t.dir / "tokenizer-files";
        fs::create_directories(tok);
        fs::copy_file(t.dir / "spm.model", tok / "tokenizer.model", fs::copy_options::overwrite_existing);
        std::ofstream(tok / "added_tokens.json") << R"({"<pad>": 600, "<extra>": 601})";
        std::ofstream(tok / "tokenizer_config.json")
            << R"({"add_bos_token": true, "add_eos_token": false, "bos_token": "<s>",
                  "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>",
                  "added_tokens_decoder": {"1": {"content": "<s>", "special": true},
                                           "602": {"content": "<|end|>", "special": true}}})";
        convert::HfGenerateOptions g = convert::hf_preset_1bitllm_tiny();
        g.n_vocab = 608;
        g.tokenizer_from = tok.string();
        convert::generate_hf_checkpoint(r.hf.string(), g);
        convert::convert_hf(r.hf.string(), r.gguf.string(), {}, nullptr);
        return r;
    }();
    return c;
}

TEST(SpmConvert, WritesTheSentencePieceVocabulary) {
    const Trained &t = trained();
    const auto f = gguf::File::open(converted().gguf.string());
    auto value = [&](const char *key) -> const gguf::Value & {
        const gguf::Value *v = f->find(key);
        if (!v) throw std::runtime_error(std::string("missing ") + key);
        return *v;
    };
    EXPECT_EQ(value("general.architecture").str, "bitnet");
    EXPECT_EQ(value("tokenizer.ggml.model").str, "llama");
    EXPECT_EQ(value("tokenizer.ggml.pre").str, "default");
    EXPECT_TRUE(value("tokenizer.ggml.add_space_prefix").b);
    EXPECT_TRUE(value("tokenizer.ggml.add_bos_token").b);
    EXPECT_EQ(value("tokenizer.ggml.bos_token_id").u64, 1u);
    EXPECT_EQ(value("tokenizer.ggml.eos_token_id").u64, 2u);
    EXPECT_EQ(value("tokenizer.ggml.unknown_token_id").u64, 0u);
    EXPECT_EQ(value("tokenizer.ggml.padding_token_id").u64, 600u);
    EXPECT_EQ(f->find("tokenizer.ggml.merges"), nullptr);
    const auto &tokens = value("tokenizer.ggml.tokens").arr;
    const auto &scores = value("tokenizer.ggml.scores").arr;
    const auto &types = value("tokenizer.ggml.token_type").arr;
    ASSERT_EQ(tokens.size(), 608u);
    ASSERT_EQ(scores.size(), 608u);
    ASSERT_EQ(types.size(), 608u);
    for (int id = 0; id < 600; ++id) {
        ASSERT_EQ(tokens[id].str, t.sp.IdToPiece(id));
        ASSERT_EQ(static_cast<float>(scores[id].f64), t.sp.GetScore(id));
        const int64_t want = t.sp.IdToPiece(id) == "<tool>" || t.sp.IdToPiece(id) == "@@" ? 4 : sp_type(t.sp, id);
        ASSERT_EQ(types[id].i64, want) << id;
    }
    const std::tuple<int, const char *, int64_t> added[] = {
        {600, "<pad>", 4}, {601, "<extra>", 4}, {602, "<|end|>", 3}, {603, "[PAD603]", 5}, {607, "[PAD607]", 5}};
    for (const auto &[id, text, type] : added) {
        EXPECT_EQ(tokens[id].str, text);
        EXPECT_EQ(types[id].i64, type);
        EXPECT_EQ(scores[id].f64, -1000.0);
    }
}

TEST(SpmConvert, LoadedModelTokenizesLikeSentencePiece) {
    const Trained &t = trained();
    bitnet_model *model = nullptr;
    ASSERT_EQ(bitnet_model_load(converted().gguf.string().c_str(), nullptr, &model), BITNET_OK)
        << bitnet_last_error_message();
    auto strings = fixed_strings();
    for (auto &s : random_strings(500)) strings.push_back(std::move(s));
    for (const std::string &s : strings) {
        std::vector<bitnet_token> got(s.size() + 8);
        size_t n = 0;
        ASSERT_EQ(bitnet_tokenize(model, s.data(), s.size(), 1, 0, got.data(), got.size(), &n), BITNET_OK);
        got.resize(n);
        std::vector<int> want = {t.sp.bos_id()};
        for (int id : t.sp.EncodeAsIds(s)) want.push_back(id);
        ASSERT_EQ(std::vector<int>(got.begin(), got.end()), want) << "text '" << shown(s) << "'";
        std::string text(s.size() + 16, '\0');
        size_t bytes = 0;
        ASSERT_EQ(bitnet_detokenize(model, got.data(), got.size(), 0, text.data(), text.size(), &bytes), BITNET_OK);
        text.resize(bytes);
        ASSERT_EQ(text, t.sp.DecodeIds(want)) << "text '" << shown(s) << "'";
    }
    // An added special token is parsed as one token with parse_special.
    bitnet_token ids[16];
    size_t n = 0;
    ASSERT_EQ(bitnet_tokenize(model, "<|end|>", 7, 0, 1, ids, 16, &n), BITNET_OK);
    EXPECT_EQ(n, 1u);
    EXPECT_EQ(ids[0], 602);
    // The converted weights run: one evaluation gives finite logits.
    bitnet_context *ctx = nullptr;
    ASSERT_EQ(bitnet_context_new(model, nullptr, &ctx), BITNET_OK) << bitnet_last_error_message();
    const bitnet_token prompt[] = {1, 100, 200};
    ASSERT_EQ(bitnet_eval(ctx, prompt, 3, BITNET_LOGITS_LAST), BITNET_OK) << bitnet_last_error_message();
    const float *logits = bitnet_get_logits(ctx, -1);
    ASSERT_NE(logits, nullptr);
    for (int i = 0; i < 608; ++i) ASSERT_TRUE(std::isfinite(logits[i]));
    bitnet_context_free(ctx);
    bitnet_model_free(model);
}

}  // namespace
}  // namespace bitnet
