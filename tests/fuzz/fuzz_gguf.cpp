// libFuzzer harness: bytes -> GGUF parser -> model loader -> a 2-token evaluation (see
// fuzz_targets.h), with a structure-aware mutator that rewrites the counts, lengths, types,
// dimensions and offsets of a well-formed file with boundary values.
#include <cstdio>
#include <cstdlib>
#include <random>

#include "fuzz_targets.h"

extern "C" size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

namespace {

// A little-endian integer field of the file: where it is and how wide.
struct Field {
    size_t pos;
    uint8_t width;
};

// Positions of the header counts and of every length, type tag, count, integer value, tensor
// dimension and offset, found by walking the file as far as it is well-formed.
class FieldWalker {
public:
    FieldWalker(const uint8_t *d, size_t n) : d_(d), n_(n) {}

    std::vector<Field> walk() {
        try {
            if (n_ < 24 || std::memcmp(d_, "GGUF", 4) != 0) return out_;
            pos_ = 4;
            field(4);  // version
            const uint64_t n_tensors = field(8);
            const uint64_t n_kv = field(8);
            for (uint64_t i = 0; i < n_kv && i < 4096; ++i) {
                string();
                value((uint32_t)field(4), 0);
            }
            for (uint64_t i = 0; i < n_tensors && i < 4096; ++i) {
                string();
                const uint64_t n_dims = field(4);
                for (uint64_t k = 0; k < n_dims && k < 4; ++k) field(8);
                field(4);  // type
                field(8);  // offset
            }
        } catch (const std::out_of_range &) {
        }
        return out_;
    }

private:
    uint64_t get(size_t w) {
        if (w > n_ - pos_) throw std::out_of_range("end");
        uint64_t v = 0;
        for (size_t i = 0; i < w; ++i) v |= (uint64_t)d_[pos_ + i] << (8 * i);
        pos_ += w;
        return v;
    }
    uint64_t field(uint8_t w) {
        out_.push_back({pos_, w});
        return get(w);
    }
    void skip(uint64_t k) {
        if (k > n_ - pos_) throw std::out_of_range("end");
        pos_ += k;
    }
    void string(bool record = true) {
        const uint64_t len = record ? field(8) : get(8);
        skip(len);
    }
    static int width(uint32_t t) {
        switch (t) {
            case 0: case 1: case 7: return 1;
            case 2: case 3: return 2;
            case 4: case 5: case 6: return 4;
            case 10: case 11: case 12: return 8;
            default: return 0;
        }
    }
    void value(uint32_t type, int depth) {
        if (const int w = width(type)) {
            field((uint8_t)w);
        } else if (type == 8) {
            string();
        } else if (type == 9 && depth < 4) {
            const uint32_t et = (uint32_t)field(4);
            const uint64_t count = field(8);
            if (const int w = width(et)) {
                if (count > (n_ - pos_) / (uint64_t)w) throw std::out_of_range("end");
                // Record a few elements (e.g. token types), skip the rest.
                for (uint64_t i = 0; i < count; ++i) {
                    if (i < 4) field((uint8_t)w);
                    else skip((uint64_t)w);
                }
            } else {
                for (uint64_t i = 0; i < count; ++i) {
                    if (et == 8) string(i < 4);  // vocabularies: only the first lengths
                    else value(et, depth + 1);
                }
            }
        } else {
            throw std::out_of_range("bad type");
        }
    }

    const uint8_t *d_;
    size_t n_;
    size_t pos_ = 0;
    std::vector<Field> out_;
};

uint64_t interesting(std::minstd_rand &rng, uint64_t old, uint8_t width) {
    static const uint64_t kValues[] = {0, 1, 2, 3, 4, 7, 8, 9, 12, 16, 31, 32, 33, 36, 63, 64, 127,
                                       128, 129, 255, 256, 1024, 4096, 65535, 65536, 0x7fffffff,
                                       0x80000000, 0xffffffff, 0x100000000ull,
                                       0x7fffffffffffffffull, 0x8000000000000000ull,
                                       0xffffffffffffffffull};
    const uint64_t mask = width == 8 ? ~0ull : ((1ull << (8 * width)) - 1);
    switch (rng() % 6) {
        case 0: return old + 1;
        case 1: return old - 1;
        case 2: return old * 2;
        case 3: return old / 2;
        case 4: return ((uint64_t)rng() << 32 | rng()) & mask;
        default: return kValues[rng() % (sizeof kValues / sizeof kValues[0])];
    }
}

}  // namespace

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size,
                                          unsigned int seed) {
    std::minstd_rand rng(seed);
    if (rng() % 2 == 0) {
        const std::vector<Field> fields = FieldWalker(data, size).walk();
        if (!fields.empty()) {
            const int n = 1 + (int)(rng() % 2);
            for (int i = 0; i < n; ++i) {
                const Field f = fields[rng() % fields.size()];
                uint64_t old = 0;
                for (int k = 0; k < f.width; ++k) old |= (uint64_t)data[f.pos + k] << (8 * k);
                const uint64_t v = interesting(rng, old, f.width);
                for (int k = 0; k < f.width; ++k) data[f.pos + k] = (uint8_t)(v >> (8 * k));
            }
            return size;
        }
    }
    return LLVMFuzzerMutate(data, size, max_size);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    try {
        bitnet::fuzz::run_gguf(data, size);
    } catch (const bitnet::fuzz::Finding &f) {
        std::fprintf(stderr, "FINDING: %s\n", f.what());
        std::abort();
    }
    return 0;
}
