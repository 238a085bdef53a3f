// GGUF -> GGUF between the ternary types and for the embedding/head: see convert.h.
#include <cstring>
#include <memory>

#include "common/error.h"
#include "common/fp16.h"
#include "convert/convert.h"
#include "convert/encode.h"
#include "convert/tensor_plan.h"

namespace bitnet::convert {
namespace {

using gguf::TensorType;

float source_value(const gguf::TensorInfo &t, int64_t i) {
    switch (t.type) {
        case TensorType::F32: {
            float v;
            std::memcpy(&v, t.data + 4 * i, 4);
            return v;
        }
        case TensorType::F16: {
            uint16_t h;
            std::memcpy(&h, t.data + 2 * i, 2);
            return f16_to_f32(h);
        }
        case TensorType::BF16: {
            uint16_t h;
            std::memcpy(&h, t.data + 2 * i, 2);
            return bf16_to_f32(h);
        }
        default:
            fail(BITNET_ERR_UNSUPPORTED, "tensor '" + t.name + "' of type " +
                                             gguf::tensor_type_name(t.type) +
                                             " cannot be re-encoded (F32, F16 or BF16 only)");
    }
}

PlannedTensor copy_tensor(const gguf::TensorInfo &t) {
    PlannedTensor p{t.name, t.type, std::vector<int64_t>(t.ne, t.ne + t.n_dims), {}};
    const gguf::TensorInfo *src = &t;
    p.produce = [src](const gguf::Writer::Sink &sink) { sink(src->data, (size_t)src->nbytes); };
    return p;
}

PlannedTensor ternary_tensor(const gguf::TensorInfo &t, TensorType to) {
    if (t.n_dims != 2)
        fail(BITNET_ERR_UNSUPPORTED, "tensor '" + t.name + "': ternary tensors must be 2-D");
    const int64_t ne[4] = {t.ne[0], t.ne[1], 1, 1};
    std::string why;
    if (!gguf::tensor_nbytes_checked(to, ne, nullptr, &why))
        fail(BITNET_ERR_UNSUPPORTED, "tensor '" + t.name + "': " + why);
    PlannedTensor p{t.name, to, {t.ne[0], t.ne[1]}, {}};
    const gguf::TensorInfo *src = &t;
    p.produce = [src, to](const gguf::Writer::Sink &sink) {
        const Trits tr = decode_ternary(src->name, src->type, src->data, src->ne[0], src->ne[1]);
        const std::vector<uint8_t> b =
            encode_ternary(src->name, tr.t.data(), src->ne[1], src->ne[0], tr.scale, to, true);
        sink(b.data(), b.size());
    };
    return p;
}

PlannedTensor float_tensor(const gguf::TensorInfo &t, TensorType to) {
    if (t.n_dims != 2)
        fail(BITNET_ERR_UNSUPPORTED, "tensor '" + t.name + "' must be 2-D to be re-encoded");
    if ((to == TensorType::Q8_0 && t.ne[0] % 32 != 0) || (to == TensorType::Q6_K && t.ne[0] % 256 != 0))
        fail(BITNET_ERR_UNSUPPORTED, "tensor '" + t.name + "': " + gguf::tensor_type_name(to) +
                                         " needs rows of a multiple of " + (to == TensorType::Q8_0 ? "32" : "256") + " values");
    (void)source_value(t, 0);  // type check before writing
    PlannedTensor p{t.name, to, {t.ne[0], t.ne[1]}, {}};
    const gguf::TensorInfo *src = &t;
    p.produce = [src, to](const gguf::Writer::Sink &sink) {
        const int64_t cols = src->ne[0];
        encode_float_rows(src->name, src->ne[1], cols, to,
                          [src, cols](int64_t r, float *out) {
                              for (int64_t i = 0; i < cols; ++i) out[i] = source_value(*src, r * cols + i);
                          },
                          sink);
    };
    return p;
}

}  // namespace

void quantize_gguf(const std::string &in, const std::string &out, const ConvertOptions &opt,
                   const ProgressFn &progress) {
    const std::unique_ptr<gguf::File> f = gguf::File::open(in);
    if (opt.ternary_type && !is_ternary_type(*opt.ternary_type))
        fail(BITNET_ERR_INVALID_ARGUMENT, "the ternary type must be I2_S, TQ2_0 or TQ1_0");
    std::vector<PlannedTensor> plan;
    bool any_ternary = false;
    for (const gguf::TensorInfo &t : f->tensors()) {
        const bool head = t.name == "token_embd.weight" || t.name == "output.weight";
        if (is_ternary_type(t.type)) {
            any_ternary = true;
            plan.push_back(opt.ternary_type && *opt.ternary_type != t.type
                               ? ternary_tensor(t, *opt.ternary_type)
                               : copy_tensor(t));
        } else if (head && opt.embd_type && *opt.embd_type != t.type) {
            plan.push_back(float_tensor(t, *opt.embd_type));
        } else {
            plan.push_back(copy_tensor(t));
        }
    }
    gguf::Writer w;
    for (const gguf::KeyValue &kv : f->metadata()) {
        // The writer lays tensors out at its own alignment (32).
        if (kv.key == "general.alignment") continue;
        if (kv.key == "general.file_type" && opt.ternary_type && any_ternary) {
            w.add_u32(kv.key, ftype_of(*opt.ternary_type));
        } else if (kv.key == "general.name" && !opt.name.empty()) {
            w.add_string(kv.key, opt.name);
        } else {
            w.add_value(kv.key, kv.value);
        }
    }
    add_planned_tensors(w, plan, progress);
    w.write(out);
}

}  // namespace bitnet::convert
