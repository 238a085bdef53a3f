// TQ1_0 and TQ2_0 (ggml block_tq1_0 / block_tq2_0; ternary-formats.md sections 2.2-2.3): packing
// and unpacking of the ternary codes of 256-value blocks. Codes are trit + 1 (0, 1, 2 = -1, 0, +1);
// each block ends with its scale d as IEEE half.
#include <cstring>

#include "kernels/kernels.h"

namespace bitnet::kernels {

namespace {

constexpr int64_t kQK = kTqBlock;

// 3^n for the five base-3 digits of a TQ1_0 byte.
constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};

// Digit n (0 = most significant) of a TQ1_0 byte q: the byte stores ceil(v * 256 / 243) for the
// base-3 number v, so multiplying by 3^n (mod 256) shifts digit n to the top, and (x * 3) >> 8
// reads it (ggml's dequantize_row_tq1_0).
inline int tq1_digit(uint8_t q, int n) {
    const uint8_t x = (uint8_t)(q * kPow3[n]);
    return (int)(((uint16_t)x * 3) >> 8);
}

// The byte for base-3 digits c[0..n_digits) (c[0] most significant), padded to 5 digits.
inline uint8_t tq1_byte(const int *c, int n_digits) {
    int v = 0;
    for (int n = 0; n < 5; ++n) v = v * 3 + (n < n_digits ? c[n] : 0);
    return (uint8_t)((v * 256 + 242) / 243);
}

inline void put_half(uint8_t *p, uint16_t h) { std::memcpy(p, &h, 2); }
inline uint16_t get_half(const uint8_t *p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return h;
}

}  // namespace

// TQ2_0 block: value e -> byte 32*(e/128) + e%32, bits 2*((e%128)/32) and up (LSB first).
void tq2_pack(const int8_t *t, int64_t n, uint16_t d, uint8_t *out) {
    for (int64_t b = 0; b < n / kQK; ++b) {
        const int8_t *tb = t + b * kQK;
        uint8_t *ob = out + b * kTq2BlockBytes;
        std::memset(ob, 0, 64);
        for (int e = 0; e < kQK; ++e) {
            const int h = e / 128, r = e % 128;
            ob[32 * h + r % 32] |= (uint8_t)(((tb[e] + 1) & 3) << (2 * (r / 32)));
        }
        put_half(ob + 64, d);
    }
}

void tq2_unpack(const uint8_t *w, int64_t n, int8_t *t, uint16_t *d) {
    for (int64_t b = 0; b < n / kQK; ++b) {
        const uint8_t *wb = w + b * kTq2BlockBytes;
        for (int e = 0; e < kQK; ++e) {
            const int h = e / 128, r = e % 128;
            t[b * kQK + e] = (int8_t)(((wb[32 * h + r % 32] >> (2 * (r / 32))) & 3) - 1);
        }
        if (d) d[b] = get_half(wb + 64);
    }
}

// TQ1_0 block: values 0-159 in qs[0..32) (5 digits, value m + 32n is digit n of byte m),
// 160-239 in qs[32..48) (value 160 + m + 16n), 240-255 in qh[0..4) (value 240 + j + 4n, 4 digits).
void tq1_pack(const int8_t *t, int64_t n, uint16_t d, uint8_t *out) {
    for (int64_t b = 0; b < n / kQK; ++b) {
        const int8_t *tb = t + b * kQK;
        uint8_t *ob = out + b * kTq1BlockBytes;
        int c[5];
        for (int m = 0; m < 32; ++m) {
            for (int i = 0; i < 5; ++i) c[i] = tb[m + 32 * i] + 1;
            ob[m] = tq1_byte(c, 5);
        }
        for (int m = 0; m < 16; ++m) {
            for (int i = 0; i < 5; ++i) c[i] = tb[160 + m + 16 * i] + 1;
            ob[32 + m] = tq1_byte(c, 5);
        }
        for (int j = 0; j < 4; ++j) {
            for (int i = 0; i < 4; ++i) c[i] = tb[240 + j + 4 * i] + 1;
            ob[48 + j] = tq1_byte(c, 4);
        }
        put_half(ob + 52, d);
    }
}

void tq1_unpack(const uint8_t *w, int64_t n, int8_t *t, uint16_t *d) {
    for (int64_t b = 0; b < n / kQK; ++b) {
        const uint8_t *wb = w + b * kTq1BlockBytes;
        int8_t *tb = t + b * kQK;
        for (int m = 0; m < 32; ++m)
            for (int i = 0; i < 5; ++i) tb[m + 32 * i] = (int8_t)(tq1_digit(wb[m], i) - 1);
        for (int m = 0; m < 16; ++m)
            for (int i = 0; i < 5; ++i) tb[160 + m + 16 * i] = (int8_t)(tq1_digit(wb[32 + m], i) - 1);
        for (int j = 0; j < 4; ++j)
            for (int i = 0; i < 4; ++i) tb[240 + j + 4 * i] = (int8_t)(tq1_digit(wb[48 + j], i) - 1);
        if (d) d[b] = get_half(wb + 52);
    }
}

}  // namespace bitnet::kernels
