// Run-time ISA detection and the kernel tables.
#include <atomic>
#include <strings.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "common/log.h"
#include "kernels/kernels.h"
#include "kernels/kernels_isa.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif
#if defined(__x86_64__) && defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#if defined(__aarch64__)
#include <sys/auxv.h>
#endif

namespace bitnet::kernels {
namespace {

#if defined(__x86_64__)
struct X86Features {
    bool avx2 = false;    // AVX2 + FMA + F16C, YMM state enabled by the OS
    bool avx512 = false;  // AVX-512 F/BW/VL/DQ/VNNI, ZMM and opmask state enabled by the OS
    bool amx_cpu = false; // AMX-TILE + AMX-INT8 (CPUID.(7,0):EDX bits 24, 25)
    bool amx_os = false;  // XTILECFG + XTILEDATA enabled in XCR0 (bits 17, 18)
};

uint64_t read_xcr0() {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

X86Features detect_x86() {
    X86Features f;
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
    const bool fma = c & (1u << 12), osxsave = c & (1u << 27), avx = c & (1u << 28),
               f16c = c & (1u << 29);
    // A CPU may have the instructions while the OS does not save their registers (XCR0): only
    // then are they usable. XGETBV itself requires OSXSAVE.
    if (!osxsave || !avx) return f;
    const uint64_t xcr0 = read_xcr0();
    const bool ymm_state = (xcr0 & 0x06) == 0x06;  // SSE, AVX
    const bool zmm_state = (xcr0 & 0xe6) == 0xe6;  // + opmask, ZMM0-15 upper halves, ZMM16-31
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return f;
    const bool avx2 = b & (1u << 5), avx512f = b & (1u << 16), avx512dq = b & (1u << 17),
               avx512bw = b & (1u << 30), avx512vl = b & (1u << 31), vnni = c & (1u << 11);
    f.avx2 = ymm_state && avx2 && fma && f16c;
    f.avx512 = f.avx2 && zmm_state && avx512f && avx512dq && avx512bw && avx512vl && vnni;
    f.amx_cpu = (d & (1u << 24)) && (d & (1u << 25));
    f.amx_os = (xcr0 & (3ull << 17)) == (3ull << 17);
    return f;
}

#if defined(BITNET_AMX_KERNELS)
// Linux (5.16 on) enables the 8 KB tile data state per process on request; a tile instruction
// without it faults. The permission covers every thread of the process.
bool request_amx_permission() {
#if defined(__linux__)
    constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
    return false;
#endif
}
#endif

// Why AMX can or cannot be used; nullptr = usable. Asks for the permission once.
const char *amx_unusable_reason() {
    static const char *const reason = []() -> const char * {
#if !defined(BITNET_AMX_KERNELS)
        return "not built (the compiler lacks -mamx-tile/-mamx-int8)";
#else
        const X86Features f = detect_x86();
        if (!f.amx_cpu) return "CPU has no AMX-TILE/AMX-INT8";
        if (!f.amx_os) return "OS did not enable the tile state (XCR0)";
        if (!f.avx512) return "needs AVX-512 as well";
        if (!request_amx_permission()) return "Linux refused the tile data permission (arch_prctl)";
        return nullptr;
#endif
    }();
    return reason;
}
#endif

#if defined(__aarch64__)
bool detect_neon() {
    // Dot product (sdot) for I2_S; the NEON files are built with +fp16, so require the half
    // precision arithmetic extension as well.
    constexpr unsigned long kAsimdHp = 1ul << 10, kAsimdDp = 1ul << 20;  // HWCAP_ASIMDHP/DP
    const unsigned long hw = getauxval(AT_HWCAP);
    return (hw & kAsimdHp) && (hw & kAsimdDp);
}
#endif

constexpr KernelTable kScalar{Isa::Scalar,     quantize_row_i8_scalar, i2s_gemv_scalar,
                              i2s_gemm_scalar, f16_gemv_scalar,        f16_gemm_scalar,
                              f32_gemm_scalar, f16_wsum_scalar,        f32_wsum_scalar,
                              q8_gemm_scalar,  f32_to_f16_scalar,      rms_norm_scalar,
                              rope_neox_scalar, softmax_scalar,        q8_quantize_f16_scalar,
                              q4_gemm_scalar,  q4_quantize_f16_scalar, rope_norm_scalar};
#if defined(__x86_64__)
// The attention, F32, Q8, conversion and row-wise kernels of both x86 tables.
#define BITNET_AVX2_COMMON_KERNELS detail::f32_gemm_avx2, detail::f16_wsum_avx2,   \
                                   detail::f32_wsum_avx2, detail::q8_gemm_avx2,    \
                                   detail::f32_to_f16_avx2, detail::rms_norm_avx2, \
                                   detail::rope_neox_avx2, detail::softmax_avx2,   \
                                   detail::q8_quantize_f16_avx2, detail::q4_gemm_avx2, \
                                   detail::q4_quantize_f16_avx2, detail::rope_norm_avx2
constexpr KernelTable kAvx2{Isa::Avx2,          detail::quantize_row_i8_avx2,
                            detail::i2s_gemv_avx2, detail::i2s_gemm_avx2,
                            detail::f16_gemv_avx2, detail::f16_gemm_avx2,
                            BITNET_AVX2_COMMON_KERNELS};
constexpr KernelTable kAvx512{Isa::Avx512,           detail::quantize_row_i8_avx2,
                              detail::i2s_gemv_avx512, detail::i2s_gemm_avx512,
                              detail::f16_gemv_avx2,   detail::f16_gemm_avx512,
                              BITNET_AVX2_COMMON_KERNELS};
#if defined(BITNET_AMX_KERNELS)
constexpr KernelTable kAmx{Isa::Amx,               detail::quantize_row_i8_avx2,
                           detail::i2s_gemv_avx512, detail::i2s_gemm_amx,
                           detail::f16_gemv_avx2,   detail::f16_gemm_avx512,
                           BITNET_AVX2_COMMON_KERNELS};
#endif
#endif
#if defined(__aarch64__)
constexpr KernelTable kNeon{Isa::Neon,          detail::quantize_row_i8_neon,
                            detail::i2s_gemv_neon, detail::i2s_gemm_neon,
                            detail::f16_gemv_neon, detail::f16_gemm_neon,
                            detail::f32_gemm_neon, detail::f16_wsum_neon,
                            detail::f32_wsum_neon, detail::q8_gemm_neon,
                            detail::f32_to_f16_neon, detail::rms_norm_neon,
                            detail::rope_neox_neon,  detail::softmax_neon,
                            detail::q8_quantize_f16_neon, detail::q4_gemm_neon,
                            detail::q4_quantize_f16_neon, detail::rope_norm_neon};
#endif

bool parse_isa(const char *s, Isa &isa) {
    for (Isa i : {Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Neon, Isa::Amx}) {
        if (strcasecmp(s, isa_name(i)) == 0) {
            isa = i;
            return true;
        }
    }
    return false;
}

Isa best_supported() {
    for (Isa i : {Isa::Amx, Isa::Avx512, Isa::Avx2, Isa::Neon}) {
        if (isa_supported(i)) return i;
    }
    return Isa::Scalar;
}

}  // namespace

const char *isa_name(Isa isa) {
    switch (isa) {
        case Isa::Scalar: return "scalar";
        case Isa::Avx2: return "avx2";
        case Isa::Avx512: return "avx512";
        case Isa::Neon: return "neon";
        case Isa::Amx: return "amx";
    }
    return "unknown";
}

bool isa_supported(Isa isa) {
    switch (isa) {
        case Isa::Scalar: return true;
#if defined(__x86_64__)
        case Isa::Avx2: {
            static const bool ok = detect_x86().avx2;
            return ok;
        }
        case Isa::Avx512: {
            static const bool ok = detect_x86().avx512;
            return ok;
        }
        case Isa::Amx: return amx_unusable_reason() == nullptr;
#endif
#if defined(__aarch64__)
        case Isa::Neon: {
            static const bool ok = detect_neon();
            return ok;
        }
#endif
        default: return false;
    }
}

const char *amx_status() {
#if defined(__x86_64__)
    const char *reason = amx_unusable_reason();
    if (reason == nullptr) return "AMX-INT8 tiles available for the I2_S GEMM (prefill)";
    static const std::string text = std::string("AMX not used: ") + reason + "; AVX-512 or lower instead";
    return text.c_str();
#else
    return "AMX not used: not an x86-64 build";
#endif
}

Isa best_isa() {
    const Isa best = best_supported();
    const char *env = std::getenv("BITNET_ISA");
    if (env == nullptr || *env == '\0') return best;
    Isa wanted;
    if (!parse_isa(env, wanted)) {
        bitnet::log(BITNET_LOG_WARN, "unknown BITNET_ISA=%s, using %s", env, isa_name(best));
        return best;
    }
    if (!isa_supported(wanted)) {
        bitnet::log(BITNET_LOG_WARN, "BITNET_ISA=%s is not supported on this CPU, using %s%s%s%s",
                    env, isa_name(best), wanted == Isa::Amx ? " (" : "",
                    wanted == Isa::Amx ? amx_status() : "", wanted == Isa::Amx ? ")" : "");
        return best;
    }
    return wanted;
}

const KernelTable &table(Isa isa) {
    if (!isa_supported(isa)) {
        throw std::invalid_argument(std::string("kernels::table: ISA not supported: ") +
                                    isa_name(isa));
    }
    switch (isa) {
#if defined(__x86_64__)
        case Isa::Avx2: return kAvx2;
        case Isa::Avx512: return kAvx512;
#if defined(BITNET_AMX_KERNELS)
        case Isa::Amx: return kAmx;
#endif
#endif
#if defined(__aarch64__)
        case Isa::Neon: return kNeon;
#endif
        default: return kScalar;
    }
}

namespace {
std::atomic<const KernelTable *> g_active{nullptr};
}

const KernelTable &active() {
    const KernelTable *t = g_active.load(std::memory_order_acquire);
    if (t == nullptr) {
        static const KernelTable &best = table(best_isa());
        t = &best;
        g_active.store(t, std::memory_order_release);
    }
    return *t;
}

void set_active_isa(Isa isa) { g_active.store(&table(isa), std::memory_order_release); }

}  // namespace bitnet::kernels
