// The CUDA backend's entry points in a build without BITNET_CUDA: nothing runs on a GPU, and
// asking for it gives BITNET_ERR_UNSUPPORTED with the reason.
#include "cuda/backend.h"

#include "common/error.h"

namespace bitnet::cuda {

namespace {
[[noreturn]] void not_compiled() {
    fail(BITNET_ERR_UNSUPPORTED,
         "device cuda: this libbitnet was built without the CUDA backend (configure with "
         "-DBITNET_CUDA=ON where nvcc is installed)");
}
}  // namespace

bool compiled() { return false; }
int device_count() { return 0; }
std::string unsupported_reason(const Model &) { return "the CUDA backend is not compiled in"; }

std::unique_ptr<Backend> Backend::create(const Model &, uint32_t, int32_t, bool) {
    not_compiled();
}

void bitlinear_for_test(const float *, int64_t, int64_t, const uint8_t *, int64_t, float, int8_t *,
                        float *, int32_t *, float *) {
    not_compiled();
}

}  // namespace bitnet::cuda
