// The C API of batched decoding, KV cache sequence edits, state save/load and embeddings
// (bitnet.h, "Batched decoding of several sequences ..."). Argument checks and marshalling only;
// the work is in bitnet::Context and bitnet::KvCache.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "api_internal.h"

using namespace bitnet::api;

namespace {

constexpr int32_t kMaxBatch = 1 << 24;

// The context of a C handle, or nullptr.
bitnet::Context *impl(const bitnet_context *ctx) { return ctx ? ctx->impl.get() : nullptr; }

// bitnet_batch_add's work; throws (the messages allocate), so it runs inside guarded().
bitnet_status batch_add(bitnet_batch *batch, bitnet_token token, int32_t pos, int32_t seq_id,
                        int logits) {
    if (!batch || !batch->token || !batch->pos || !batch->seq_id || !batch->logits) {
        return invalid("bitnet_batch_add: batch is NULL or not initialised");
    }
    if (batch->n_tokens < 0 || batch->n_tokens >= batch->capacity) {
        return invalid("bitnet_batch_add: the batch is full (capacity " +
                       std::to_string(batch->capacity) + ")");
    }
    const int32_t i = batch->n_tokens++;
    batch->token[i] = token;
    batch->pos[i] = pos;
    batch->seq_id[i] = seq_id;
    batch->logits[i] = logits ? 1 : 0;
    return BITNET_OK;
}

}  // namespace

bitnet_status bitnet_batch_init(int32_t capacity, bitnet_batch *batch) {
    return guarded([&]() -> bitnet_status {
        if (!batch) return invalid("bitnet_batch_init: batch is NULL");
        *batch = bitnet_batch{};
        if (capacity < 1 || capacity > kMaxBatch) {
            return invalid("bitnet_batch_init: capacity " + std::to_string(capacity) +
                           " must be in [1, " + std::to_string(kMaxBatch) + "]");
        }
        const size_t n = (size_t)capacity;
        bitnet_batch b{};
        b.capacity = capacity;
        b.token = static_cast<bitnet_token *>(std::calloc(n, sizeof(bitnet_token)));
        b.pos = static_cast<int32_t *>(std::calloc(n, sizeof(int32_t)));
        b.seq_id = static_cast<int32_t *>(std::calloc(n, sizeof(int32_t)));
        b.logits = static_cast<int8_t *>(std::calloc(n, sizeof(int8_t)));
        if (!b.token || !b.pos || !b.seq_id || !b.logits) {
            bitnet_batch_free(&b);
            return set_error(BITNET_ERR_OUT_OF_MEMORY, "bitnet_batch_init: out of memory");
        }
        *batch = b;
        return BITNET_OK;
    });
}

void bitnet_batch_free(bitnet_batch *batch) {
    if (!batch) return;
    std::free(batch->token);
    std::free(batch->pos);
    std::free(batch->seq_id);
    std::free(batch->logits);
    *batch = bitnet_batch{};
}

void bitnet_batch_clear(bitnet_batch *batch) {
    if (batch) batch->n_tokens = 0;
}

bitnet_status bitnet_batch_add(bitnet_batch *batch, bitnet_token token, int32_t pos,
                               int32_t seq_id, int logits) {
    return guarded([&] { return batch_add(batch, token, pos, seq_id, logits); });
}

bitnet_status bitnet_decode(bitnet_context *ctx, const bitnet_batch *batch) {
    return guarded([&]() -> bitnet_status {
        if (!ctx || !batch) return invalid("bitnet_decode: ctx and batch must not be NULL");
        if (batch->n_tokens <= 0 || batch->n_tokens > batch->capacity) {
            return invalid("bitnet_decode: n_tokens " + std::to_string(batch->n_tokens) +
                           " must be in [1, capacity = " + std::to_string(batch->capacity) + "]");
        }
        if (!batch->token || !batch->pos || !batch->seq_id || !batch->logits) {
            return invalid("bitnet_decode: the batch arrays must not be NULL");
        }
        try {
            ctx->impl->decode(bitnet::BatchView{batch->token, batch->pos, batch->seq_id,
                                                batch->logits, batch->n_tokens});
        } catch (const bitnet::Error &e) {
            if (e.status() == BITNET_ERR_ABORTED) ctx->impl->clear_abort();
            throw;
        }
        return BITNET_OK;
    });
}

const float *bitnet_get_logits_ith(bitnet_context *ctx, int32_t i) {
    return guarded_value<const float *>(nullptr,
                                        [&] { return ctx ? ctx->impl->logits_ith(i) : nullptr; });
}

const float *bitnet_get_embeddings_ith(bitnet_context *ctx, int32_t i) {
    return guarded_value<const float *>(
        nullptr, [&] { return ctx ? ctx->impl->embeddings_ith(i) : nullptr; });
}

const float *bitnet_get_embeddings_seq(bitnet_context *ctx, int32_t seq_id) {
    return guarded_value<const float *>(
        nullptr, [&] { return ctx ? ctx->impl->embeddings_seq(seq_id) : nullptr; });
}

bitnet_status bitnet_kv_seq_rm(bitnet_context *ctx, int32_t seq_id, int32_t p0, int32_t p1) {
    return guarded([&]() -> bitnet_status {
        if (!ctx) return invalid("bitnet_kv_seq_rm: ctx is NULL");
        ctx->impl->kv().seq_rm(seq_id, p0, p1);
        return BITNET_OK;
    });
}

bitnet_status bitnet_kv_seq_cp(bitnet_context *ctx, int32_t src, int32_t dst, int32_t p0,
                               int32_t p1) {
    return guarded([&]() -> bitnet_status {
        if (!ctx) return invalid("bitnet_kv_seq_cp: ctx is NULL");
        ctx->impl->kv().seq_cp(src, dst, p0, p1);
        return BITNET_OK;
    });
}

bitnet_status bitnet_kv_seq_keep(bitnet_context *ctx, int32_t seq_id) {
    return guarded([&]() -> bitnet_status {
        if (!ctx) return invalid("bitnet_kv_seq_keep: ctx is NULL");
        ctx->impl->kv().seq_keep(seq_id);
        return BITNET_OK;
    });
}

int32_t bitnet_kv_seq_pos_max(const bitnet_context *ctx, int32_t seq_id) {
    return guarded_value<int32_t>(-1, [&] {
        const bitnet::Context *c = impl(ctx);
        if (!c || seq_id < 0 || (uint32_t)seq_id >= c->n_seq_max()) return -1;
        return (int32_t)c->kv().seq_len((uint32_t)seq_id) - 1;
    });
}

uint32_t bitnet_context_n_seq_max(const bitnet_context *ctx) {
    return guarded_value<uint32_t>(0, [&] { return ctx ? impl(ctx)->n_seq_max() : 0; });
}

size_t bitnet_state_size(const bitnet_context *ctx) {
    return guarded_value<size_t>(0, [&] { return ctx ? impl(ctx)->kv().state_size() : 0; });
}

bitnet_status bitnet_state_save(const bitnet_context *ctx, void *buf, size_t buf_size,
                                size_t *n_written) {
    if (n_written) *n_written = 0;
    return guarded([&]() -> bitnet_status {
        if (!ctx) return invalid("bitnet_state_save: ctx is NULL");
        const size_t need = ctx->impl->kv().state_size();
        if (n_written) *n_written = need;
        if (!buf && buf_size > 0) return invalid("bitnet_state_save: buf is NULL");
        if (buf_size < need) {
            return set_error(BITNET_ERR_BUFFER_TOO_SMALL,
                             "bitnet_state_save: buffer of " + std::to_string(buf_size) +
                                 " bytes is too small; " + std::to_string(need) + " needed");
        }
        ctx->impl->kv().state_write(static_cast<uint8_t *>(buf));
        return BITNET_OK;
    });
}

bitnet_status bitnet_state_load(bitnet_context *ctx, const void *buf, size_t size) {
    return guarded([&]() -> bitnet_status {
        if (!ctx || !buf) return invalid("bitnet_state_load: ctx and buf must not be NULL");
        ctx->impl->kv().state_read(static_cast<const uint8_t *>(buf), size);
        return BITNET_OK;
    });
}

namespace {

struct FileCloser {
    void operator()(std::FILE *f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

}  // namespace

bitnet_status bitnet_state_save_file(const bitnet_context *ctx, const char *path) {
    return guarded([&]() -> bitnet_status {
        if (!ctx || !path) return invalid("bitnet_state_save_file: ctx and path must not be NULL");
        std::vector<uint8_t> buf(ctx->impl->kv().state_size());
        ctx->impl->kv().state_write(buf.data());
        FilePtr f(std::fopen(path, "wb"));
        if (!f) return set_error(BITNET_ERR_IO, std::string(path) + ": cannot open for writing");
        if (std::fwrite(buf.data(), 1, buf.size(), f.get()) != buf.size() ||
            std::fflush(f.get()) != 0) {
            return set_error(BITNET_ERR_IO, std::string(path) + ": write failed");
        }
        return BITNET_OK;
    });
}

bitnet_status bitnet_state_load_file(bitnet_context *ctx, const char *path) {
    return guarded([&]() -> bitnet_status {
        if (!ctx || !path) return invalid("bitnet_state_load_file: ctx and path must not be NULL");
        FilePtr f(std::fopen(path, "rb"));
        if (!f) return set_error(BITNET_ERR_IO, std::string(path) + ": cannot open");
        std::vector<uint8_t> buf;
        uint8_t chunk[1 << 16];
        size_t n;
        while ((n = std::fread(chunk, 1, sizeof chunk, f.get())) > 0) buf.insert(buf.end(), chunk, chunk + n);
        if (std::ferror(f.get())) return set_error(BITNET_ERR_IO, std::string(path) + ": read failed");
        ctx->impl->kv().state_read(buf.data(), buf.size());
        return BITNET_OK;
    });
}
