// KV cache storage, sequence edits and state (de)serialisation.
#include "memory/kv_cache.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "common/error.h"

namespace bitnet {

namespace {

constexpr uint32_t kStateMagic = 0x564b4e42;  // "BNKV"
constexpr uint32_t kStateVersion = 1;
constexpr size_t kHeaderWords = 8;  // magic, version, n_layer, n_head_kv, head_dim, n_ctx_seq, n_seq, f32

}  // namespace

KvCache::KvCache(int32_t n_layer, int32_t n_head_kv, int32_t head_dim, uint32_t n_ctx_seq,
                 uint32_t n_seq, bool f32, bool with_storage)
    : n_layer_(n_layer), n_head_kv_(n_head_kv), head_dim_(head_dim), n_ctx_seq_(n_ctx_seq),
      n_seq_(n_seq), f32_(f32), len_(n_seq, 0) {
    const size_t elems = (size_t)n_seq * (size_t)n_head_kv * head_stride();
    for (int il = 0; with_storage && il < n_layer; ++il) {
        if (f32) {
            kf_.emplace_back(elems);
            vf_.emplace_back(elems);
        } else {
            kh_.emplace_back(elems);
            vh_.emplace_back(elems);
        }
    }
}

uint32_t KvCache::cells_used() const {
    uint32_t n = 0;
    for (uint32_t l : len_) n += l;
    return n;
}

void KvCache::check_seq(int32_t s, const char *what) const {
    if (s < 0 || (uint32_t)s >= n_seq_) {
        fail(BITNET_ERR_INVALID_ARGUMENT, std::string(what) + ": sequence id " +
                                              std::to_string(s) + " is outside [0, " +
                                              std::to_string(n_seq_) + ")");
    }
}

void KvCache::seq_rm(int32_t s, int32_t p0, int32_t p1) {
    if (s < 0) {
        for (uint32_t i = 0; i < n_seq_; ++i) seq_rm((int32_t)i, p0, p1);
        return;
    }
    check_seq(s, "seq_rm");
    const uint32_t len = len_[(size_t)s];
    const uint32_t a = (uint32_t)std::max(p0, 0);
    const uint32_t b = p1 < 0 ? len : std::min((uint32_t)p1, len);
    if (a >= b) return;  // nothing of the range is in the cache
    if (b < len) {
        fail(BITNET_ERR_UNSUPPORTED,
             "seq_rm: removing positions [" + std::to_string(a) + ", " + std::to_string(b) +
                 ") of sequence " + std::to_string(s) + " (length " + std::to_string(len) +
                 ") would leave a hole; only a suffix can be removed");
    }
    len_[(size_t)s] = a;
}

// Copies the cells of src in [p0, p1) to dst. The result must be a prefix of dst: p0 must be 0
// (or dst already hold positions up to p0), so dst's cells stay a run without holes.
void KvCache::seq_cp(int32_t src, int32_t dst, int32_t p0, int32_t p1) {
    check_storage("seq_cp");
    check_seq(src, "seq_cp");
    check_seq(dst, "seq_cp");
    if (src == dst) return;
    const uint32_t len = len_[(size_t)src];
    const uint32_t a = (uint32_t)std::max(p0, 0);
    const uint32_t b = p1 < 0 ? len : std::min((uint32_t)p1, len);
    if (a >= b) return;
    if (a > len_[(size_t)dst]) {
        fail(BITNET_ERR_UNSUPPORTED, "seq_cp: copying positions from " + std::to_string(a) +
                                         " into sequence " + std::to_string(dst) + " of length " +
                                         std::to_string(len_[(size_t)dst]) +
                                         " would leave a hole");
    }
    // Cells [a, b) of src to the same positions of dst (cell = position in every stream).
    const size_t skip = (size_t)a * (size_t)head_dim_;
    const size_t bytes = (size_t)(b - a) * (size_t)head_dim_ * (f32_ ? 4 : 2);
    for (int il = 0; il < n_layer_; ++il) {
        for (int64_t g = 0; g < n_head_kv_; ++g) {
            if (f32_) {
                std::memcpy(k_f32(il, (uint32_t)dst, g) + skip, k_f32(il, (uint32_t)src, g) + skip, bytes);
                std::memcpy(v_f32(il, (uint32_t)dst, g) + skip, v_f32(il, (uint32_t)src, g) + skip, bytes);
            } else {
                std::memcpy(k_f16(il, (uint32_t)dst, g) + skip, k_f16(il, (uint32_t)src, g) + skip, bytes);
                std::memcpy(v_f16(il, (uint32_t)dst, g) + skip, v_f16(il, (uint32_t)src, g) + skip, bytes);
            }
        }
    }
    len_[(size_t)dst] = b;
}

void KvCache::seq_keep(int32_t s) {
    check_seq(s, "seq_keep");
    for (uint32_t i = 0; i < n_seq_; ++i) {
        if (i != (uint32_t)s) len_[i] = 0;
    }
}

int32_t KvCache::seq_pos_max(int32_t s) const {
    check_seq(s, "seq_pos_max");
    return (int32_t)len_[(size_t)s] - 1;
}

void KvCache::clear() { std::fill(len_.begin(), len_.end(), 0u); }

void KvCache::check_storage(const char *what) const {
    if (!has_storage()) {
        fail(BITNET_ERR_UNSUPPORTED, std::string(what) + ": the KV cache of this context is "
                                                         "held by the GPU backend");
    }
}

size_t KvCache::state_size() const {
    const size_t elem = f32_ ? 4 : 2;
    size_t bytes = (kHeaderWords + n_seq_) * sizeof(uint32_t);
    for (uint32_t s = 0; s < n_seq_; ++s) {
        bytes += 2 * (size_t)n_layer_ * (size_t)n_head_kv_ * len_[s] * (size_t)head_dim_ * elem;
    }
    return bytes;
}

void KvCache::state_write(uint8_t *dst) const {
    check_storage("state_save");
    const uint32_t header[kHeaderWords] = {kStateMagic,         kStateVersion,
                                           (uint32_t)n_layer_,  (uint32_t)n_head_kv_,
                                           (uint32_t)head_dim_, n_ctx_seq_,
                                           n_seq_,              f32_ ? 1u : 0u};
    std::memcpy(dst, header, sizeof header);
    dst += sizeof header;
    std::memcpy(dst, len_.data(), n_seq_ * sizeof(uint32_t));
    dst += n_seq_ * sizeof(uint32_t);
    const size_t elem = f32_ ? 4 : 2;
    auto *self = const_cast<KvCache *>(this);  // the accessors are shared with the writers
    for (int il = 0; il < n_layer_; ++il) {
        for (uint32_t s = 0; s < n_seq_; ++s) {
            for (int64_t g = 0; g < n_head_kv_; ++g) {
                const size_t bytes = (size_t)len_[s] * (size_t)head_dim_ * elem;
                const void *k = f32_ ? (const void *)self->k_f32(il, s, g) : self->k_f16(il, s, g);
                const void *v = f32_ ? (const void *)self->v_f32(il, s, g) : self->v_f16(il, s, g);
                std::memcpy(dst, k, bytes);
                std::memcpy(dst + bytes, v, bytes);
                dst += 2 * bytes;
            }
        }
    }
}

void KvCache::state_read(const uint8_t *src, size_t size) {
    check_storage("state_load");
    clear();
    auto bad = [](const std::string &why) { fail(BITNET_ERR_BAD_FORMAT, "KV cache state: " + why); };
    if (size < (kHeaderWords + n_seq_) * sizeof(uint32_t)) bad("truncated header");
    uint32_t header[kHeaderWords];
    std::memcpy(header, src, sizeof header);
    if (header[0] != kStateMagic) bad("not a libbitnet KV cache state (bad magic)");
    if (header[1] != kStateVersion) bad("unsupported version " + std::to_string(header[1]));
    const uint32_t want[kHeaderWords] = {kStateMagic,         kStateVersion,
                                         (uint32_t)n_layer_,  (uint32_t)n_head_kv_,
                                         (uint32_t)head_dim_, n_ctx_seq_,
                                         n_seq_,              f32_ ? 1u : 0u};
    static const char *const names[kHeaderWords] = {"magic", "version", "n_layer", "n_head_kv",
                                                    "head_dim", "n_ctx per sequence",
                                                    "n_seq_max", "kv_type"};
    for (size_t i = 2; i < kHeaderWords; ++i) {
        if (header[i] != want[i]) {
            bad(std::string(names[i]) + " is " + std::to_string(header[i]) +
                " in the state but " + std::to_string(want[i]) + " in this context");
        }
    }
    std::vector<uint32_t> len(n_seq_);
    std::memcpy(len.data(), src + sizeof header, n_seq_ * sizeof(uint32_t));
    for (uint32_t s = 0; s < n_seq_; ++s) {
        if (len[s] > n_ctx_seq_) bad("sequence " + std::to_string(s) + " is longer than the cache");
    }
    len_ = len;
    if (state_size() != size) {
        clear();
        bad("size is " + std::to_string(size) + " bytes, expected " + std::to_string(state_size()));
    }
    const uint8_t *p = src + (kHeaderWords + n_seq_) * sizeof(uint32_t);
    const size_t elem = f32_ ? 4 : 2;
    for (int il = 0; il < n_layer_; ++il) {
        for (uint32_t s = 0; s < n_seq_; ++s) {
            for (int64_t g = 0; g < n_head_kv_; ++g) {
                const size_t bytes = (size_t)len_[s] * (size_t)head_dim_ * elem;
                void *k = f32_ ? (void *)k_f32(il, s, g) : (void *)k_f16(il, s, g);
                void *v = f32_ ? (void *)v_f32(il, s, g) : (void *)v_f16(il, s, g);
                std::memcpy(k, p, bytes);
                std::memcpy(v, p + bytes, bytes);
                p += 2 * bytes;
            }
        }
    }
}

}  // namespace bitnet
