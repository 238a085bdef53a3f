// Device kernels of the CUDA backend (cuda/backend.cu). Each one states which CPU operation it
// mirrors; the integer parts (activation quantisation, ternary products, the BitLinear output
// y = (float)dot / s * scale) are bit-identical to the scalar reference kernels, the float
// parts (sums, softmax, head) differ only by summation order.
//
// Float arithmetic is written with __fmul_rn / __fadd_rn where the CPU computes a product and a
// sum as two roundings: nvcc would otherwise contract them into one fused multiply-add, and the
// CPU kernels are built with -ffp-contract=off.
#pragma once

#include <cuda_fp16.h>
#include <cstdint>

namespace bitnet::cuda::dev {

// ---- the permuted int8 activation layout that the ternary GEMV reads -----------------------
// I2_S packs block b (128 values, 32 bytes) so that byte p holds values p, 32+p, 64+p, 96+p
// (bits 7-6, 5-4, 3-2, 1-0). A lane that loads 16 weight bytes (chunk c = half h of block b)
// needs, for each group g, the 16 activations 32g + 16h .. +15 of that block. The quantiser
// writes them where lane c % 32 of a warp finds them: for chunk tile c / 32, group g at
// tile * 2048 + g * 512 + (c % 32) * 16, so that each of a warp's four 16-byte activation
// loads is 512 contiguous bytes.
__host__ __device__ inline int64_t perm_row_bytes(int64_t k) { return (k + 2047) / 2048 * 2048; }

__host__ __device__ inline int64_t perm_offset(int64_t e) {
    const int64_t b = e >> 7, w = e & 127, g = w >> 5, p = w & 31;
    const int64_t c = b * 2 + (p >> 4);
    return (c >> 5) * 2048 + g * 512 + (c & 31) * 16 + (p & 15);
}

// ---- block reductions (blockDim.x a multiple of 32, at most 1024) --------------------------
// `identity` fills the lanes beyond the block's warp count (0 for sums, the value itself is
// fine for max).
template <typename T, typename Op>
__device__ T block_reduce(T v, Op op, T *shared32, T identity) {
    for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, n_warps = blockDim.x >> 5;
    __syncthreads();  // shared32 may still be read by a previous reduction
    if (lane == 0) shared32[warp] = v;
    __syncthreads();
    v = lane < n_warps ? shared32[lane] : identity;
    for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
struct Add {
    template <typename T> __device__ T operator()(T a, T b) const { return a + b; }
};
struct MaxF {
    // fmaxf ignores a NaN operand, as the CPU's "a > amax" scan does.
    __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

// kernels_isa.h round_clamp(v, -128, 127): round half to even, NaN to -128.
__device__ inline int8_t round_to_i8(float v) {
    const float r = rintf(v);
    if (r >= 127.0f) return 127;
    if (r > -128.0f) return (int8_t)(int)r;
    return -128;
}

// kernels_isa.h exp_ref: the Cephes polynomial the CPU softmax uses.
__device__ inline float exp_ref(float x) {
    x = -87.0f > x ? -87.0f : x;
    x = 88.0f < x ? 88.0f : x;
    if (x != x) return x;
    const float n = rintf(__fmul_rn(x, 1.44269504088896341f));
    float r = fmaf(n, -0.693359375f, x);
    r = fmaf(n, 2.12194440e-4f, r);
    float p = 1.9875691500e-4f;
    p = fmaf(p, r, 1.3981999507e-3f);
    p = fmaf(p, r, 8.3334519073e-3f);
    p = fmaf(p, r, 4.1665795894e-2f);
    p = fmaf(p, r, 1.6666665459e-1f);
    p = fmaf(p, r, 5.0000001201e-1f);
    const float r2 = __fmul_rn(r, r);
    float y = fmaf(p, r2, r);
    y = __fadd_rn(y, 1.0f);
    return __fmul_rn(y, __int_as_float(((int)n + 127) << 23));
}

}  // namespace bitnet::cuda::dev
