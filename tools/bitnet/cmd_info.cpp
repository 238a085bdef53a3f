// bitnet info: metadata, hyper-parameters and the tensor table of a model file.
#include <cinttypes>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "common.h"
#include "common/error.h"
#include "gguf/gguf.h"

namespace bitnet_cli {
namespace {

struct InfoOptions {
    std::string model;
    bool full = false;
    bool no_tensors = false;
};

std::string shape_text(const bitnet::gguf::TensorInfo &t) {
    std::string s = "{";
    const uint32_t nd = t.n_dims == 0 ? 1 : (t.n_dims > 4 ? 4 : t.n_dims);
    for (uint32_t d = 0; d < nd; ++d) {
        if (d) s += ", ";
        s += std::to_string(t.ne[d]);
    }
    return s + "}";
}

void print_tensor_table(const std::string &path) {
    std::unique_ptr<bitnet::gguf::File> file;
    try {
        file = bitnet::gguf::File::open(path, true);
    } catch (const bitnet::Error &e) {
        std::string msg = e.what();
        const std::string prefix = path + ": ";
        if (msg.compare(0, prefix.size(), prefix) == 0) msg.erase(0, prefix.size());
        fail(path, msg);
    }
    const auto &tensors = file->tensors();
    uint64_t total_bytes = 0, total_params = 0;
    size_t name_w = 4;
    std::vector<std::string> shapes;
    size_t shape_w = 5;
    std::map<std::string, std::pair<size_t, uint64_t>> by_type;  // type -> (count, bytes)
    for (const auto &t : tensors) {
        total_bytes += t.nbytes;
        total_params += static_cast<uint64_t>(t.n_elements());
        name_w = std::max(name_w, t.name.size());
        shapes.push_back(shape_text(t));
        shape_w = std::max(shape_w, shapes.back().size());
        auto &slot = by_type[bitnet::gguf::tensor_type_name(t.type)];
        slot.first++;
        slot.second += t.nbytes;
    }
    std::printf(
        "\ntensors: %zu (%s of data, %s parameters; GGUF v%u, alignment %u, data at "
        "offset %" PRIu64 ")\n",
        tensors.size(), format_bytes(total_bytes).c_str(), format_count(total_params).c_str(),
        file->version(), file->alignment(), file->data_offset());
    for (const auto &[type, cb] : by_type)
        std::printf("  %-6s %5zu tensors, %s\n", type.c_str(), cb.first,
                    format_bytes(cb.second).c_str());
    std::printf("\n  %5s  %-*s  %-5s  %-*s  %12s  %12s  %12s\n", "#", static_cast<int>(name_w),
                "name", "type", static_cast<int>(shape_w), "shape", "elements", "bytes", "offset");
    for (size_t i = 0; i < tensors.size(); ++i) {
        const auto &t = tensors[i];
        std::printf("  %5zu  %-*s  %-5s  %-*s  %12" PRId64 "  %12" PRIu64 "  %12" PRIu64 "\n", i,
                    static_cast<int>(name_w), t.name.c_str(),
                    bitnet::gguf::tensor_type_name(t.type), static_cast<int>(shape_w),
                    shapes[i].c_str(), t.n_elements(), t.nbytes, t.offset);
    }
}

int run_info(const InfoOptions &o) {
    ModelPtr model = load_model(o.model);
    const bitnet_model *m = model.get();

    std::printf("file: %s\n", o.model.c_str());
    std::printf("architecture: %s\n", bitnet_model_architecture(m));

    const int32_t n_kv = bitnet_model_meta_count(m);
    std::vector<std::string> keys;
    size_t key_w = 3;
    for (int32_t i = 0; i < n_kv; ++i) {
        keys.push_back(meta_key(m, i, o.model));
        key_w = std::max(key_w, keys.back().size());
    }
    std::printf("\nmetadata: %d keys\n", n_kv);
    for (const auto &key : keys) {
        std::string value;
        if (!meta_get(m, key, value, o.model)) value = "(not found)";
        std::printf("  %-*s = %s\n", static_cast<int>(key_w), key.c_str(),
                    printable(value, o.full ? 0 : 120).c_str());
    }

    const int32_t n_embd = bitnet_model_n_embd(m);
    const int32_t n_head = bitnet_model_n_head(m);
    std::printf("\nhyper-parameters:\n");
    std::printf("  n_vocab      %d\n", bitnet_model_n_vocab(m));
    std::printf("  n_ctx_train  %d\n", bitnet_model_n_ctx_train(m));
    std::printf("  n_embd       %d\n", n_embd);
    std::printf("  n_layer      %d\n", bitnet_model_n_layer(m));
    std::printf("  n_head       %d\n", n_head);
    std::printf("  n_head_kv    %d\n", bitnet_model_n_head_kv(m));
    // head_dim: attention.key_length when the file has it (Falcon3: 256 != n_embd / n_head).
    std::string arch_name, key_len;
    if (meta_get(m, "general.architecture", arch_name, o.model) &&
        meta_get(m, arch_name + ".attention.key_length", key_len, o.model))
        std::printf("  head_dim     %s\n", key_len.c_str());
    else if (n_head > 0)
        std::printf("  head_dim     %d\n", n_embd / n_head);
    std::printf("  n_params     %" PRIu64 " (%s)\n", bitnet_model_n_params(m),
                format_count(bitnet_model_n_params(m)).c_str());
    std::printf("  size         %" PRIu64 " bytes (%s)\n", bitnet_model_size_bytes(m),
                format_bytes(bitnet_model_size_bytes(m)).c_str());
    std::printf("  bos          %d\n", bitnet_token_bos(m));
    std::printf("  eos          %d\n", bitnet_token_eos(m));
    std::printf("  eot          %d\n", bitnet_token_eot(m));
    std::printf("  add_bos      %s\n", bitnet_model_add_bos(m) ? "true" : "false");

    if (!o.no_tensors) print_tensor_table(o.model);
    std::fflush(stdout);
    return 0;
}

}  // namespace

Command add_info(CLI::App &app) {
    auto o = std::make_shared<InfoOptions>();
    CLI::App *sub = app.add_subcommand("info", "show a model's metadata and tensors");
    sub->footer(
        "Prints the metadata (arrays as '[N items of TYPE]'), the hyper-parameters and the\n"
        "tensor table (name, type, shape {ne0, ne1}, elements, bytes, data offset) on stdout.");
    sub->add_option("-m,--model", o->model, "GGUF model file")->required()->type_name("MODEL");
    sub->add_flag("--full", o->full, "do not shorten long metadata strings (e.g. chat templates)");
    sub->add_flag("--no-tensors", o->no_tensors, "omit the tensor table");
    return {sub, [o]() { return run_info(*o); }};
}

}  // namespace bitnet_cli
