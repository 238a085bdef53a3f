#include "model/generate.h"

#include "bitnet.h"
#include "common/clock.h"
#include "common/error.h"

namespace bitnet {

namespace {

// Length of the UTF-8 sequence a lead byte announces (0 for a continuation or invalid byte).
int utf8_len(unsigned char c) {
    if (c < 0x80) return 1;
    if ((c & 0xE0) == 0xC0) return 2;
    if ((c & 0xF0) == 0xE0) return 3;
    if ((c & 0xF8) == 0xF0) return 4;
    return 0;
}
}  // namespace

uint64_t generate_seed(uint64_t context_seed, uint64_t call_number) {
    // splitmix64 of (context seed, call number): distinct per call, reproducible per seed
    uint64_t z = context_seed + 0x9e3779b97f4a7c15ull * call_number;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double GenerateStats::prompt_tokens_per_s() const {
    return prompt_ms > 0 ? n_prompt_tokens / (prompt_ms / 1000.0) : 0.0;
}

double GenerateStats::generate_tokens_per_s() const {
    // The first sampled token needs no eval (its logits come from the prefill).
    const int decoded = n_generated > 1 ? n_generated - 1 : 0;
    return generate_ms > 0 ? decoded / (generate_ms / 1000.0) : 0.0;
}

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

}  // namespace bitnet
