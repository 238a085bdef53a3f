// The CUDA backend's kernels and their launchers (declared in cuda/launch.h).
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdlib>
#include <mutex>
#include <utility>

#include "cuda/kernels.cuh"
#include "cuda/launch.h"

namespace bitnet::cuda {

using namespace dev;
using launch::MatSet;
using launch::QuantBuf;

namespace {

// ---- launches: programmatic dependent launch (PDL) on Hopper
// -------------------------------- Every kernel starts with pdl_wait()
// (cudaGridDependencySynchronize: its predecessor in the stream has completed
// and its writes are visible) and then pdl_trigger(), which lets the next
// kernel's blocks be scheduled while this one runs. The wait comes before any
// access to global memory, so the order of reads and writes is the plain stream
// order; what overlaps is only the next kernel's launch with this kernel's work
// (decode runs ~300 kernels of a few us each). Without sm_90, or with
// BITNET_CUDA_PDL=0, launches are ordinary.
__device__ inline void pdl_wait_trigger() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    cudaGridDependencySynchronize();
    cudaTriggerProgrammaticLaunchCompletion();
#endif
}

bool g_pdl = false;
thread_local cudaError_t g_launch_error = cudaSuccess;

// Decode only: measured on the H200 (2B4T), PDL takes tg128 from 450 to 499 tokens/s but pp512
// from 4460 to 4200 (waiting blocks hold multiprocessors that the big prefill grids could use).
bool use_pdl(int n_tok) { return g_pdl && n_tok == 1; }

template <typename... KArgs, typename... Args>
void launch_kernel(void (*kernel)(KArgs...), dim3 grid, dim3 block, size_t smem,
                   cudaStream_t stream, bool pdl, Args &&...args) {
    cudaLaunchConfig_t cfg{};
    cfg.gridDim = grid;
    cfg.blockDim = block;
    cfg.dynamicSmemBytes = smem;
    cfg.stream = stream;
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[0].val.programmaticStreamSerializationAllowed = 1;
    cfg.attrs = attr;
    cfg.numAttrs = pdl ? 1 : 0;
    const cudaError_t e = cudaLaunchKernelEx(&cfg, kernel, std::forward<Args>(args)...);
    if (e != cudaSuccess && g_launch_error == cudaSuccess) g_launch_error = e;
}

cudaError_t take_launch_error() {
    const cudaError_t e = g_launch_error;
    g_launch_error = cudaSuccess;
    const cudaError_t last = cudaGetLastError();
    return e != cudaSuccess ? e : last;
}

constexpr int kNormThreads = 256;
constexpr int kMatThreads = 256;  // 8 warps, one row each
constexpr int kHeadThreads = 256;
constexpr int kMaxHeadDim = 256;  // attention: 4 half2 per lane

// KV cache element access: F16 (default) or F32 (BITNET_KV_F32, exact) storage.
__device__ inline float2 load_pair(const __half *row, int i2) {
    return __half22float2(reinterpret_cast<const __half2 *>(row)[i2]);
}
__device__ inline float2 load_pair(const float *row, int i2) {
    return reinterpret_cast<const float2 *>(row)[i2];
}
__device__ inline void store_kv(__half *p, float v) { *p = __float2half_rn(v); }
__device__ inline void store_kv(float *p, float v) { *p = v; }

__global__ void embed_kernel(const void *table, bool f16, int64_t d, const int32_t *tokens,
                             float *x) {
    pdl_wait_trigger();
    const int t = blockIdx.x;
    const int64_t row = (int64_t)tokens[t] * d;
    float *xt = x + (int64_t)t * d;
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x) {
        xt[i] = f16 ? __half2float(static_cast<const __half *>(table)[row + i])
                    : static_cast<const float *>(table)[row + i];
    }
}

// One block per token. The row lives in shared memory between the passes.
__global__ void norm_quant_kernel(int64_t n, float *x, int64_t ldx, const float *add,
                                  const float *gate_u, const float *w, float eps, QuantBuf qb,
                                  float *y) {
    pdl_wait_trigger();
    extern __shared__ float buf[];
    __shared__ double red_d[32];
    __shared__ float red_f[32];
    __shared__ int red_i[32];
    const int t = blockIdx.x;
    float *xt = x + (int64_t)t * ldx;
    double ss = 0.0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
        float v = xt[i];
        if (add) {
            v = __fadd_rn(v, add[(int64_t)t * ldx + i]);
            xt[i] = v;
        }
        if (gate_u) {
            // context.cpp relu2_gate: r = (g + |g|) / 2, g = r * r * u
            const float r = __fmul_rn(__fadd_rn(v, fabsf(v)), 0.5f);
            v = __fmul_rn(__fmul_rn(r, r), gate_u[(int64_t)t * ldx + i]);
        }
        buf[i] = v;
        ss += (double)v * (double)v;
    }
    if (w) {
        ss = block_reduce(ss, Add{}, red_d, 0.0);
        // kernels_isa.h rms_scale: mean in float, 1 / sqrt(mean + eps)
        const float mean = (float)(ss / (double)n);
        const float scale = __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(mean, eps)));
        for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
            buf[i] = __fmul_rn(__fmul_rn(buf[i], scale), w[i]);
        }
    }
    float amax = 0.0f;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
        if (y) y[(int64_t)t * ldx + i] = buf[i];
        amax = fmaxf(amax, fabsf(buf[i]));
    }
    if (!qb.q) return;
    amax = block_reduce(amax, MaxF{}, red_f, 0.0f);
    // kernels_isa.h i8_scale: in double, as the fork computes it
    const double mx = amax > 1e-5 ? (double)amax : 1e-5;
    const float s = (float)(127.0 / mx);
    int8_t *qt = qb.q + (int64_t)t * qb.ldq;
    int sum = 0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
        const int8_t q = round_to_i8(__fmul_rn(buf[i], s));
        qt[perm_offset(i)] = q;
        sum += q;
    }
    sum = block_reduce(sum, Add{}, red_i, 0);
    if (threadIdx.x == 0) {
        qb.s[t] = s;
        qb.sum[t] = sum;
    }
}

// A warp per output row; T tokens per block row (grid.y), each weight chunk
// decoded once for all T. Codes c in {0,1,2} (3 never occurs, and decodes to 2
// as on the CPU): sum (c - 1) q = dp4a(c, q) - sum q, exact in int32.
template <int T>
__global__ void __launch_bounds__(kMatThreads)
    i2s_matmul_kernel(MatSet ms, int64_t k, QuantBuf qb, int n_tok) {
    pdl_wait_trigger();
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int row = blockIdx.x * (kMatThreads / 32) + warp;
    if (row >= ms.row_end[ms.n - 1]) return;
    int m = 0;
    if (ms.n > 1 && row >= ms.row_end[0]) m = (ms.n > 2 && row >= ms.row_end[1]) ? 2 : 1;
    const int r = row - (m ? ms.row_end[m - 1] : 0);
    const uint4 *wr = reinterpret_cast<const uint4 *>(ms.w[m] + (int64_t)r * (k / 4));
    const int t0 = blockIdx.y * T;
    const int8_t *qrow[T];
#pragma unroll
    for (int t = 0; t < T; ++t) qrow[t] = qb.q + (int64_t)min(t0 + t, n_tok - 1) * qb.ldq;
    int acc[T];
#pragma unroll
    for (int t = 0; t < T; ++t) acc[t] = 0;
    const int chunks = (int)(k / 64);
    for (int c = lane; c < chunks; c += 32) {
        const uint4 wv = __ldcs(wr + c);  // streamed once: do not keep in L1
        const int64_t aoff = (int64_t)(c >> 5) * 2048 + lane * 16;
#pragma unroll
        for (int g = 0; g < 4; ++g) {
            const int sh = 6 - 2 * g;
            const int c0 = (int)((wv.x >> sh) & 0x03030303u),
                      c1 = (int)((wv.y >> sh) & 0x03030303u),
                      c2 = (int)((wv.z >> sh) & 0x03030303u),
                      c3 = (int)((wv.w >> sh) & 0x03030303u);
#pragma unroll
            for (int t = 0; t < T; ++t) {
                const int4 a = __ldg(reinterpret_cast<const int4 *>(qrow[t] + aoff + g * 512));
                acc[t] = __dp4a(c0, a.x, acc[t]);
                acc[t] = __dp4a(c1, a.y, acc[t]);
                acc[t] = __dp4a(c2, a.z, acc[t]);
                acc[t] = __dp4a(c3, a.w, acc[t]);
            }
        }
    }
#pragma unroll
    for (int t = 0; t < T; ++t) {
        int v = acc[t];
        for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
        const int tt = t0 + t;
        if (lane == 0 && tt < n_tok) {
            const int dot = v - qb.sum[tt];
            // context.cpp matmul_i2s: ((float)dot / s) * scale
            ms.y[m][(int64_t)tt * ms.ldy[m] + r] =
                __fmul_rn(__fdiv_rn((float)dot, qb.s[tt]), ms.scale[m]);
            if (ms.dot && m == 0) ms.dot[(int64_t)tt * ms.ldy[0] + r] = dot;
        }
    }
}

// One block per token: the token's cos/sin of the n_rot/2 angles first (shared
// memory), then a thread per (head, dimension) of Q and K, and per value of V.
template <typename KV>
__global__ void rope_kv_kernel(const int32_t *pos0, const double *inv_freq, float *q,
                               const float *k, const float *v, int n_head, int n_head_kv, int hd,
                               int n_rot, KV *kc, KV *vc, int n_ctx) {
    pdl_wait_trigger();
    extern __shared__ float cs_sn[];  // [half] cos, then [half] sin
    const int t = blockIdx.x;
    const int pos = *pos0 + t;
    const int half = n_rot / 2, kvd = n_head_kv * hd;
    for (int i = threadIdx.x; i < half; i += blockDim.x) {
        // context.cpp: theta = pos * base^(-2i/n_rot) in double (inv_freq computed
        // on the host by the same std::pow), cos/sin rounded to float
        const double theta = (double)pos * inv_freq[i];
        cs_sn[i] = (float)cos(theta);
        cs_sn[half + i] = (float)sin(theta);
    }
    __syncthreads();
    const int n_q = n_head * hd, total = n_q + 2 * kvd;
    for (int e = threadIdx.x; e < total; e += blockDim.x) {
        if (e >= n_q + kvd) {  // V: copy into the cache
            const int j = e - n_q - kvd, h = j / hd, i = j % hd;
            store_kv(vc + ((int64_t)h * n_ctx + pos) * hd + i, v[(int64_t)t * kvd + j]);
            continue;
        }
        const bool is_q = e < n_q;
        const int j = is_q ? e : e - n_q, h = j / hd, i = j % hd;
        const float *src = is_q ? q + (int64_t)t * n_q : k + (int64_t)t * kvd;
        float out0 = src[j], out1 = 0.0f;
        const bool lead = i < half;
        if (i >= half && i < n_rot) continue;  // rotated by its partner i - half
        if (lead) {
            const float cs = cs_sn[i], sn = cs_sn[half + i];
            const float x0 = src[j], x1 = src[j + half];
            out0 = __fsub_rn(__fmul_rn(x0, cs), __fmul_rn(x1, sn));
            out1 = __fadd_rn(__fmul_rn(x0, sn), __fmul_rn(x1, cs));
        }
        if (is_q) {
            q[(int64_t)t * n_q + j] = out0;
            if (lead) q[(int64_t)t * n_q + j + half] = out1;
        } else {
            KV *dst = kc + ((int64_t)h * n_ctx + pos) * hd;
            store_kv(dst + i, out0);
            if (lead) store_kv(dst + i + half, out1);
        }
    }
}

// One block per (query head, token). Scores for all keys in shared memory; each
// warp takes every n_warps-th key, for the scores and for the weighted sum of
// V, whose per-warp partial sums are then added in shared memory.
template <typename KV>
__global__ void attention_kernel(const int32_t *pos0, const float *q, const KV *kc, const KV *vc,
                                 int n_ctx, int n_head, int group, int hd, float kq_scale,
                                 float *out) {
    pdl_wait_trigger();
    extern __shared__ float smem[];
    __shared__ double red_d[32];
    __shared__ float red_f[32];
    const int n_warps = blockDim.x >> 5, warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    float *sc = smem;        // [n_ctx]
    float *qs = sc + n_ctx;  // [hd]
    float *part = qs + hd;   // [n_warps][hd]
    const int h = blockIdx.x, t = blockIdx.y, g = h / group, hd2 = hd / 2;
    const int n_keys = *pos0 + t + 1;
    const float *qh = q + ((int64_t)t * n_head + h) * hd;
    for (int i = threadIdx.x; i < hd; i += blockDim.x) qs[i] = qh[i];
    __syncthreads();
    const KV *kbase = kc + (int64_t)g * n_ctx * hd;
    const KV *vbase = vc + (int64_t)g * n_ctx * hd;
    for (int j = warp; j < n_keys; j += n_warps) {
        const KV *kr = kbase + (int64_t)j * hd;
        float d = 0.0f;
#pragma unroll
        for (int m = 0; m < kMaxHeadDim / 64; ++m) {
            const int i2 = lane + 32 * m;
            if (i2 < hd2) {
                const float2 kv = load_pair(kr, i2);
                d = fmaf(kv.x, qs[2 * i2], d);
                d = fmaf(kv.y, qs[2 * i2 + 1], d);
            }
        }
        for (int o = 16; o > 0; o >>= 1) d += __shfl_xor_sync(0xffffffffu, d, o);
        if (lane == 0) sc[j] = __fmul_rn(d, kq_scale);
    }
    __syncthreads();
    // kernels softmax: max, exp_ref(x - max) summed in double, times (float)(1 /
    // sum)
    float mx = -INFINITY;
    for (int j = threadIdx.x; j < n_keys; j += blockDim.x) mx = sc[j] > mx ? sc[j] : mx;
    mx = block_reduce(mx, MaxF{}, red_f, -INFINITY);
    double sum = 0.0;
    for (int j = threadIdx.x; j < n_keys; j += blockDim.x) {
        const float e = exp_ref(__fsub_rn(sc[j], mx));
        sc[j] = e;
        sum += (double)e;
    }
    sum = block_reduce(sum, Add{}, red_d, 0.0);
    const float inv = (float)(1.0 / sum);
    for (int j = threadIdx.x; j < n_keys; j += blockDim.x) sc[j] = __fmul_rn(sc[j], inv);
    __syncthreads();
    float acc[2 * (kMaxHeadDim / 64)] = {};
    for (int j = warp; j < n_keys; j += n_warps) {
        const KV *vr = vbase + (int64_t)j * hd;
        const float p = sc[j];
#pragma unroll
        for (int m = 0; m < kMaxHeadDim / 64; ++m) {
            const int i2 = lane + 32 * m;
            if (i2 < hd2) {
                const float2 vv = load_pair(vr, i2);
                acc[2 * m] = fmaf(p, vv.x, acc[2 * m]);
                acc[2 * m + 1] = fmaf(p, vv.y, acc[2 * m + 1]);
            }
        }
    }
#pragma unroll
    for (int m = 0; m < kMaxHeadDim / 64; ++m) {
        const int i2 = lane + 32 * m;
        if (i2 < hd2) {
            part[warp * hd + 2 * i2] = acc[2 * m];
            part[warp * hd + 2 * i2 + 1] = acc[2 * m + 1];
        }
    }
    __syncthreads();
    float *oh = out + ((int64_t)t * n_head + h) * hd;
    for (int i = threadIdx.x; i < hd; i += blockDim.x) {
        float s = 0.0f;
        for (int w = 0; w < n_warps; ++w) s += part[w * hd + i];
        oh[i] = s;
    }
}

// A warp per row of the head; T tokens at a time, 8 weights per lane per step.
template <typename W, int T>
__global__ void __launch_bounds__(kHeadThreads)
    head_kernel(const W *w, int64_t k, int rows, const float *x, int n_tok, float *y) {
    pdl_wait_trigger();
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int row = blockIdx.x * (kHeadThreads / 32) + warp;
    if (row >= rows) return;
    const int t0 = blockIdx.y * T;
    const W *wr = w + (int64_t)row * k;
    float acc[T];
#pragma unroll
    for (int t = 0; t < T; ++t) acc[t] = 0.0f;
    for (int64_t i = lane * 8; i < k; i += 256) {
        float wf[8];
        if constexpr (sizeof(W) == 2) {
            const uint4 raw = __ldcs(reinterpret_cast<const uint4 *>(wr + i));
            const __half2 *h2 = reinterpret_cast<const __half2 *>(&raw);
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const float2 f = __half22float2(h2[e]);
                wf[2 * e] = f.x;
                wf[2 * e + 1] = f.y;
            }
        } else {
            const float4 a = __ldcs(reinterpret_cast<const float4 *>(wr + i));
            const float4 b = __ldcs(reinterpret_cast<const float4 *>(wr + i + 4));
            wf[0] = a.x, wf[1] = a.y, wf[2] = a.z, wf[3] = a.w;
            wf[4] = b.x, wf[5] = b.y, wf[6] = b.z, wf[7] = b.w;
        }
#pragma unroll
        for (int t = 0; t < T; ++t) {
            const float *xt = x + (int64_t)min(t0 + t, n_tok - 1) * k + i;
            const float4 a = __ldg(reinterpret_cast<const float4 *>(xt));
            const float4 b = __ldg(reinterpret_cast<const float4 *>(xt + 4));
            float s = acc[t];
            s = fmaf(wf[0], a.x, s);
            s = fmaf(wf[1], a.y, s);
            s = fmaf(wf[2], a.z, s);
            s = fmaf(wf[3], a.w, s);
            s = fmaf(wf[4], b.x, s);
            s = fmaf(wf[5], b.y, s);
            s = fmaf(wf[6], b.z, s);
            s = fmaf(wf[7], b.w, s);
            acc[t] = s;
        }
    }
#pragma unroll
    for (int t = 0; t < T; ++t) {
        float v = acc[t];
        for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
        if (lane == 0 && t0 + t < n_tok) y[(int64_t)(t0 + t) * rows + row] = v;
    }
}

template <int T>
cudaError_t head_launch(cudaStream_t stream, const void *w, bool f16, int64_t k, int rows,
                        const float *x, int n_tok, float *y) {
    const dim3 grid((unsigned)((rows + kHeadThreads / 32 - 1) / (kHeadThreads / 32)),
                    (unsigned)((n_tok + T - 1) / T));
    if (f16) {
        launch_kernel(head_kernel<__half, T>, grid, kHeadThreads, 0, stream, use_pdl(n_tok),
                      static_cast<const __half *>(w), k, rows, x, n_tok, y);
    } else {
        launch_kernel(head_kernel<float, T>, grid, kHeadThreads, 0, stream, use_pdl(n_tok),
                      static_cast<const float *>(w), k, rows, x, n_tok, y);
    }
    return take_launch_error();
}

int attention_threads(int n_tok) { return n_tok == 1 ? 1024 : 256; }

size_t attention_smem(int n_ctx, int hd, int threads) {
    return sizeof(float) * ((size_t)n_ctx + hd + (size_t)(threads / 32) * hd);
}

}  // namespace

namespace launch {

int64_t perm_row_bytes(int64_t k) { return dev::perm_row_bytes(k); }
int64_t perm_offset(int64_t e) { return dev::perm_offset(e); }

cudaError_t embed(cudaStream_t stream, const void *table, bool f16, int64_t d,
                  const int32_t *tokens, int n_tok, float *x) {
    launch_kernel(embed_kernel, n_tok, 256, 0, stream, use_pdl(n_tok), table, f16, d, tokens, x);
    return take_launch_error();
}

cudaError_t norm_quant(cudaStream_t stream, int n_tok, int64_t n, float *x, int64_t ldx,
                       const float *add, const float *gate_u, const float *w, float eps,
                       const QuantBuf &qb, float *y) {
    const QuantBuf &qd = qb;
    const int threads = n_tok <= 16 ? 1024 : kNormThreads;
    launch_kernel(norm_quant_kernel, n_tok, threads, n * sizeof(float), stream, use_pdl(n_tok), n,
                  x, ldx, add, gate_u, w, eps, qd, y);
    return take_launch_error();
}

cudaError_t i2s_matmul(cudaStream_t stream, const MatSet &ms, int64_t k, const QuantBuf &qb,
                       int n_tok) {
    const QuantBuf &qd = qb;
    const int rows = ms.row_end[ms.n - 1];
    const unsigned bx = (unsigned)((rows + kMatThreads / 32 - 1) / (kMatThreads / 32));
    if (n_tok == 1) {
        launch_kernel(i2s_matmul_kernel<1>, dim3(bx, 1), kMatThreads, 0, stream, use_pdl(n_tok), ms,
                      k, qd, n_tok);
    } else {
        constexpr int T = 8;
        launch_kernel(i2s_matmul_kernel<T>, dim3(bx, (unsigned)((n_tok + T - 1) / T)), kMatThreads,
                      0, stream, use_pdl(n_tok), ms, k, qd, n_tok);
    }
    return take_launch_error();
}

cudaError_t rope_kv(cudaStream_t stream, int n_tok, const int32_t *pos0, const double *inv_freq,
                    float *q, const float *k, const float *v, int n_head, int n_head_kv, int hd,
                    int n_rot, bool kv_f32, void *kc, void *vc, int n_ctx) {
    const size_t smem = sizeof(float) * (size_t)n_rot;
    const int threads = n_tok == 1 ? 1024 : 256;
    if (kv_f32) {
        launch_kernel(rope_kv_kernel<float>, n_tok, threads, smem, stream, use_pdl(n_tok), pos0,
                      inv_freq, q, k, v, n_head, n_head_kv, hd, n_rot, static_cast<float *>(kc),
                      static_cast<float *>(vc), n_ctx);
    } else {
        launch_kernel(rope_kv_kernel<__half>, n_tok, threads, smem, stream, use_pdl(n_tok), pos0,
                      inv_freq, q, k, v, n_head, n_head_kv, hd, n_rot, static_cast<__half *>(kc),
                      static_cast<__half *>(vc), n_ctx);
    }
    return take_launch_error();
}

cudaError_t attention(cudaStream_t stream, int n_tok, const int32_t *pos0, const float *q,
                      bool kv_f32, const void *kc, const void *vc, int n_ctx, int n_head,
                      int n_head_kv, int hd, float *out) {
    const int threads = attention_threads(n_tok);
    const float kq_scale = 1.0f / sqrtf((float)hd);
    const dim3 grid(n_head, n_tok);
    const size_t smem = attention_smem(n_ctx, hd, threads);
    if (kv_f32) {
        launch_kernel(attention_kernel<float>, grid, threads, smem, stream, use_pdl(n_tok), pos0, q,
                      static_cast<const float *>(kc), static_cast<const float *>(vc), n_ctx, n_head,
                      n_head / n_head_kv, hd, kq_scale, out);
    } else {
        launch_kernel(attention_kernel<__half>, grid, threads, smem, stream, use_pdl(n_tok), pos0,
                      q, static_cast<const __half *>(kc), static_cast<const __half *>(vc), n_ctx,
                      n_head, n_head / n_head_kv, hd, kq_scale, out);
    }
    return take_launch_error();
}

cudaError_t head(cudaStream_t stream, const void *w, bool f16, int64_t k, int rows, const float *x,
                 int n_tok, float *y) {
    if (n_tok == 1) return head_launch<1>(stream, w, f16, k, rows, x, n_tok, y);
    return head_launch<4>(stream, w, f16, k, rows, x, n_tok, y);
}

// Raises (never lowers: several contexts of one process share the kernel) a
// kernel's dynamic shared-memory limit to `bytes`.
template <typename Kernel>
bool raise_smem_limit(Kernel kernel, size_t bytes) {
    // Contexts may be created on several threads: read-and-raise must not interleave.
    static std::mutex mu;
    const std::lock_guard<std::mutex> lock(mu);
    cudaFuncAttributes attr{};
    if (cudaFuncGetAttributes(&attr, kernel) != cudaSuccess) return false;
    if ((size_t)attr.maxDynamicSharedSizeBytes >= bytes) return true;
    return cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes) ==
           cudaSuccess;
}

bool prepare_shared_memory(int64_t max_n, int n_ctx, int hd) {
    int dev = 0, optin = 0;
    if (cudaGetDevice(&dev) != cudaSuccess) return false;
    if (cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev) != cudaSuccess)
        return false;
    int major = 0;
    cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev);
    const char *env = std::getenv("BITNET_CUDA_PDL");
    g_pdl = major >= 9 && !(env && env[0] == '0');
    const size_t norm = (size_t)max_n * sizeof(float);
    const size_t attn = attention_smem(n_ctx, hd, 1024);
    // The kernels' static shared memory (reductions) needs its few hundred bytes
    // too.
    if (norm + 1024 > (size_t)optin || attn + 1024 > (size_t)optin) return false;
    return raise_smem_limit(norm_quant_kernel, norm) &&
           raise_smem_limit(attention_kernel<__half>, attn) &&
           raise_smem_limit(attention_kernel<float>, attn);
}

}  // namespace launch

}  // namespace bitnet::cuda
