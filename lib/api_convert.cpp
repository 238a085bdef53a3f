// C API of the converters (bitnet_convert, bitnet_quantize): argument checks and the mapping
// of parameters onto lib/convert; the work is in lib/convert/.
#include <cstring>
#include <string>

#include "api_internal.h"
#include "bitnet.h"
#include "convert/convert.h"

using namespace bitnet::api;

namespace {

using bitnet::gguf::TensorType;

// Reads params (possibly of an older, smaller layout) into options; false on a bad field.
bool to_options(const bitnet_convert_params *in, bool convert, bitnet::convert::ConvertOptions &o,
                std::string &why) {
    bitnet_convert_params p = bitnet_convert_default_params();
    if (in) {
        if (in->size < sizeof(size_t) || in->size > sizeof(p)) {
            why = "params->size must be set by bitnet_convert_default_params()";
            return false;
        }
        std::memcpy(static_cast<void *>(&p), in, in->size);
    }
    switch (p.ternary_type) {
        case BITNET_TERNARY_AUTO: break;
        case BITNET_TERNARY_I2_S: o.ternary_type = TensorType::I2_S; break;
        case BITNET_TERNARY_TQ2_0: o.ternary_type = TensorType::TQ2_0; break;
        case BITNET_TERNARY_TQ1_0: o.ternary_type = TensorType::TQ1_0; break;
        default: why = "params->ternary_type " + std::to_string(p.ternary_type) + " is not a bitnet_ternary_type"; return false;
    }
    switch (p.embd_type) {
        case BITNET_EMBD_AUTO: if (convert) o.embd_type = TensorType::F16; break;
        case BITNET_EMBD_F16: o.embd_type = TensorType::F16; break;
        case BITNET_EMBD_BF16: o.embd_type = TensorType::BF16; break;
        case BITNET_EMBD_F32: o.embd_type = TensorType::F32; break;
        case BITNET_EMBD_Q8_0: o.embd_type = TensorType::Q8_0; break;
        case BITNET_EMBD_Q6_K: o.embd_type = TensorType::Q6_K; break;
        default: why = "params->embd_type " + std::to_string(p.embd_type) + " is not a bitnet_embd_type"; return false;
    }
    if (p.name) o.name = p.name;
    return true;
}

bitnet::convert::ProgressFn to_progress(bitnet_convert_progress cb, void *ud) {
    if (!cb) return nullptr;
    return [cb, ud](int i, int n, const std::string &tensor, uint64_t bytes) {
        return cb(i, n, tensor.c_str(), bytes, ud) == 0;
    };
}

}  // namespace

extern "C" {

bitnet_convert_params bitnet_convert_default_params(void) {
    bitnet_convert_params p;
    std::memset(&p, 0, sizeof(p));
    p.size = sizeof(p);
    p.ternary_type = BITNET_TERNARY_AUTO;
    p.embd_type = BITNET_EMBD_AUTO;
    p.name = nullptr;
    return p;
}

bitnet_status bitnet_convert(const char *src_dir, const char *dst_path,
                             const bitnet_convert_params *params, bitnet_convert_progress progress,
                             void *user_data) {
    return guarded([&]() -> bitnet_status {
        if (!src_dir || !dst_path) return invalid("bitnet_convert: src_dir and dst_path must not be NULL");
        bitnet::convert::ConvertOptions o;
        std::string why;
        if (!to_options(params, true, o, why)) return invalid("bitnet_convert: " + why);
        bitnet::convert::convert_hf(src_dir, dst_path, o, to_progress(progress, user_data));
        return BITNET_OK;
    });
}

bitnet_status bitnet_quantize(const char *src_path, const char *dst_path,
                              const bitnet_convert_params *params, bitnet_convert_progress progress,
                              void *user_data) {
    return guarded([&]() -> bitnet_status {
        if (!src_path || !dst_path) return invalid("bitnet_quantize: src_path and dst_path must not be NULL");
        bitnet::convert::ConvertOptions o;
        std::string why;
        if (!to_options(params, false, o, why)) return invalid("bitnet_quantize: " + why);
        bitnet::convert::quantize_gguf(src_path, dst_path, o, to_progress(progress, user_data));
        return BITNET_OK;
    });
}

}  // extern "C"
