// Open-addressing tables for the tokenizer's vocabulary index and merge ranks.
#include <algorithm>
#include <bit>

#include "tokenizer/tokenizer_internal.h"

namespace bitnet::tokenizer_detail {
namespace {

// FNV-1a, 64-bit, folded to 32 bits: token texts are short, so a simple byte loop is fast enough.
uint32_t hash_text(std::string_view s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
    return static_cast<uint32_t>(h ^ (h >> 32));
}

// Table size for n entries: a power of two at least 2n (load factor <= 1/2), minimum 16.
size_t table_size(size_t n) { return std::bit_ceil(std::max<size_t>(16, 2 * n)); }

uint64_t pair_key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
}

}  // namespace

void TokenIndex::build(const std::vector<std::string> &tokens) {
    tokens_ = &tokens;
    slots_.assign(table_size(tokens.size()), Slot{0, -1});
    mask_ = slots_.size() - 1;
    for (size_t id = 0; id < tokens.size(); ++id) {
        const uint32_t h = hash_text(tokens[id]);
        for (size_t i = h & mask_;; i = (i + 1) & mask_) {
            Slot &slot = slots_[i];
            if (slot.id < 0) {
                slot = {h, static_cast<int32_t>(id)};
                break;
            }
            if (slot.hash == h && tokens[slot.id] == tokens[id]) {
                slot.id = static_cast<int32_t>(id);  // duplicate text: the later id wins
                break;
            }
        }
    }
}

int32_t TokenIndex::find(std::string_view text) const {
    if (slots_.empty()) return -1;
    const uint32_t h = hash_text(text);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
        const Slot &slot = slots_[i];
        if (slot.id < 0) return -1;
        if (slot.hash == h && (*tokens_)[slot.id] == text) return slot.id;
    }
}

void MergeTable::reserve(size_t n) {
    if (table_size(n) <= slots_.size()) return;
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(table_size(n), Slot{kEmpty, {}});
    mask_ = slots_.size() - 1;
    for (const Slot &s : old)
        if (s.key != kEmpty) slots_[index_of(s.key)] = s;
}

// The slot holding `key`, or the empty slot where it would go.
size_t MergeTable::index_of(uint64_t key) const {
    // Fibonacci hashing spreads the (left, right) pairs; the top bits index the table.
    const int shift = 64 - std::countr_zero(slots_.size());
    for (size_t i = (key * 0x9E3779B97F4A7C15ull) >> shift;; i = (i + 1) & mask_)
        if (slots_[i].key == key || slots_[i].key == kEmpty) return i;
}

void MergeTable::insert(int32_t left, int32_t right, Merge m) {
    if (2 * (size_ + 1) > slots_.size()) reserve(size_ + 1);
    const uint64_t key = pair_key(left, right);
    Slot &slot = slots_[index_of(key)];
    if (slot.key == key) return;  // first (lowest-rank) entry wins
    slot = {key, m};
    ++size_;
}

const MergeTable::Merge *MergeTable::find(int32_t left, int32_t right) const {
    if (slots_.empty()) return nullptr;
    const Slot &slot = slots_[index_of(pair_key(left, right))];
    return slot.key == kEmpty ? nullptr : &slot.merge;
}

}  // namespace bitnet::tokenizer_detail
