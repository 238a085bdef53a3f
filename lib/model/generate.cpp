#include "model/generate.h"

#include <chrono>
#include <random>

#include "bitnet.h"
#include "common/error.h"

namespace bitnet {

namespace {
double now_ms() {
    using namespace std::chrono;
    return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

// Length of the UTF-8 sequence a lead byte announces (0 for a continuation or invalid byte).
int utf8_len(unsigned char c) {
    if (c < 0x80) return 1;
    if ((c & 0xE0) == 0xC0) return 2;
    if ((c & 0xF0) == 0xE0) return 3;
    if ((c & 0xF8) == 0xF0) return 4;
    return 0;
}
}  // namespace

std::string Utf8Stream::push(std::string_view bytes) {
    pending_.append(bytes);
    // Find the start of the last (possibly incomplete) character among the final 3 bytes.
    size_t cut = pending_.size();
    for (size_t back = 1; back <= 3 && back <= pending_.size(); ++back) {
        const unsigned char c = (unsigned char)pending_[pending_.size() - back];
        if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
        const int need = utf8_len(c);
        if (need > (int)back) cut = pending_.size() - back;  // lead waiting for more bytes
        break;
    }
    std::string out = pending_.substr(0, cut);
    pending_.erase(0, cut);
    return out;
}

std::string Utf8Stream::flush() {
    std::string out;
    out.swap(pending_);
    return out;
}

void generate(Context &ctx, const std::vector<int32_t> &prompt, const GenerateOptions &opt,
              const PieceSink &sink, GenerateStats &stats) {
    const Model &model = ctx.model();
    const Tokenizer &tok = model.tokenizer();
    const int32_t n_vocab = model.hparams().n_vocab;
    stats = GenerateStats{};
    if (opt.max_tokens < 0) fail(BITNET_ERR_INVALID_ARGUMENT, "generate: max_tokens must be >= 0");
    Sampler sampler(opt.sampling);

    // Prefill.
    const double t0 = now_ms();
    if (!prompt.empty()) {
        ctx.eval(prompt.data(), prompt.size(), LogitsMode::Last);
        stats.n_prompt_tokens = (int32_t)prompt.size();
    } else if (ctx.n_logits() == 0) {
        fail(BITNET_ERR_INVALID_ARGUMENT,
             "generate: the prompt is empty and the context holds no logits to continue from");
    }
    for (int32_t t : prompt) sampler.accept(t);
    const double t1 = now_ms();
    stats.prompt_ms = t1 - t0;

    // Decode.
    Utf8Stream utf8;
    std::string piece;
    bool stopped = false;
    try {
        while (stats.n_generated < opt.max_tokens) {
            const int32_t id = sampler.sample(ctx.logits(-1), n_vocab);
            ++stats.n_generated;
            stats.last_token = id;
            if (tok.is_eog(id)) {
                stats.stop_reason = BITNET_STOP_EOG;
                stopped = true;
                break;
            }
            piece.clear();
            tok.append_piece(id, opt.render_special, piece);
            const std::string ready = utf8.push(piece);
            if (!sink(ready, id)) {  // once per token, also when its bytes are held back
                stats.stop_reason = BITNET_STOP_CALLBACK;
                stopped = true;
                break;
            }
            if (stats.n_generated == opt.max_tokens) break;
            if (ctx.n_past() >= ctx.n_ctx()) {
                stats.stop_reason = BITNET_STOP_CONTEXT_FULL;
                fail(BITNET_ERR_CONTEXT_FULL,
                     "generate: the context is full (" + std::to_string(ctx.n_ctx()) +
                         " tokens) after " + std::to_string(stats.n_generated) +
                         " generated tokens");
            }
            ctx.eval(&id, 1, LogitsMode::Last);
        }
    } catch (...) {
        stats.generate_ms = now_ms() - t1;
        const std::string rest = utf8.flush();
        if (!rest.empty()) sink(rest, -1);
        throw;
    }
    if (!stopped) stats.stop_reason = BITNET_STOP_MAX_TOKENS;
    const std::string rest = utf8.flush();
    if (!rest.empty() && stats.stop_reason != BITNET_STOP_CALLBACK) sink(rest, -1);
    stats.generate_ms = now_ms() - t1;
}

void bench(Context &ctx, int32_t n_prompt, int32_t n_gen, int32_t repetitions, bool warmup,
           BenchStats &out) {
    const int32_t n_vocab = ctx.model().hparams().n_vocab;
    if (n_prompt < 0 || n_gen < 0 || repetitions < 1) {
        fail(BITNET_ERR_INVALID_ARGUMENT, "bench: sizes must be >= 0 and repetitions >= 1");
    }
    if ((uint32_t)n_prompt > ctx.n_ctx() || (uint32_t)n_gen + 1 > ctx.n_ctx()) {
        fail(BITNET_ERR_CONTEXT_FULL, "bench: pp" + std::to_string(n_prompt) + "/tg" +
                                          std::to_string(n_gen) + " does not fit in n_ctx " +
                                          std::to_string(ctx.n_ctx()));
    }
    std::mt19937 rng(1234);
    std::uniform_int_distribution<int32_t> dist(0, n_vocab - 1);
    std::vector<int32_t> tokens((size_t)std::max(n_prompt, 1));
    for (auto &t : tokens) t = dist(rng);

    out = BenchStats{};
    const int runs = repetitions + (warmup ? 1 : 0);
    if (n_prompt > 0) {
        for (int r = 0; r < runs; ++r) {
            ctx.reset();
            const double t0 = now_ms();
            ctx.eval(tokens.data(), (size_t)n_prompt, LogitsMode::Last);
            const double ms = now_ms() - t0;
            if (r > 0 || !warmup) out.pp_tps.push_back(n_prompt / (ms / 1000.0));
        }
    }
    if (n_gen > 0) {
        for (int r = 0; r < runs; ++r) {
            ctx.reset();
            int32_t tok = tokens[0];
            const double t0 = now_ms();
            for (int32_t i = 0; i < n_gen; ++i) {
                ctx.eval(&tok, 1, LogitsMode::Last);
                tok = dist(rng);
            }
            const double ms = now_ms() - t0;
            if (r > 0 || !warmup) out.tg_tps.push_back(n_gen / (ms / 1000.0));
        }
    }
    ctx.reset();
}

void bench_parallel(Context &ctx, int32_t n_gen, int32_t n_seq, int32_t repetitions, bool warmup,
                    BenchStats &out) {
    if (n_gen < 1 || n_seq < 1 || repetitions < 1) {
        fail(BITNET_ERR_INVALID_ARGUMENT, "bench: n_gen, n_parallel and repetitions must be >= 1");
    }
    if ((uint32_t)n_seq > ctx.n_seq_max() || (uint32_t)n_gen + 1 > ctx.kv().n_ctx_seq()) {
        fail(BITNET_ERR_CONTEXT_FULL,
             "bench: " + std::to_string(n_seq) + " sequences of tg" + std::to_string(n_gen) +
                 " do not fit a context of " + std::to_string(ctx.n_seq_max()) +
                 " sequences of " + std::to_string(ctx.kv().n_ctx_seq()) + " positions");
    }
    std::mt19937 rng(1234);
    std::uniform_int_distribution<int32_t> dist(0, ctx.model().hparams().n_vocab - 1);
    std::vector<int32_t> tok((size_t)n_seq), pos((size_t)n_seq), seq((size_t)n_seq);
    std::vector<int8_t> want((size_t)n_seq, 1);
    for (int32_t s = 0; s < n_seq; ++s) seq[(size_t)s] = s;
    out = BenchStats{};
    const int runs = repetitions + (warmup ? 1 : 0);
    for (int r = 0; r < runs; ++r) {
        ctx.reset();
        const double t0 = now_ms();
        for (int32_t i = 0; i < n_gen; ++i) {
            for (int32_t s = 0; s < n_seq; ++s) {
                tok[(size_t)s] = dist(rng);
                pos[(size_t)s] = i;
            }
            ctx.decode(BatchView{tok.data(), pos.data(), seq.data(), want.data(), n_seq});
        }
        const double ms = now_ms() - t0;
        if (r > 0 || !warmup) out.tg_tps.push_back((double)n_seq * n_gen / (ms / 1000.0));
    }
    ctx.reset();
}

}  // namespace bitnet
