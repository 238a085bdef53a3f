// The SIMD kernel ISAs this CPU can run, for value-parameterised kernel tests: each is tested
// against the scalar reference. (The AVX-512 kernels are therefore only tested on AVX-512
// machines, the AMX table only on AMX machines; run `test_kernels` and `test_rowwise` there.
// The AMX GEMM's algorithm is tested everywhere through its tile emulation: test_amx.)
#pragma once

#include <string>
#include <vector>

#include "kernels/kernels.h"

namespace bitnet::kernels {

inline std::vector<Isa> simd_isas() {
    std::vector<Isa> out;
    for (Isa isa : {Isa::Avx2, Isa::Avx512, Isa::Amx, Isa::Neon}) {
        if (isa_supported(isa)) out.push_back(isa);
    }
    return out;
}

// Test name suffix: the ISA's name.
struct IsaParamName {
    template <class Info>
    std::string operator()(const Info &info) const {
        return isa_name(info.param);
    }
};

}  // namespace bitnet::kernels
