// The bodies of the libFuzzer harnesses, shared by the fuzz entry points (fuzz_*.cpp, built with
// clang -fsanitize=fuzzer) and by tests/test_fuzz_regressions.cpp, which replays the seed corpus
// and every saved crashing input through exactly the same code with any compiler.
//
// A harness returns normally when the library behaved: any status that the C API documents for
// that input, or a bitnet::Error from the internal parsers. A broken property (an undocumented
// status, BITNET_ERR_INTERNAL, a token id out of range, a detokenization that differs from the
// input, ...) throws Finding. Memory errors and undefined behaviour are the sanitizers' job.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "bitnet.h"
#include "common/error.h"
#include "gguf/gguf.h"
#include "tiny_model.h"
#include "tokenizer/tokenizer.h"

namespace bitnet::fuzz {

// A property of the library that does not hold for some input.
struct Finding : std::runtime_error {
    using std::runtime_error::runtime_error;
};

#define BITNET_FUZZ_CHECK(cond, msg)                                                         \
    do {                                                                                     \
        if (!(cond))                                                                         \
            throw ::bitnet::fuzz::Finding(std::string(__FILE__) + ":" +                      \
                                          std::to_string(__LINE__) + ": " #cond ": " + (msg)); \
    } while (0)

inline std::string status_text(bitnet_status s) {
    return std::string(bitnet_status_string(s)) + " (" + std::to_string((int)s) + "): " +
           bitnet_last_error_message();
}

// Every failing status must come with a message.
inline void check_message(bitnet_status s, const char *call) {
    if (s != BITNET_OK) {
        BITNET_FUZZ_CHECK(bitnet_last_error_message()[0] != '\0',
                          std::string(call) + " returned " + bitnet_status_string(s) +
                              " without a message");
    }
    BITNET_FUZZ_CHECK(s != BITNET_ERR_INTERNAL,
                      std::string(call) + " reported an internal error: " + status_text(s));
}

// Reads fuzzer bytes as typed values; past the end everything reads as zero.
class Bytes {
public:
    Bytes(const uint8_t *data, size_t size) : p_(data), n_(size) {}
    size_t left() const { return n_; }
    uint8_t u8() {
        if (!n_) return 0;
        --n_;
        return *p_++;
    }
    template <class T>
    T raw() {
        T v{};
        const size_t k = std::min(sizeof(T), n_);
        std::memcpy(&v, p_, k);
        p_ += k;
        n_ -= k;
        return v;
    }
    uint16_t u16() { return raw<uint16_t>(); }
    uint32_t u32() { return raw<uint32_t>(); }
    uint64_t u64() { return raw<uint64_t>(); }
    float f32() { return raw<float>(); }
    std::string str(size_t max_len) {
        const size_t len = std::min<size_t>(std::min<size_t>(u8(), max_len), n_);
        std::string s(reinterpret_cast<const char *>(p_), len);
        p_ += len;
        n_ -= len;
        return s;
    }
    std::string rest() {
        std::string s(reinterpret_cast<const char *>(p_), n_);
        p_ += n_;
        n_ = 0;
        return s;
    }

private:
    const uint8_t *p_;
    size_t n_;
};

// An anonymous in-memory file holding `bytes`, reachable by path (/proc/self/fd/N), so that the
// C API's path-based loader (mmap or read) sees exactly these bytes.
class MemFile {
public:
    MemFile(const void *data, size_t size) {
        fd_ = ::memfd_create("bitnet-fuzz.gguf", MFD_CLOEXEC);
        if (fd_ < 0) throw std::runtime_error("memfd_create failed");
        const auto *p = static_cast<const uint8_t *>(data);
        for (size_t done = 0; done < size;) {
            const ssize_t w = ::write(fd_, p + done, size - done);
            if (w <= 0) throw std::runtime_error("memfd write failed");
            done += (size_t)w;
        }
        path_ = "/proc/self/fd/" + std::to_string(fd_);
    }
    ~MemFile() { ::close(fd_); }
    MemFile(const MemFile &) = delete;
    MemFile &operator=(const MemFile &) = delete;
    const std::string &path() const { return path_; }

private:
    int fd_ = -1;
    std::string path_;
};

struct ModelDeleter {
    void operator()(bitnet_model *m) const { bitnet_model_free(m); }
};
struct ContextDeleter {
    void operator()(bitnet_context *c) const { bitnet_context_free(c); }
};
using ModelPtr = std::unique_ptr<bitnet_model, ModelDeleter>;
using ContextPtr = std::unique_ptr<bitnet_context, ContextDeleter>;

// ---- fuzz_gguf ----------------------------------------------------------------------------------
// Bytes -> gguf::File::from_memory; when that parses, the same bytes are loaded as a model
// through bitnet_model_load (mmap or read, LM head as stored or Q8, chosen by the last byte), the
// metadata is listed, a small context evaluates 2 tokens and one token is generated greedily.

inline bool status_in(bitnet_status s, std::initializer_list<bitnet_status> ok) {
    return std::find(ok.begin(), ok.end(), s) != ok.end();
}

inline void run_gguf(const uint8_t *data, size_t size) {
    try {
        auto f = gguf::File::from_memory(data, size, "fuzz.gguf");
        // Walk everything the parser exposes.
        for (const auto &kv : f->metadata()) (void)kv.value.to_string();
        for (const auto &t : f->tensors()) {
            BITNET_FUZZ_CHECK(t.data && t.nbytes <= f->file_size() - f->data_offset(), t.name);
        }
    } catch (const bitnet::Error &e) {
        BITNET_FUZZ_CHECK(e.status() == BITNET_ERR_BAD_FORMAT ||
                              e.status() == BITNET_ERR_UNSUPPORTED ||
                              e.status() == BITNET_ERR_IO,
                          std::string("from_memory threw status ") + std::to_string(e.status()) +
                              ": " + e.what());
        return;
    }

    MemFile file(data, size);
    const uint8_t ctl = data[size - 1];
    bitnet_model_params mp = bitnet_model_default_params();
    mp.use_mmap = (ctl & 1) ? 0 : 1;
    mp.lm_head_type = (ctl >> 1) % 3;
    bitnet_model *raw = nullptr;
    bitnet_status s = bitnet_model_load(file.path().c_str(), &mp, &raw);
    check_message(s, "bitnet_model_load");
    BITNET_FUZZ_CHECK(status_in(s, {BITNET_OK, BITNET_ERR_BAD_FORMAT, BITNET_ERR_UNSUPPORTED,
                                    BITNET_ERR_NOT_FOUND, BITNET_ERR_OUT_OF_MEMORY}),
                      "bitnet_model_load: " + status_text(s));
    if (s != BITNET_OK) {
        BITNET_FUZZ_CHECK(raw == nullptr, "model handle set on failure");
        return;
    }
    ModelPtr model(raw);
    const int32_t n_vocab = bitnet_model_n_vocab(model.get());
    BITNET_FUZZ_CHECK(n_vocab > 0, "empty vocabulary accepted");
    BITNET_FUZZ_CHECK(bitnet_model_n_embd(model.get()) > 0 && bitnet_model_n_layer(model.get()) > 0,
                      "bad hyper-parameters accepted");

    // Metadata accessors on every key.
    const int32_t n_meta = bitnet_model_meta_count(model.get());
    std::string buf(64, '\0');
    for (int32_t i = 0; i < n_meta; ++i) {
        size_t needed = 0;
        s = bitnet_model_meta_key(model.get(), i, buf.data(), buf.size(), &needed);
        BITNET_FUZZ_CHECK(s == BITNET_OK || s == BITNET_ERR_BUFFER_TOO_SMALL, status_text(s));
        if (s != BITNET_OK) {
            std::string big(needed, '\0');
            s = bitnet_model_meta_key(model.get(), i, big.data(), big.size(), &needed);
            BITNET_FUZZ_CHECK(s == BITNET_OK, status_text(s));
            s = bitnet_model_meta_get(model.get(), big.c_str(), buf.data(), buf.size(), &needed);
        } else {
            s = bitnet_model_meta_get(model.get(), buf.c_str(), buf.data(), buf.size(), &needed);
        }
        // A key with an embedded NUL is looked up by its prefix, which may be absent.
        BITNET_FUZZ_CHECK(status_in(s, {BITNET_OK, BITNET_ERR_BUFFER_TOO_SMALL,
                                        BITNET_ERR_NOT_FOUND}),
                          status_text(s));
    }

    bitnet_context_params cp = bitnet_context_default_params();
    cp.n_ctx = 8;
    cp.n_threads = 1;
    cp.kv_type = (ctl & 8) ? BITNET_KV_F32 : BITNET_KV_F16;
    bitnet_context *craw = nullptr;
    s = bitnet_context_new(model.get(), &cp, &craw);
    check_message(s, "bitnet_context_new");
    BITNET_FUZZ_CHECK(s == BITNET_OK || s == BITNET_ERR_OUT_OF_MEMORY, status_text(s));
    if (s != BITNET_OK) return;
    ContextPtr ctx(craw);
    model.reset();  // the context keeps the model alive

    // Two tokens (the first and last ids), once or twice (the second chunk at positions 2, 3
    // reads the first one back from the KV cache).
    const bitnet_token toks[2] = {0, n_vocab - 1};
    for (int chunk = 0; chunk < ((ctl & 16) ? 2 : 1); ++chunk) {
        s = bitnet_eval(ctx.get(), toks, 2, BITNET_LOGITS_ALL);
        check_message(s, "bitnet_eval");
        BITNET_FUZZ_CHECK(s == BITNET_OK, "bitnet_eval: " + status_text(s));
        BITNET_FUZZ_CHECK(bitnet_n_logits(ctx.get()) == 2 && bitnet_get_logits(ctx.get(), -1) &&
                              !bitnet_get_logits(ctx.get(), 2),
                          "logit rows");
    }
    bitnet_sampling_params greedy = bitnet_sampling_default_params();
    greedy.temperature = 0.0f;
    bitnet_generate_params gp = bitnet_generate_default_params();
    gp.max_tokens = 1;
    gp.sampling = &greedy;
    bitnet_generate_result res{};
    res.size = sizeof res;
    s = bitnet_generate(ctx.get(), "ab", 2, &gp, nullptr, nullptr, &res);
    check_message(s, "bitnet_generate");
    BITNET_FUZZ_CHECK(s == BITNET_OK || s == BITNET_ERR_CONTEXT_FULL, status_text(s));
}

// ---- fuzz_tokenizer -----------------------------------------------------------------------------
// Byte 0 chooses the vocabulary and flags; the rest is the text. Properties: ids are in range,
// BOS comes first when requested, and the pieces (control tokens rendered) give back the text
// byte for byte.

struct Vocabs {
    std::vector<std::unique_ptr<Tokenizer>> toks;  // tiny llama-bpe, tiny default, [llama3]
};

inline std::unique_ptr<Tokenizer> tokenizer_of(const std::vector<uint8_t> &gguf_bytes) {
    auto f = gguf::File::from_memory(gguf_bytes.data(), gguf_bytes.size(), "tiny.gguf");
    return Tokenizer::from_gguf(*f);
}

// `llama3_path` may be empty or missing: then only the generated vocabularies are used.
inline const Vocabs &vocabs(const std::string &llama3_path) {
    static const Vocabs v = [&] {
        Vocabs r;
        test::TinyModelOptions o;
        o.n_merges = 1000;  // every merge of the word list
        r.toks.push_back(tokenizer_of(test::make_tiny_model(o)));
        o.pre = "";  // absent: plain GPT-2 BPE (no ignore_merges)
        r.toks.push_back(tokenizer_of(test::make_tiny_model(o)));
        if (!llama3_path.empty() && ::access(llama3_path.c_str(), R_OK) == 0) {
            auto f = gguf::File::open(llama3_path);
            r.toks.push_back(Tokenizer::from_gguf(*f));
        } else {
            std::fprintf(stderr, "fuzz_tokenizer: %s not readable; Llama 3 vocabulary skipped\n",
                         llama3_path.c_str());
        }
        return r;
    }();
    return v;
}

inline void run_tokenizer(const uint8_t *data, size_t size, const std::string &llama3_path) {
    if (size == 0) return;
    const Vocabs &v = vocabs(llama3_path);
    const uint8_t flags = data[0];
    const Tokenizer &tok = *v.toks[(flags >> 2) % v.toks.size()];
    const bool parse_special = flags & 1, add_bos = flags & 2;
    const std::string_view text(reinterpret_cast<const char *>(data + 1), size - 1);

    const std::vector<int32_t> ids = tok.tokenize(text, add_bos, parse_special);
    size_t first = 0;
    if (add_bos && tok.add_bos()) {
        BITNET_FUZZ_CHECK(!ids.empty() && ids[0] == tok.bos(), "BOS missing");
        first = 1;
    }
    std::string back;
    for (size_t i = 0; i < ids.size(); ++i) {
        BITNET_FUZZ_CHECK(ids[i] >= 0 && ids[i] < tok.n_vocab(),
                          "token id " + std::to_string(ids[i]) + " out of range");
        if (!parse_special && i >= first) {
            BITNET_FUZZ_CHECK(!tok.is_control(ids[i]), "control token " + std::to_string(ids[i]) +
                                                           " produced without parse_special");
        }
        if (i >= first) tok.append_piece(ids[i], /*render_special=*/true, back);
    }
    BITNET_FUZZ_CHECK(back == text, "detokenize(tokenize(text)) != text for vocabulary " +
                                        std::to_string((flags >> 2) % v.toks.size()) +
                                        ", parse_special " + std::to_string(parse_special) +
                                        ": " + std::to_string(text.size()) + " bytes in, " +
                                        std::to_string(back.size()) + " out");
}

// ---- fuzz_chat_sampling -------------------------------------------------------------------------
// Byte 0 picks the operation: chat formatting, a sampler with fuzzed parameters on fuzzed logits,
// or generation / perplexity / bench on a generated tiny model with fuzzed parameters.

inline std::string strip_ws(std::string_view s) {
    auto sp = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
    while (!s.empty() && sp(s.front())) s.remove_prefix(1);
    while (!s.empty() && sp(s.back())) s.remove_suffix(1);
    return std::string(s);
}

inline void run_chat(Bytes &in) {
    static const char *const kRoles[] = {"system", "user", "assistant", "USER", "Assistant",
                                         "sYsTeM", "", "bot", "user "};
    const size_t n = in.u8() % 6;
    std::vector<std::string> roles(n), contents(n);
    std::vector<bitnet_chat_message> msgs(n);
    std::vector<bool> null_field(n);
    for (size_t i = 0; i < n; ++i) {
        const uint8_t r = in.u8();
        roles[i] = r < 200 ? kRoles[r % 9] : in.str(16);
        contents[i] = in.str(255);
        null_field[i] = in.u8() == 0xff;
    }
    bool expect_invalid = false;
    std::string expected;
    for (size_t i = 0; i < n; ++i) {
        msgs[i].role = roles[i].c_str();
        msgs[i].content = contents[i].c_str();
        if (null_field[i]) {
            (i % 2 ? msgs[i].role : msgs[i].content) = nullptr;
            expect_invalid = true;
            continue;
        }
        // The C strings end at the first NUL.
        std::string role(roles[i].c_str());
        for (auto &c : role) c = (char)std::tolower((unsigned char)c);
        if (role == "system") expected += "System: ";
        else if (role == "user") expected += "User: ";
        else if (role == "assistant") expected += "Assistant: ";
        else expect_invalid = true;
        expected += strip_ws(contents[i].c_str());
        expected += "<|eot_id|>";
    }
    const int gen = in.u8() & 1;
    if (gen) expected += "Assistant: ";

    size_t needed = 12345;
    bitnet_status s = bitnet_chat_format(msgs.data(), n, gen, nullptr, 0, &needed);
    check_message(s, "bitnet_chat_format");
    if (expect_invalid) {
        BITNET_FUZZ_CHECK(s == BITNET_ERR_INVALID_ARGUMENT, status_text(s));
        return;
    }
    BITNET_FUZZ_CHECK(s == BITNET_ERR_BUFFER_TOO_SMALL && needed == expected.size() + 1,
                      status_text(s) + ", needed " + std::to_string(needed));
    std::string out(needed, 'x');
    s = bitnet_chat_format(msgs.data(), n, gen, out.data(), needed - 1, &needed);
    BITNET_FUZZ_CHECK(s == BITNET_ERR_BUFFER_TOO_SMALL, status_text(s));
    s = bitnet_chat_format(msgs.data(), n, gen, out.data(), out.size(), nullptr);
    BITNET_FUZZ_CHECK(s == BITNET_OK, status_text(s));
    BITNET_FUZZ_CHECK(out.back() == '\0' && out.compare(0, out.size() - 1, expected) == 0,
                      "formatted text differs from the documented format");
}

inline bitnet_sampling_params fuzz_sampling(Bytes &in) {
    bitnet_sampling_params p = bitnet_sampling_default_params();
    const uint8_t which = in.u8();
    // Each field is either kept, set to a special value or to raw fuzzed bits.
    auto pick_f = [&](float &f, uint8_t sel) {
        static const float kSpecial[] = {0.0f, -0.0f, 1.0f, -1.0f, 0.5f, 1e-30f, 1e30f,
                                         INFINITY, -INFINITY, NAN, 2.0f, 1e-45f};
        switch (sel % 3) {
            case 0: break;
            case 1: f = kSpecial[in.u8() % 12]; break;
            default: f = in.f32();
        }
    };
    pick_f(p.temperature, which);
    pick_f(p.top_p, which >> 2);
    pick_f(p.min_p, which >> 4);
    pick_f(p.repeat_penalty, which >> 6);
    const uint8_t ints = in.u8();
    if (ints & 1) p.top_k = (int32_t)in.u32();
    if (ints & 2) p.repeat_last_n = (int32_t)(in.u32() % 100000) * ((ints & 4) ? -1 : 1);
    if (ints & 8) p.seed = in.u64();
    if (ints & 16) p.size = in.u8();  // 0, partial or too large sizes
    return p;
}

inline bool sampling_valid(const bitnet_sampling_params &p) {
    return std::isfinite(p.temperature) && p.top_p >= 0.0f && p.top_p <= 1.0f &&
           p.min_p >= 0.0f && p.min_p <= 1.0f && p.repeat_penalty > 0.0f &&
           std::isfinite(p.repeat_penalty) && p.repeat_last_n >= 0;
}

inline void run_sampler(Bytes &in) {
    const bitnet_sampling_params p = fuzz_sampling(in);
    bitnet_sampler *raw = nullptr;
    bitnet_status s = bitnet_sampler_new(&p, &raw);
    check_message(s, "bitnet_sampler_new");
    const bool size_ok = p.size >= sizeof(size_t) && p.size <= sizeof p;
    if (!size_ok) {
        BITNET_FUZZ_CHECK(s == BITNET_ERR_INVALID_ARGUMENT && !raw, status_text(s));
        return;
    }
    if (p.size == sizeof p) {
        BITNET_FUZZ_CHECK((s == BITNET_OK) == sampling_valid(p),
                          "sampler_new " + status_text(s) + " for parameters that are " +
                              (sampling_valid(p) ? "valid" : "invalid"));
    }
    BITNET_FUZZ_CHECK(s == BITNET_OK || s == BITNET_ERR_INVALID_ARGUMENT, status_text(s));
    if (s != BITNET_OK) return;
    std::unique_ptr<bitnet_sampler, void (*)(bitnet_sampler *)> sampler(raw, bitnet_sampler_free);

    const int32_t n_vocab = 1 + in.u16() % 1024;
    std::vector<float> logits((size_t)n_vocab);
    const uint8_t fill = in.u8();
    for (int32_t i = 0; i < n_vocab; ++i) {
        switch (fill % 6) {
            case 0: logits[(size_t)i] = in.f32(); break;  // raw bits: NaN, inf, denormals
            case 1: logits[(size_t)i] = NAN; break;
            case 2: logits[(size_t)i] = (i % 3) ? -INFINITY : INFINITY; break;
            case 3: logits[(size_t)i] = (float)(int8_t)in.u8(); break;
            case 4: logits[(size_t)i] = -INFINITY; break;
            default: logits[(size_t)i] = (float)(i % 7) * 1e30f; break;
        }
    }
    const int rounds = 1 + in.u8() % 8;
    std::vector<bitnet_token> first_run;
    for (int pass = 0; pass < 2; ++pass) {
        Bytes replay = in;  // the second pass repeats the same calls after a reset
        for (int r = 0; r < rounds; ++r) {
            if (replay.u8() & 1) {
                s = bitnet_sampler_accept(sampler.get(), (bitnet_token)replay.u32());
                BITNET_FUZZ_CHECK(s == BITNET_OK, status_text(s));
            }
            bitnet_token id = -1;
            s = bitnet_sampler_sample(sampler.get(), logits.data(), n_vocab, &id);
            BITNET_FUZZ_CHECK(s == BITNET_OK, "bitnet_sampler_sample: " + status_text(s));
            BITNET_FUZZ_CHECK(id >= 0 && id < n_vocab, "sampled id " + std::to_string(id) +
                                                           " outside [0, " +
                                                           std::to_string(n_vocab) + ")");
            if (pass == 0) {
                first_run.push_back(id);
            } else {
                BITNET_FUZZ_CHECK(first_run[(size_t)r] == id, "same seed, different tokens");
            }
        }
        s = bitnet_sampler_reset(sampler.get());
        BITNET_FUZZ_CHECK(s == BITNET_OK, status_text(s));
    }
    bitnet_token id;
    s = bitnet_sampler_sample(sampler.get(), logits.data(), 0, &id);
    BITNET_FUZZ_CHECK(s == BITNET_ERR_INVALID_ARGUMENT, "n_vocab 0: " + status_text(s));
}

// One context on a generated tiny model, shared by all runs (reset at the start of each).
struct GenState {
    ModelPtr model;
    ContextPtr ctx;
};

inline GenState &gen_state() {
    static GenState st = [] {
        GenState g;
        const auto bytes = test::make_tiny_model(test::TinyModelOptions{});
        MemFile f(bytes.data(), bytes.size());
        bitnet_model *m = nullptr;
        if (bitnet_model_load(f.path().c_str(), nullptr, &m) != BITNET_OK)
            throw std::runtime_error(std::string("tiny model: ") + bitnet_last_error_message());
        g.model.reset(m);
        bitnet_context_params cp = bitnet_context_default_params();
        cp.n_ctx = 32;
        cp.n_threads = 1;
        bitnet_context *c = nullptr;
        if (bitnet_context_new(m, &cp, &c) != BITNET_OK)
            throw std::runtime_error(std::string("tiny context: ") + bitnet_last_error_message());
        g.ctx.reset(c);
        return g;
    }();
    return st;
}

struct Collected {
    std::string text;
    int calls = 0;
    int stop_after = -1;
};

extern "C" inline int fuzz_collect_piece(const char *piece, size_t len, bitnet_token,
                                         void *user) {
    auto *c = static_cast<Collected *>(user);
    c->text.append(piece, len);
    ++c->calls;
    return c->stop_after >= 0 && c->calls >= c->stop_after;
}

inline void run_generate(Bytes &in) {
    GenState &g = gen_state();
    bitnet_context *ctx = g.ctx.get();
    BITNET_FUZZ_CHECK(bitnet_context_reset(ctx) == BITNET_OK, "reset");
    const int32_t n_vocab = bitnet_model_n_vocab(g.model.get());
    const uint8_t op = in.u8();

    if (op % 4 == 2) {  // perplexity with a fuzzed chunk size
        const int32_t n_chunk = (int32_t)(int8_t)in.u8();
        const int32_t max_chunks = (int32_t)(int8_t)in.u8();
        const std::string text = in.rest();
        bitnet_perplexity_result r{};
        r.size = sizeof r;
        const bitnet_status s = bitnet_perplexity(ctx, text.data(), text.size(), n_chunk,
                                                  max_chunks, nullptr, nullptr, &r);
        check_message(s, "bitnet_perplexity");
        BITNET_FUZZ_CHECK(s == BITNET_OK || s == BITNET_ERR_INVALID_ARGUMENT, status_text(s));
        if (s == BITNET_OK) BITNET_FUZZ_CHECK(r.n_scored > 0 && r.ppl > 0, "perplexity result");
        BITNET_FUZZ_CHECK(bitnet_context_n_past(ctx) == 0, "perplexity leaves the cache reset");
        return;
    }
    if (op % 4 == 3) {  // bench with fuzzed sizes
        bitnet_bench_params bp = bitnet_bench_default_params();
        bp.n_prompt = (int32_t)(int8_t)in.u8() % 40;
        bp.n_gen = (int32_t)(int8_t)in.u8() % 40;
        bp.repetitions = (int32_t)(int8_t)in.u8() % 3;
        bp.warmup = in.u8() & 1;
        bitnet_bench_result r{};
        r.size = sizeof r;
        const bitnet_status s = bitnet_bench(ctx, &bp, &r);
        check_message(s, "bitnet_bench");
        const bool valid = bp.n_prompt >= 0 && bp.n_gen >= 0 && bp.repetitions >= 1;
        const bool fits = bp.n_prompt <= 32 && bp.n_gen + 1 <= 32;
        BITNET_FUZZ_CHECK(s == (!valid ? BITNET_ERR_INVALID_ARGUMENT
                                       : !fits ? BITNET_ERR_CONTEXT_FULL : BITNET_OK),
                          status_text(s));
        return;
    }

    bitnet_generate_params gp = bitnet_generate_default_params();
    gp.max_tokens = (int32_t)(int8_t)in.u8() % 48;
    const bitnet_sampling_params sampling = fuzz_sampling(in);
    gp.sampling = &sampling;
    const uint8_t flags = in.u8();
    gp.add_bos = flags & 1;
    gp.parse_special = (flags >> 1) & 1;
    gp.render_special = (flags >> 2) & 1;
    Collected col;
    col.stop_after = (flags & 8) ? in.u8() % 4 : -1;
    bitnet_generate_result res{};
    res.size = sizeof res;
    const bool sampling_ok = sampling_valid(sampling) &&
                             sampling.size == sizeof(bitnet_sampling_params);
    bitnet_status s;
    size_t n_prompt = 0;
    if (op % 4 == 1) {  // token prompt, ids possibly out of range
        std::vector<bitnet_token> ids(in.u8() % 40);
        bool in_range = true;
        for (auto &id : ids) {
            id = (in.u8() & 0x80) ? (bitnet_token)in.u32() : (bitnet_token)(in.u16() % n_vocab);
            in_range = in_range && id >= 0 && id < n_vocab;
        }
        n_prompt = ids.size();
        s = bitnet_generate_tokens(ctx, ids.data(), ids.size(), &gp, fuzz_collect_piece, &col,
                                   &res);
        check_message(s, "bitnet_generate_tokens");
        if (!in_range && !ids.empty() && sampling_ok && gp.max_tokens >= 0 && ids.size() <= 32) {
            BITNET_FUZZ_CHECK(s == BITNET_ERR_INVALID_ARGUMENT, status_text(s));
        }
    } else {
        const std::string prompt = in.rest();
        s = bitnet_generate(ctx, prompt.data(), prompt.size(), &gp, fuzz_collect_piece, &col,
                            &res);
        check_message(s, "bitnet_generate");
        n_prompt = prompt.size();
    }
    BITNET_FUZZ_CHECK(status_in(s, {BITNET_OK, BITNET_ERR_INVALID_ARGUMENT,
                                    BITNET_ERR_CONTEXT_FULL}),
                      status_text(s));
    if (gp.max_tokens < 0 || (!sampling_ok && sampling.size == sizeof(bitnet_sampling_params)))
        BITNET_FUZZ_CHECK(s == BITNET_ERR_INVALID_ARGUMENT, "invalid parameters accepted");
    if (s == BITNET_OK) {
        BITNET_FUZZ_CHECK(res.n_generated <= gp.max_tokens, "more tokens than max_tokens");
        BITNET_FUZZ_CHECK(res.stop_reason == BITNET_STOP_EOG ||
                              res.stop_reason == BITNET_STOP_MAX_TOKENS ||
                              res.stop_reason == BITNET_STOP_CALLBACK,
                          "stop reason " + std::to_string(res.stop_reason));
    }
    BITNET_FUZZ_CHECK(bitnet_context_n_past(ctx) <= bitnet_context_n_ctx(ctx), "n_past > n_ctx");
    (void)n_prompt;
}

inline void run_chat_sampling(const uint8_t *data, size_t size) {
    Bytes in(data, size);
    switch (in.u8() % 3) {
        case 0: run_chat(in); break;
        case 1: run_sampler(in); break;
        default: run_generate(in); break;
    }
}

}  // namespace bitnet::fuzz
