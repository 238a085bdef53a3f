// The KV cache: keys and values of every layer for up to n_seq sequences.
//
// Each sequence owns a stream of n_ctx_seq cells (llama.cpp's non-unified KV cache): cell i of a
// stream holds the token at position i of that sequence, so attention over a sequence reads one
// contiguous run of keys, exactly as a single-sequence context does (which is what makes a
// sequence decoded in a batch give the same logits as decoded alone). Per layer the layout is
// [n_seq][n_head_kv][n_ctx_seq][head_dim], F16 bits or F32: the keys of one KV head of one
// sequence are contiguous rows, and the query heads sharing it (GQA) score them as one product.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace bitnet {

class KvCache {
public:
    // Throws nothing itself; std::bad_alloc if the memory cannot be had. Without storage only
    // the sequence lengths are kept (a GPU context holds the cells on the device).
    KvCache(int32_t n_layer, int32_t n_head_kv, int32_t head_dim, uint32_t n_ctx_seq,
            uint32_t n_seq, bool f32, bool with_storage = true);

    uint32_t n_seq() const { return n_seq_; }
    uint32_t n_ctx_seq() const { return n_ctx_seq_; }
    bool is_f32() const { return f32_; }
    // Elements between the first cells of two KV heads (or two sequences' same head).
    size_t head_stride() const { return (size_t)n_ctx_seq_ * (size_t)head_dim_; }

    // Number of cells used by sequence s = the position of its next token.
    uint32_t seq_len(uint32_t s) const { return len_[s]; }
    void set_seq_len(uint32_t s, uint32_t len) { len_[s] = len; }
    uint32_t cells_used() const;

    // First element of KV head g of sequence s in layer il.
    float *k_f32(int il, uint32_t s, int64_t g) { return kf_[il].data() + offset(s, g); }
    float *v_f32(int il, uint32_t s, int64_t g) { return vf_[il].data() + offset(s, g); }
    uint16_t *k_f16(int il, uint32_t s, int64_t g) { return kh_[il].data() + offset(s, g); }
    uint16_t *v_f16(int il, uint32_t s, int64_t g) { return vh_[il].data() + offset(s, g); }

    bool has_storage() const { return !kf_.empty() || !kh_.empty(); }

    // Sequence edits (llama.cpp's llama_memory_seq_*). Positions [p0, p1); p1 < 0 means "to the
    // end". Throw bitnet::Error: INVALID_ARGUMENT for a sequence id out of range, UNSUPPORTED
    // for an edit that would leave a hole (removing a range that does not reach the end).
    void seq_rm(int32_t s, int32_t p0, int32_t p1);  // s < 0: every sequence
    void seq_cp(int32_t src, int32_t dst, int32_t p0, int32_t p1);
    void seq_keep(int32_t s);
    int32_t seq_pos_max(int32_t s) const;  // -1 when empty
    void clear();

    // Serialised state (header, lengths, the used cells of every layer). state_read checks that
    // the state was written by a cache of the same shape and type and that every length fits;
    // throws BAD_FORMAT otherwise, leaving the cache cleared.
    size_t state_size() const;
    void state_write(uint8_t *dst) const;
    void state_read(const uint8_t *src, size_t size);

private:
    size_t offset(uint32_t s, int64_t g) const {
        return ((size_t)s * (size_t)n_head_kv_ + (size_t)g) * head_stride();
    }
    void check_seq(int32_t s, const char *what) const;
    void check_storage(const char *what) const;  // UNSUPPORTED without storage

    int32_t n_layer_, n_head_kv_, head_dim_;
    uint32_t n_ctx_seq_, n_seq_;
    bool f32_;
    std::vector<uint32_t> len_;
    std::vector<std::vector<float>> kf_, vf_;
    std::vector<std::vector<uint16_t>> kh_, vh_;
};

}  // namespace bitnet
