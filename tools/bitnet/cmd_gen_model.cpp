// bitnet gen-model: write a random-weight ternary model of any architecture of lib/arch
// (bitnet-b1.58 in the layout of the official 2B4T GGUF, 1bitLLM `bitnet`, Llama/Falcon3 `llama`)
// with I2_S, TQ2_0, TQ1_0 or F32 BitLinear weights and a tied F16 embedding, for tests and
// benchmarks. Tensor names and which tensors exist come from the architecture table (lib/arch).
// Weights are drawn like ../shared/fixtures (see its README, "How the random weights were drawn")
// with a fast seeded generator; the same seed gives the same trits and scales in every weight
// type, so the i2s, tq2_0 and tq1_0 files of one seed compute bit-identical logits.
#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "arch/arch.h"
#include "common.h"
#include "common/error.h"
#include "common/fp16.h"
#include "gguf/gguf.h"
#include "kernels/kernels.h"

namespace bitnet_cli {
namespace {

namespace gguf = bitnet::gguf;

static_assert(std::endian::native == std::endian::little,
              "gen-model writes host floats as GGUF little-endian data");

// ---- random numbers -------------------------------------------------------------------------

uint64_t splitmix64(uint64_t &state) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t mix(uint64_t a, uint64_t b) {
    uint64_t s = a ^ (b * 0xD6E8FEB86659FD93ull);
    splitmix64(s);
    return splitmix64(s);
}

uint64_t fnv1a(const std::string &s) {
    uint64_t h = 0xCBF29CE484222325ull;
    for (unsigned char c : s) h = (h ^ c) * 0x100000001B3ull;
    return h;
}

// xoshiro256** (Blackman & Vigna), seeded through splitmix64.
class Rng {
public:
    explicit Rng(uint64_t seed) {
        for (auto &x : s_) x = splitmix64(seed);
    }
    uint64_t next() {
        const uint64_t result = rotl(s_[1] * 5, 7) * 9;
        const uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }
    // Uniform in [0, 1).
    double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
    // Standard normal: ziggurat method (Marsaglia & Tsang 2000), 256 layers.
    double normal();

private:
    static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    uint64_t s_[4];
};

// Ziggurat of the standard normal density f(x) = exp(-x^2/2) with 256 layers of equal area
// kZigV: layer 0 is the base strip [0, kZigR] x [0, f(kZigR)] plus the tail beyond kZigR
// (pseudo-width x[0] = kZigV / f(kZigR)); layer i >= 1 is [0, x[i]] x [f(x[i]), f(x[i+1])] with
// kZigR = x[1] > x[2] > ... > x[256] = 0.
constexpr double kZigR = 3.6541528853610088;
constexpr double kZigV = 0.00492867323399;

struct Ziggurat {
    double x[257];
    double fx[257];
    double ratio[256];  // x[i+1] / x[i]: |u| below it is inside the curve for the whole layer
    Ziggurat() {
        auto f = [](double t) { return std::exp(-0.5 * t * t); };
        x[0] = kZigV / f(kZigR);
        x[1] = kZigR;
        for (int i = 1; i < 255; ++i) x[i + 1] = std::sqrt(-2.0 * std::log(kZigV / x[i] + f(x[i])));
        x[256] = 0.0;
        for (int i = 0; i <= 256; ++i) fx[i] = f(x[i]);
        for (int i = 0; i < 256; ++i) ratio[i] = x[i + 1] / x[i];
    }
};

const Ziggurat &ziggurat() {
    static const Ziggurat z;
    return z;
}

double Rng::normal() {
    const Ziggurat &z = ziggurat();
    for (;;) {
        const uint64_t b = next();
        const int i = static_cast<int>(b & 255u);  // layer: low 8 bits
        // u uniform in [-1, 1) from the top 53 bits (independent of the layer bits)
        const double u =
            static_cast<double>(static_cast<int64_t>(b >> 11) - (int64_t{1} << 52)) * 0x1.0p-52;
        if (std::fabs(u) < z.ratio[i]) return u * z.x[i];
        if (i == 0) {  // tail beyond kZigR (Marsaglia 1964)
            double a, c;
            do {
                a = -std::log(1.0 - uniform()) / kZigR;
                c = -std::log(1.0 - uniform());
            } while (c + c < a * a);
            return u < 0 ? -(kZigR + a) : kZigR + a;
        }
        const double xx = u * z.x[i];  // wedge: accept under the curve
        if (z.fx[i] + uniform() * (z.fx[i + 1] - z.fx[i]) < std::exp(-0.5 * xx * xx)) return xx;
    }
}

// Runs f(i) for i in [0, n) on `threads` threads.
template <class F>
void parallel_for(int64_t n, int threads, F &&f) {
    const int nt = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, n)));
    if (nt <= 1) {
        for (int64_t i = 0; i < n; ++i) f(i);
        return;
    }
    std::atomic<int64_t> next{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < nt; ++t) {
        pool.emplace_back([&]() {
            for (int64_t i; (i = next.fetch_add(1)) < n;) f(i);
        });
    }
    for (auto &th : pool) th.join();
}

float round_to_bf16(float x) {
    uint32_t b;
    std::memcpy(&b, &x, 4);
    b = (b + 0x7FFFu + ((b >> 16) & 1u)) & 0xFFFF0000u;
    std::memcpy(&x, &b, 4);
    return x;
}

// ---- hyper-parameters -----------------------------------------------------------------------

struct Hparams {
    int64_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx;
    float rope_base;
    int64_t head_dim = 0;    // 0: n_embd / n_head
    int64_t n_vocab = 0;     // byte vocabulary padded to this size (0: no padding)
    float rms_eps = 1e-5f;
    const char *arch = "bitnet-b1.58";
};

constexpr int64_t kLlama3Vocab = 128256;
const std::vector<std::string> kPresetNames = {
    "tiny",       "small",      "2b4t",        "bitnet_b1_58-large", "falcon3-1b",
    "falcon3-3b", "falcon3-7b", "falcon3-10b", "llama3-8b-1.58"};

// Real shapes: ../shared/docs/ternary-formats.md 1.1-1.3. Values marked "guess" in the --help
// table are not in that doc; they are the public config.json values (Falcon3: head_dim 256,
// rope_theta 1000042, rms_norm_eps 1e-6, vocab 131072; bitnet_b1_58-large: 16 heads, vocab 32002;
// Llama3-8B-1.58: Llama 3 8B defaults). Falcon3's and 1bitLLM's own tokenizers are not
// reproduced: the byte vocabulary is padded to their size (Llama 3 specials last).
const std::map<std::string, Hparams> kPresets = {
    {"tiny", {128, 2, 4, 2, 384, 512, 500000.0f}},
    {"small", {512, 4, 8, 2, 1536, 2048, 500000.0f}},
    {"2b4t", {2560, 30, 20, 5, 6912, 4096, 500000.0f, 0, kLlama3Vocab}},
    {"bitnet_b1_58-large", {1536, 24, 16, 16, 4096, 2048, 10000.0f, 0, 32002, 1e-5f, "bitnet"}},
    {"falcon3-1b", {2048, 18, 8, 4, 8192, 8192, 1000042.0f, 256, 131072, 1e-6f, "llama"}},
    {"falcon3-3b", {3072, 22, 12, 4, 9216, 32768, 1000042.0f, 256, 131072, 1e-6f, "llama"}},
    {"falcon3-7b", {3072, 28, 12, 4, 23040, 32768, 1000042.0f, 256, 131072, 1e-6f, "llama"}},
    {"falcon3-10b", {3072, 40, 12, 4, 23040, 32768, 1000042.0f, 256, 131072, 1e-6f, "llama"}},
    {"llama3-8b-1.58", {4096, 32, 32, 8, 14336, 8192, 500000.0f, 0, kLlama3Vocab, 1e-5f, "llama"}},
};

// ---- vocabulary -----------------------------------------------------------------------------

// Common English words, most frequent first; the byte-level BPE merges are learned from them.
const char *const kWords[] = {
    "the",     "of",       "and",      "to",       "a",        "in",      "is",       "it",
    "you",     "that",     "he",       "was",      "for",      "on",      "are",      "with",
    "as",      "I",        "his",      "they",     "be",       "at",      "one",      "have",
    "this",    "from",     "or",       "had",      "by",       "hot",     "word",     "but",
    "what",    "some",     "we",       "can",      "out",      "other",   "were",     "all",
    "there",   "when",     "up",       "use",      "your",     "how",     "said",     "an",
    "each",    "she",      "which",    "do",       "their",    "time",    "if",       "will",
    "way",     "about",    "many",     "then",     "them",     "write",   "would",    "like",
    "so",      "these",    "her",      "long",     "make",     "thing",   "see",      "him",
    "two",     "has",      "look",     "more",     "day",      "could",   "go",       "come",
    "did",     "number",   "sound",    "no",       "most",     "people",  "my",       "over",
    "know",    "water",    "than",     "call",     "first",    "who",     "may",      "down",
    "side",    "been",     "now",      "find",     "any",      "new",     "work",     "part",
    "take",    "get",      "place",    "made",     "live",     "where",   "after",    "back",
    "little",  "only",     "round",    "man",      "year",     "came",    "show",     "every",
    "good",    "me",       "give",     "our",      "under",    "name",    "very",     "through",
    "just",    "form",     "sentence", "great",    "think",    "say",     "help",     "low",
    "line",    "differ",   "turn",     "cause",    "much",     "mean",    "before",   "move",
    "right",   "boy",      "old",      "too",      "same",     "tell",    "does",     "set",
    "three",   "want",     "air",      "well",     "also",     "play",    "small",    "end",
    "put",     "home",     "read",     "hand",     "port",     "large",   "spell",    "add",
    "even",    "land",     "here",     "must",     "big",      "high",    "such",     "follow",
    "act",     "why",      "ask",      "men",      "change",   "went",    "light",    "kind",
    "off",     "need",     "house",    "picture",  "try",      "us",      "again",    "animal",
    "point",   "mother",   "world",    "near",     "build",    "self",    "earth",    "father",
    "head",    "stand",    "own",      "page",     "should",   "country", "found",    "answer",
    "school",  "grow",     "study",    "still",    "learn",    "plant",   "cover",    "food",
    "sun",     "four",     "between",  "state",    "keep",     "eye",     "never",    "last",
    "let",     "thought",  "city",     "tree",     "cross",    "farm",    "hard",     "start",
    "might",   "story",    "saw",      "far",      "sea",      "draw",    "left",     "late",
    "run",     "while",    "press",    "close",    "night",    "real",    "life",     "few",
    "north",   "open",     "seem",     "together", "next",     "white",   "children", "begin",
    "got",     "walk",     "example",  "ease",     "paper",    "group",   "always",   "music",
    "those",   "both",     "mark",     "often",    "letter",   "until",   "mile",     "river",
    "car",     "feet",     "care",     "second",   "book",     "carry",   "took",     "science",
    "eat",     "room",     "friend",   "began",    "idea",     "fish",    "mountain", "stop",
    "once",    "base",     "hear",     "horse",    "cut",      "sure",    "watch",    "color",
    "face",    "wood",     "main",     "enough",   "plain",    "girl",    "usual",    "young",
    "ready",   "above",    "ever",     "red",      "list",     "though",  "feel",     "talk",
    "bird",    "soon",     "body",     "dog",      "family",   "direct",  "leave",    "song",
    "measure", "door",     "product",  "black",    "short",    "class",   "wind",     "question",
    "happen",  "complete", "ship",     "area",     "half",     "rock",    "order",    "fire",
    "south",   "problem",  "piece",    "told",     "knew",     "pass",    "since",    "top",
    "whole",   "king",     "space",    "heard",    "best",     "hour",    "better",   "true",
    "during",  "hundred",  "five",     "remember", "step",     "early",   "hold",     "west",
    "ground",  "interest", "reach",    "fast",     "sing",     "listen",  "six",      "table",
    "travel",  "less",     "morning",  "ten",      "simple",   "several", "toward",   "war",
    "lay",     "against",  "pattern",  "slow",     "center",   "love",    "person",   "money",
    "serve",   "appear",   "road",     "map",      "rain",     "rule",    "pull",     "cold",
    "notice",  "voice",    "power",    "town",     "fine",     "certain", "fly",      "fall",
    "lead",    "cry",      "dark",     "machine",  "note",     "wait",    "plan",     "figure",
    "star",    "box",      "field",    "rest",     "correct",  "able",    "done",     "beauty",
    "drive",   "stood",    "contain",  "front",    "teach",    "week",    "final",    "gave",
    "green",   "quick",    "brown",    "fox",      "jumps",    "lazy",    "develop",  "ocean",
    "warm",    "free",     "minute",   "strong",   "special",  "mind",    "behind",   "clear",
    "fact",    "street",   "nothing",  "course",   "stay",     "wheel",   "full",     "force",
    "blue",    "object",   "decide",   "surface",  "deep",     "moon",    "island",   "foot",
    "system",  "busy",     "test",     "record",   "boat",     "common",  "gold",     "possible",
    "plane",   "dry",      "wonder",   "laugh",    "thousand", "ago",     "ran",      "check",
    "game",    "shape",    "miss",     "brought",  "heat",     "snow",    "bring",    "yes",
    "distant", "fill",     "east",     "paint",    "language", "among",   "model",    "weight",
    "token",   "text",
};
constexpr int kTargetMerges = 480;

// GPT-2 byte-to-unicode table: the 256 byte tokens in GPT-2 order (printable bytes first) and
// the text of each byte.
struct ByteTable {
    std::vector<int> order;         // order[i] = byte of token i
    std::vector<std::string> text;  // text[b] = UTF-8 of the code point byte b maps to
};

std::string utf8(uint32_t cp) {
    std::string s;
    if (cp < 0x80) {
        s += static_cast<char>(cp);
    } else if (cp < 0x800) {
        s += static_cast<char>(0xC0 | (cp >> 6));
        s += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        s += static_cast<char>(0xE0 | (cp >> 12));
        s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        s += static_cast<char>(0x80 | (cp & 0x3F));
    }
    return s;
}

ByteTable byte_table() {
    ByteTable t;
    t.text.resize(256);
    std::vector<bool> direct(256, false);
    auto add_range = [&](int lo, int hi) {
        for (int b = lo; b <= hi; ++b) direct[b] = true;
    };
    add_range('!', '~');
    add_range(0xA1, 0xAC);
    add_range(0xAE, 0xFF);
    for (int b = 0; b < 256; ++b)
        if (direct[b]) {
            t.order.push_back(b);
            t.text[b] = utf8(static_cast<uint32_t>(b));
        }
    uint32_t n = 0;
    for (int b = 0; b < 256; ++b)
        if (!direct[b]) {
            t.order.push_back(b);
            t.text[b] = utf8(256 + n++);
        }
    return t;
}

struct Vocab {
    std::vector<std::string> tokens;
    std::vector<int32_t> types;
    std::vector<std::string> merges;
    int32_t bos = -1, eos = -1, eot = -1;
};

enum TokenType : int32_t { kNormal = 1, kControl = 3, kUnused = 5 };

// Byte-level BPE vocabulary: 256 byte tokens, merges learned deterministically from kWords, then
// the special tokens. n_vocab_target > 0 pads with unused tokens and puts Llama 3's 256 special
// tokens at the end (ids 128000.. for 128256), as in the real vocabulary.
Vocab build_byte_vocab(int64_t n_vocab_target) {
    Vocab v;
    const ByteTable bt = byte_table();
    std::set<std::string> known;
    for (int b : bt.order) {
        v.tokens.push_back(bt.text[b]);
        v.types.push_back(kNormal);
        known.insert(bt.text[b]);
    }

    // Corpus: each word as " word" (most common in running text), "word" and " Word", weighted
    // by a Zipf-like frequency of its rank.
    struct Entry {
        std::vector<std::string> sym;
        int64_t weight;
    };
    std::vector<Entry> corpus;
    std::set<std::string> seen_words;
    const int n_words = static_cast<int>(sizeof kWords / sizeof kWords[0]);
    for (int rank = 0; rank < n_words; ++rank) {
        const std::string w = kWords[rank];
        if (!seen_words.insert(w).second) continue;
        const int64_t f = 1 + 200000 / (rank + 20);
        std::string cap = w;
        cap[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(cap[0])));
        const std::pair<std::string, int64_t> forms[] = {
            {" " + w, 3 * f}, {w, f}, {" " + cap, f / 2}};
        for (const auto &[form, weight] : forms) {
            if (weight <= 0) continue;
            Entry e;
            for (unsigned char c : form) e.sym.push_back(bt.text[c]);
            e.weight = weight;
            corpus.push_back(std::move(e));
        }
    }
    for (int m = 0; m < kTargetMerges; ++m) {
        std::map<std::pair<std::string, std::string>, int64_t> counts;
        for (const auto &e : corpus)
            for (size_t i = 0; i + 1 < e.sym.size(); ++i)
                counts[{e.sym[i], e.sym[i + 1]}] += e.weight;
        if (counts.empty()) break;
        auto best = counts.begin();
        for (auto it = counts.begin(); it != counts.end(); ++it)
            if (it->second > best->second) best = it;  // ties: lexicographically first pair
        const auto [a, b] = best->first;
        const std::string ab = a + b;
        v.merges.push_back(a + " " + b);
        if (known.insert(ab).second) {
            v.tokens.push_back(ab);
            v.types.push_back(kNormal);
        }
        for (auto &e : corpus) {
            std::vector<std::string> out;
            out.reserve(e.sym.size());
            for (size_t i = 0; i < e.sym.size(); ++i) {
                if (i + 1 < e.sym.size() && e.sym[i] == a && e.sym[i + 1] == b) {
                    out.push_back(ab);
                    ++i;
                } else {
                    out.push_back(e.sym[i]);
                }
            }
            e.sym = std::move(out);
        }
    }

    if (n_vocab_target <= 0) {
        const char *specials[] = {"<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
                                  "<|end_header_id|>", "<|eot_id|>"};
        const int32_t first = static_cast<int32_t>(v.tokens.size());
        for (const char *s : specials) {
            v.tokens.push_back(s);
            v.types.push_back(kControl);
        }
        v.bos = first;
        v.eos = first + 1;
        v.eot = first + 4;
        return v;
    }
    // Llama 3 layout: 256 specials at the end, unused padding before them.
    const int64_t first_special = n_vocab_target - 256;
    for (int64_t i = 0; static_cast<int64_t>(v.tokens.size()) < first_special; ++i) {
        v.tokens.push_back("<|unused_" + std::to_string(i) + "|>");
        v.types.push_back(kUnused);
    }
    int reserved = 0;
    for (int i = 0; i < 256; ++i) {
        std::string s;
        switch (i) {
            case 0: s = "<|begin_of_text|>"; break;
            case 1: s = "<|end_of_text|>"; break;
            case 6: s = "<|start_header_id|>"; break;
            case 7: s = "<|end_header_id|>"; break;
            case 9: s = "<|eot_id|>"; break;
            default: s = "<|reserved_special_token_" + std::to_string(reserved++) + "|>";
        }
        v.tokens.push_back(s);
        v.types.push_back(kControl);
    }
    v.bos = static_cast<int32_t>(first_special);
    v.eos = static_cast<int32_t>(first_special + 1);
    v.eot = static_cast<int32_t>(first_special + 9);
    return v;
}

void add_byte_vocab(gguf::Writer &w, const Vocab &v) {
    w.add_string("tokenizer.ggml.model", "gpt2");
    w.add_string("tokenizer.ggml.pre", "llama-bpe");
    w.add_string_array("tokenizer.ggml.tokens", v.tokens);
    w.add_i32_array("tokenizer.ggml.token_type", v.types);
    w.add_string_array("tokenizer.ggml.merges", v.merges);
    w.add_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(v.bos));
    w.add_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(v.eos));
    w.add_u32("tokenizer.ggml.eot_token_id", static_cast<uint32_t>(v.eot));
    w.add_bool("tokenizer.ggml.add_bos_token", true);
}

// TQ2_0 / TQ1_0 bytes of the trits held as I2_S codes in `packed` (n values, row-major, rows a
// multiple of kTqBlock long, so blocks never straddle rows), every block with scale d = `scale`.
void write_tq(const gguf::Writer::Sink &sink, const uint8_t *packed, int64_t n,
              gguf::TensorType type, float scale, int threads) {
    namespace k = bitnet::kernels;
    const bool tq1 = type == gguf::TensorType::TQ1_0;
    const int64_t block_bytes = tq1 ? k::kTq1BlockBytes : k::kTq2BlockBytes;
    const uint16_t d = bitnet::f32_to_f16(scale);
    std::vector<uint8_t> out(static_cast<size_t>(n / k::kTqBlock * block_bytes));
    constexpr int64_t kValues = int64_t{1} << 16;  // whole I2_S (128) and TQ (256) blocks
    parallel_for((n + kValues - 1) / kValues, threads, [&](int64_t c) {
        const int64_t begin = c * kValues;
        const int64_t len = std::min(n, begin + kValues) - begin;
        std::vector<int8_t> t(static_cast<size_t>(len));
        k::i2s_unpack(packed + begin / 4, len, t.data());
        uint8_t *dst = out.data() + begin / k::kTqBlock * block_bytes;
        tq1 ? k::tq1_pack(t.data(), len, d, dst) : k::tq2_pack(t.data(), len, d, dst);
    });
    sink(out.data(), out.size());
}

// ---- tensors --------------------------------------------------------------------------------

// Adds tensors whose bytes are drawn while the file is written (Writer::add_tensor_streamed),
// so only one tensor (or one slab of the embedding) is in memory at a time. Every tensor has its
// own seed derived from the model seed and its name, and big tensors are drawn in fixed chunks
// with their own seeds, so the result does not depend on the number of threads.
struct Generator {
    uint64_t seed;
    int threads;
    gguf::TensorType wtype;  // I2_S, TQ2_0, TQ1_0 or F32
    gguf::Writer *w;
    uint64_t n_params = 0;
    uint64_t n_bytes = 0;
    int n_tensors = 0;

    uint64_t tensor_seed(const std::string &name) const { return mix(seed, fnv1a(name)); }

    void add(const std::string &name, gguf::TensorType type, const std::vector<int64_t> &ne,
             gguf::Writer::Producer producer) {
        w->add_tensor_streamed(name, type, ne, std::move(producer));
        int64_t e[4] = {1, 1, 1, 1};
        uint64_t n = 1;
        for (size_t d = 0; d < ne.size() && d < 4; ++d) {
            e[d] = ne[d];
            n *= static_cast<uint64_t>(ne[d]);
        }
        n_params += n;
        n_bytes += gguf::tensor_nbytes(type, e);
        n_tensors++;
    }

    // Embedding: normal(0, 0.25) rounded to F16.
    void embedding(const std::string &name, int64_t n_embd, int64_t n_vocab) {
        const uint64_t ts = tensor_seed(name);
        const int nt = threads;
        add(name, gguf::TensorType::F16, {n_embd, n_vocab},
            [ts, nt, n = n_embd * n_vocab](const gguf::Writer::Sink &sink) {
                constexpr int64_t kChunk = 1 << 16;      // values per seeded chunk
                constexpr int64_t kSlab = 256 * kChunk;  // values per write (32 MiB)
                std::vector<uint16_t> buf(static_cast<size_t>(std::min(n, kSlab)));
                for (int64_t slab = 0; slab < n; slab += kSlab) {
                    const int64_t len = std::min(kSlab, n - slab);
                    parallel_for((len + kChunk - 1) / kChunk, nt, [&](int64_t c) {
                        const int64_t begin = slab + c * kChunk;
                        const int64_t end = std::min(slab + len, begin + kChunk);
                        Rng rng(mix(ts, static_cast<uint64_t>(begin / kChunk)));
                        for (int64_t i = begin; i < end; ++i)
                            buf[static_cast<size_t>(i - slab)] =
                                bitnet::f32_to_f16(static_cast<float>(0.25 * rng.normal()));
                    });
                    sink(buf.data(), static_cast<size_t>(len) * 2);
                }
            });
    }

    // Norm weight: 1 + 0.1 * normal, clipped to [0.5, 1.5].
    void norm(const std::string &name, int64_t n) {
        add(name, gguf::TensorType::F32, {n},
            [ts = tensor_seed(name), n](const gguf::Writer::Sink &sink) {
                std::vector<float> data(static_cast<size_t>(n));
                Rng rng(ts);
                for (auto &x : data)
                    x = static_cast<float>(std::clamp(1.0 + 0.1 * rng.normal(), 0.5, 1.5));
                sink(data.data(), data.size() * 4);
            });
    }

    // BitLinear weight {fan_in, n_out}: ternary with zero fraction p in [0.25, 0.45] (quantised
    // to 1/128), +1 and -1 equally likely, and scale g / sqrt(fan_in (1 - p)) with g in
    // [0.6, 1.4], rounded to a bfloat16 value that is also exact in IEEE half (TQ block scale d:
    // every block of a tensor gets the same d, so TQ and I2_S files hold the same numbers).
    // The codes are drawn directly as packed I2_S bytes (the values are independent, so the
    // packing order does not change the distribution), 8 random bits per value; the F32 and TQ
    // variants unpack the same bytes, so all hold the same weights for the same seed.
    void bitlinear(const std::string &name, int64_t fan_in, int64_t n_out) {
        const uint64_t ts = tensor_seed(name);
        Rng trng(ts);
        const double p_draw = 0.25 + 0.20 * trng.uniform();
        const int zero_thr = static_cast<int>(std::lround(p_draw * 128.0));  // of 128
        const double p = zero_thr / 128.0;
        const double g = 0.6 + 0.8 * trng.uniform();
        const float scale = bitnet::f16_to_f32(bitnet::f32_to_f16(round_to_bf16(
            static_cast<float>(g / std::sqrt(static_cast<double>(fan_in) * (1.0 - p))))));
        const gguf::TensorType type = wtype;
        add(name, type, {fan_in, n_out},
            [ts, zero_thr, scale, nt = threads, type,
             n = fan_in * n_out](const gguf::Writer::Sink &sink) {
                // 16 random bits -> two 2-bit codes: per 8 bits, the top 7 decide zero
                // (< zero_thr) and the lowest the sign. Codes 0, 1, 2 = -1, 0, +1.
                std::vector<uint8_t> pair_codes(1 << 16);
                for (uint32_t v = 0; v < (1u << 16); ++v) {
                    uint32_t c2 = 0;
                    for (int k = 0; k < 2; ++k) {
                        const uint32_t f = (v >> (8 * (1 - k))) & 0xFFu;
                        const uint32_t code =
                            static_cast<int>(f >> 1) < zero_thr ? 1u : ((f & 1u) ? 2u : 0u);
                        c2 |= code << (2 * (1 - k));
                    }
                    pair_codes[v] = static_cast<uint8_t>(c2);
                }
                const int64_t n_packed = n / 4;  // n is a multiple of 128
                std::vector<uint8_t> packed(static_cast<size_t>(n_packed + 32), 0);
                constexpr int64_t kChunk = 1 << 14;  // bytes per seeded chunk (whole blocks)
                parallel_for((n_packed + kChunk - 1) / kChunk, nt, [&](int64_t c) {
                    Rng rng(mix(ts ^ 0x5851F42D4C957F2Dull, static_cast<uint64_t>(c)));
                    const int64_t end = std::min(n_packed, (c + 1) * kChunk);
                    uint8_t *out = packed.data();
                    for (int64_t i = c * kChunk; i < end; i += 2) {  // end - i is even
                        const uint64_t r = rng.next();
                        out[i] = static_cast<uint8_t>((pair_codes[r & 0xFFFFu] << 4) |
                                                      pair_codes[(r >> 16) & 0xFFFFu]);
                        out[i + 1] = static_cast<uint8_t>((pair_codes[(r >> 32) & 0xFFFFu] << 4) |
                                                          pair_codes[r >> 48]);
                    }
                });
                if (type == gguf::TensorType::I2_S) {
                    uint8_t le[4];
                    uint32_t bits;
                    std::memcpy(&bits, &scale, 4);
                    for (int k = 0; k < 4; ++k) le[k] = static_cast<uint8_t>(bits >> (8 * k));
                    std::memcpy(packed.data() + n_packed, le, 4);  // then 28 zero bytes
                    sink(packed.data(), packed.size());
                    return;
                }
                if (type == gguf::TensorType::TQ2_0 || type == gguf::TensorType::TQ1_0) {
                    write_tq(sink, packed.data(), n, type, scale, nt);
                    return;
                }
                std::vector<float> data(static_cast<size_t>(n));
                constexpr int64_t kValues = kChunk * 4;
                parallel_for((n + kValues - 1) / kValues, nt, [&](int64_t c) {
                    const int64_t begin = c * kValues;
                    const int64_t len = std::min(n, begin + kValues) - begin;
                    std::vector<int8_t> t(static_cast<size_t>(len));
                    bitnet::kernels::i2s_unpack(packed.data() + begin / 4, len, t.data());
                    for (int64_t i = 0; i < len; ++i)
                        data[static_cast<size_t>(begin + i)] = scale * static_cast<float>(t[i]);
                });
                sink(data.data(), data.size() * 4);
            });
    }
};

// ---- command --------------------------------------------------------------------------------

struct GenModelOptions {
    std::string out;
    std::string preset = "tiny";
    std::string arch;  // empty: the preset's
    Hparams hp{};
    int64_t n_vocab = 0;
    std::string vocab = "byte";
    std::string weights = "i2s";
    uint64_t seed = 1;
    std::string name;
    int32_t threads = 0;
    CLI::Option *o_embd = nullptr, *o_layer = nullptr, *o_head = nullptr, *o_head_kv = nullptr,
                *o_head_dim = nullptr, *o_ff = nullptr, *o_ctx = nullptr, *o_rope = nullptr,
                *o_vocab = nullptr, *o_n_vocab = nullptr;
};

void usage_error(const std::string &msg) {
    throw CLI::ValidationError(msg, CLI::ExitCodes::ValidationError);
}

struct WeightType {
    gguf::TensorType type;
    int64_t block;       // ne0 (every BitLinear fan-in) must be a multiple of this
    uint32_t file_type;  // general.file_type (llama_ftype; 40 = bitnet.cpp's I2_S)
    const char *name;
};

WeightType weight_type(const std::string &w) {
    if (w == "tq2_0") return {gguf::TensorType::TQ2_0, 256, 37, "TQ2_0"};
    if (w == "tq1_0") return {gguf::TensorType::TQ1_0, 256, 36, "TQ1_0"};
    if (w == "f32") return {gguf::TensorType::F32, 128, 0, "F32"};
    return {gguf::TensorType::I2_S, 128, 40, "I2_S"};
}

// The preset with the options given on the command line applied, checked.
Hparams resolve_hparams(const GenModelOptions &o, const WeightType &wt) {
    Hparams hp = kPresets.at(o.preset);
    if (o.o_embd->count()) hp.n_embd = o.hp.n_embd;
    if (o.o_layer->count()) hp.n_layer = o.hp.n_layer;
    if (o.o_head->count()) hp.n_head = o.hp.n_head;
    if (o.o_head_kv->count()) hp.n_head_kv = o.hp.n_head_kv;
    if (o.o_head_dim->count()) hp.head_dim = o.hp.head_dim;
    if (o.o_ff->count()) hp.n_ff = o.hp.n_ff;
    if (o.o_ctx->count()) hp.n_ctx = o.hp.n_ctx;
    if (o.o_rope->count()) hp.rope_base = o.hp.rope_base;
    if (hp.head_dim == 0 && hp.n_embd % hp.n_head != 0)
        usage_error("--n-embd (" + std::to_string(hp.n_embd) +
                    ") must be a multiple of --n-head (" + std::to_string(hp.n_head) +
                    ") unless --head-dim is given");
    if (hp.head_dim == 0) hp.head_dim = hp.n_embd / hp.n_head;
    if (hp.n_head % hp.n_head_kv != 0)
        usage_error("--n-head (" + std::to_string(hp.n_head) +
                    ") must be a multiple of --n-head-kv (" + std::to_string(hp.n_head_kv) + ")");
    if (hp.head_dim % 2 != 0) usage_error("the head dimension must be even (RoPE)");
    // The fan-ins (ne0) of the BitLinear weights: n_embd (Q, K, V, gate, up), n_head * head_dim
    // (output), n_ff (down).
    const std::pair<const char *, int64_t> fan_ins[] = {
        {"--n-embd", hp.n_embd},
        {"--n-ff", hp.n_ff},
        {"--n-head x --head-dim", hp.n_head * hp.head_dim}};
    for (const auto &[what, v] : fan_ins)
        if (v % wt.block != 0)
            usage_error(std::string(what) + " = " + std::to_string(v) + " is not a multiple of " +
                        std::to_string(wt.block) + ": " + wt.name + " rows hold whole blocks of " +
                        std::to_string(wt.block) + " weights");
    return hp;
}

// The `<arch>.*` hyper-parameter keys and general.file_type.
void add_hparams(gguf::Writer &w, const std::string &arch, const Hparams &hp, const WeightType &wt,
                 int64_t n_vocab) {
    const std::string a = arch + ".";
    w.add_u32(a + "block_count", static_cast<uint32_t>(hp.n_layer));
    w.add_u32(a + "context_length", static_cast<uint32_t>(hp.n_ctx));
    w.add_u32(a + "embedding_length", static_cast<uint32_t>(hp.n_embd));
    w.add_u32(a + "feed_forward_length", static_cast<uint32_t>(hp.n_ff));
    w.add_u32(a + "attention.head_count", static_cast<uint32_t>(hp.n_head));
    w.add_u32(a + "attention.head_count_kv", static_cast<uint32_t>(hp.n_head_kv));
    w.add_f32(a + "rope.freq_base", hp.rope_base);
    w.add_f32(a + "attention.layer_norm_rms_epsilon", hp.rms_eps);
    w.add_u32("general.file_type", wt.file_type);
    w.add_u32(a + "vocab_size", static_cast<uint32_t>(n_vocab));
    // key_length only when head_dim is not n_embd / n_head (Falcon3), as llama.cpp writes it.
    if (hp.head_dim * hp.n_head != hp.n_embd) {
        w.add_u32(a + "attention.key_length", static_cast<uint32_t>(hp.head_dim));
        w.add_u32(a + "attention.value_length", static_cast<uint32_t>(hp.head_dim));
    }
    w.add_u32(a + "rope.dimension_count", static_cast<uint32_t>(hp.head_dim));
}

// The tensors: names and presence from the architecture table, order as Microsoft's 2B4T
// converter writes it (sorted Hugging Face names per layer). Each tensor's seed is its name.
void add_tensors(Generator &gen, const bitnet::arch::Arch &ai, const Hparams &hp,
                 int64_t n_vocab) {
    using bitnet::arch::Role;
    const int64_t n_q_dim = hp.n_head * hp.head_dim, n_kv_dim = hp.n_head_kv * hp.head_dim;
    auto tn = [](Role r, int64_t l = -1) {
        return bitnet::arch::tensor_name(r, static_cast<int>(l));
    };
    gen.embedding(tn(Role::TokenEmbd), hp.n_embd, n_vocab);
    for (int64_t l = 0; l < hp.n_layer; ++l) {
        gen.norm(tn(Role::AttnNorm, l), hp.n_embd);
        gen.bitlinear(tn(Role::FfnDown, l), hp.n_ff, hp.n_embd);
        if (ai.sub_norms) gen.norm(tn(Role::FfnSubNorm, l), hp.n_ff);
        gen.bitlinear(tn(Role::FfnGate, l), hp.n_embd, hp.n_ff);
        gen.bitlinear(tn(Role::FfnUp, l), hp.n_embd, hp.n_ff);
        gen.norm(tn(Role::FfnNorm, l), hp.n_embd);
        if (ai.sub_norms) gen.norm(tn(Role::AttnSubNorm, l), n_q_dim);
        gen.bitlinear(tn(Role::AttnK, l), hp.n_embd, n_kv_dim);
        gen.bitlinear(tn(Role::AttnOutput, l), n_q_dim, hp.n_embd);
        gen.bitlinear(tn(Role::AttnQ, l), hp.n_embd, n_q_dim);
        gen.bitlinear(tn(Role::AttnV, l), hp.n_embd, n_kv_dim);
    }
    gen.norm(tn(Role::OutputNorm), hp.n_embd);
}

int run_gen_model(GenModelOptions &o) {
    const double t0 = now_seconds();
    const WeightType wt = weight_type(o.weights);
    Hparams hp = resolve_hparams(o, wt);
    const std::string arch = o.arch.empty() ? std::string(hp.arch) : o.arch;
    const bitnet::arch::Arch *ai = bitnet::arch::find(arch);
    if (!ai) usage_error("--arch '" + arch + "' is not one of " + bitnet::arch::supported_names());
    const int64_t head_dim = hp.head_dim;

    // Vocabulary.
    const bool byte_vocab = o.vocab == "byte";
    if (!byte_vocab && o.o_n_vocab->count())
        usage_error("--n-vocab only applies to --vocab byte (a vocabulary file has its own size)");
    Vocab bv;
    std::unique_ptr<gguf::File> vocab_file;
    int64_t n_vocab = 0;
    if (byte_vocab) {
        int64_t target = o.o_n_vocab->count() ? o.n_vocab : hp.n_vocab;
        if (target > 0 && target < 2000)
            usage_error("--n-vocab must be 0 (no padding) or at least 2000");
        bv = build_byte_vocab(target);
        n_vocab = static_cast<int64_t>(bv.tokens.size());
    } else {
        try {
            vocab_file = gguf::File::open(o.vocab, true);
        } catch (const bitnet::Error &e) {
            std::string msg = e.what();
            if (msg.compare(0, o.vocab.size() + 2, o.vocab + ": ") == 0)
                msg.erase(0, o.vocab.size() + 2);
            fail(o.vocab, msg);
        }
        const gguf::Value *tokens = vocab_file->find("tokenizer.ggml.tokens");
        if (!tokens || tokens->type != gguf::ValueType::ARRAY ||
            tokens->elem_type != gguf::ValueType::STRING || tokens->arr.empty())
            fail(o.vocab, "no tokenizer.ggml.tokens string array: not a vocabulary GGUF");
        n_vocab = static_cast<int64_t>(tokens->arr.size());
    }

    const bool custom = o.o_embd->count() || o.o_layer->count() || o.o_head->count() ||
                        o.o_head_kv->count() || o.o_head_dim->count() || o.o_ff->count();
    const std::string name =
        !o.name.empty() ? o.name
                        : arch + "-" + (custom ? std::string("custom") : o.preset) + "-random";

    gguf::Writer w;
    w.add_string("general.architecture", arch);
    w.add_string("general.name", name);
    add_hparams(w, arch, hp, wt, n_vocab);
    if (byte_vocab) {
        add_byte_vocab(w, bv);
    } else {
        // Every tokenizer.* key, with its exact type.
        for (const auto &kv : vocab_file->metadata())
            if (kv.key.rfind("tokenizer.", 0) == 0) w.add_value(kv.key, kv.value);
        vocab_file.reset();
    }
    w.add_u32("general.quantization_version", 2);

    Generator gen{o.seed,
                  o.threads > 0
                      ? o.threads
                      : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())),
                  wt.type, &w};
    add_tensors(gen, *ai, hp, n_vocab);
    // The writer goes through "<out>.part" and renames it: a failure leaves no partial file.
    namespace fs = std::filesystem;
    const fs::path out_path(o.out);
    std::error_code ec;
    if (out_path.has_parent_path()) {
        fs::create_directories(out_path.parent_path(), ec);
        if (ec) fail(out_path.parent_path().string(), "cannot create directory: " + ec.message());
    }
    try {
        w.write(o.out);
    } catch (const bitnet::Error &e) {
        fail(o.out, e.what());
    }
    const uint64_t file_size = fs::file_size(out_path, ec);
    const double secs = now_seconds() - t0;
    std::fprintf(stderr,
                 "wrote %s: %s (%llu bytes), %s, %s, %d tensors, %s parameters, n_embd %lld, "
                 "%lld layers, %lld/%lld heads of %lld, n_ff %lld, vocab %lld, seed %llu, "
                 "in %.2f s\n",
                 o.out.c_str(), format_bytes(file_size).c_str(),
                 static_cast<unsigned long long>(file_size), arch.c_str(), wt.name, gen.n_tensors,
                 format_count(gen.n_params).c_str(), static_cast<long long>(hp.n_embd),
                 static_cast<long long>(hp.n_layer), static_cast<long long>(hp.n_head),
                 static_cast<long long>(hp.n_head_kv), static_cast<long long>(head_dim),
                 static_cast<long long>(hp.n_ff),
                 static_cast<long long>(n_vocab), static_cast<unsigned long long>(o.seed), secs);
    return 0;
}

}  // namespace

Command add_gen_model(CLI::App &app) {
    auto o = std::make_shared<GenModelOptions>();
    CLI::App *sub = app.add_subcommand("gen-model", "write a random-weight test model");
    sub->footer(
        "Writes a random-weight ternary model of architecture bitnet-b1.58 (the official 2B4T\n"
        "layout), bitnet (1bitLLM) or llama (Llama3-8B-1.58, Falcon3-1.58bit): BitLinear weights\n"
        "in I2_S, TQ2_0, TQ1_0 or F32 (the same trits and scales for one seed, so the ternary\n"
        "files give identical logits), tied F16 embedding, tensor names from the architecture\n"
        "table. I2_S/F32 need --n-embd, --n-ff and n-head x head-dim to be multiples of 128,\n"
        "TQ2_0/TQ1_0 of 256. Presets (arch: hidden, layers, heads/KV heads x head dim, FFN, ctx,\n"
        "vocab; * = guess, not in ternary-formats.md, from the public config.json):\n"
        "  tiny                bitnet-b1.58: 128, 2, 4/2 x 32, 384, 512, byte (~760)\n"
        "  small               bitnet-b1.58: 512, 4, 8/2 x 64, 1536, 2048, byte\n"
        "  2b4t                bitnet-b1.58: 2560, 30, 20/5 x 128, 6912, 4096, 128256\n"
        "  bitnet_b1_58-large  bitnet: 1536, 24, 16*/16* x 96*, 4096, 2048*, 32002*\n"
        "  falcon3-1b          llama: 2048*, 18*, 8*/4* x 256, 8192*, 8192*, 131072*\n"
        "  falcon3-3b          llama: 3072*, 22*, 12*/4* x 256, 9216*, 32768*, 131072*\n"
        "  falcon3-7b          llama: 3072*, 28*, 12*/4* x 256, 23040*, 32768*, 131072*\n"
        "  falcon3-10b         llama: 3072*, 40*, 12*/4* x 256, 23040*, 32768*, 131072*\n"
        "  llama3-8b-1.58      llama: 4096, 32*, 32/8 x 128, 14336, 8192*, 128256*\n"
        "Falcon3: RoPE base 1000042*, RMSNorm eps 1e-6*; bitnet_b1_58-large: RoPE base 10000*.\n"
        "Large vocabularies are the byte vocabulary padded with unused tokens (Llama 3 special\n"
        "tokens last), not the real tokenizers. Individual options override the preset. The text\n"
        "it generates is gibberish; the same seed gives the same weights.");
    sub->add_option("-o,--out", o->out, "output GGUF file (parent directories are created)")
        ->required()
        ->type_name("OUT.gguf");
    sub->add_option("--preset", o->preset, "base hyper-parameters")
        ->check(CLI::IsMember(kPresetNames))
        ->capture_default_str();
    sub->add_option("--arch", o->arch,
                    "general.architecture (default: the preset's): bitnet-b1.58, bitnet, llama")
        ->check(CLI::IsMember({"bitnet-b1.58", "bitnet-25", "bitnet", "llama"}));
    o->o_embd = sub->add_option("--n-embd", o->hp.n_embd, "hidden size (multiple of 128; TQ: 256)")
                    ->check(CLI::Range(int64_t{128}, int64_t{65536}));
    o->o_layer = sub->add_option("--n-layer", o->hp.n_layer, "number of transformer blocks")
                     ->check(CLI::Range(int64_t{1}, int64_t{1024}));
    o->o_head = sub->add_option("--n-head", o->hp.n_head, "attention heads")
                    ->check(CLI::Range(int64_t{1}, int64_t{1024}));
    o->o_head_kv =
        sub->add_option("--n-head-kv", o->hp.n_head_kv, "key/value heads (divides --n-head)")
            ->check(CLI::Range(int64_t{1}, int64_t{1024}));
    o->o_head_dim = sub->add_option("--head-dim", o->hp.head_dim,
                                    "head dimension (default n_embd / n_head; Falcon3: 256)")
                        ->check(CLI::Range(int64_t{2}, int64_t{1024}));
    o->o_ff = sub->add_option("--n-ff", o->hp.n_ff, "feed-forward size (multiple of 128; TQ: 256)")
                  ->check(CLI::Range(int64_t{128}, int64_t{262144}));
    o->o_ctx = sub->add_option("--n-ctx", o->hp.n_ctx, "training context length")
                   ->check(CLI::Range(int64_t{1}, int64_t{1} << 24));
    o->o_rope =
        sub->add_option("--rope-base", o->hp.rope_base, "RoPE frequency base")->check(Positive);
    o->o_vocab = sub->add_option("--vocab", o->vocab,
                                 "'byte': a small byte-level BPE vocabulary made here (padded to "
                                 "the preset's size, Llama 3 special tokens last); or a GGUF file "
                                 "whose tokenizer.* keys are copied (e.g. "
                                 "../shared/fixtures/llama3-vocab.gguf)")
                     ->type_name("byte|FILE.gguf")
                     ->check(CLI::Validator(
                         [](std::string &s) -> std::string {
                             if (s == "byte") return {};
                             if (!CLI::ExistingFile(s).empty())
                                 return "'" + s + "' is neither 'byte' nor an existing file";
                             return {};
                         },
                         "", "VOCAB"))
                     ->capture_default_str();
    o->o_n_vocab = sub->add_option("--n-vocab", o->n_vocab,
                                   "pad the byte vocabulary to this many tokens, Llama 3 special "
                                   "tokens last (0 = no padding; default: the preset's "
                                   "vocabulary size)")
                       ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
    sub->add_option("--weights", o->weights, "storage of the BitLinear weights")
        ->check(CLI::IsMember({"i2s", "tq2_0", "tq1_0", "f32"}))
        ->capture_default_str();
    sub->add_option("--seed", o->seed, "random seed")->capture_default_str();
    sub->add_option("--name", o->name, "general.name (default <arch>-<preset>-random)");
    sub->add_option("-t,--threads", o->threads, "threads drawing weights (0 = all cores)")
        ->check(CLI::Range(0, 1024))
        ->capture_default_str();
    return {sub, [o]() { return run_gen_model(*o); }};
}

}  // namespace bitnet_cli
