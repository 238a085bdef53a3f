// Architecture entry -> graph file.
#include "graph/graph.h"

#include <cstring>

#include "common/error.h"

namespace bitnet::graph {

LayerFn layer_fn(const arch::Arch &a) {
    if (std::strcmp(a.name, "bitnet-b1.58") == 0) return layer_bitnet_b158;
    if (std::strcmp(a.name, "bitnet") == 0) return layer_bitnet;
    if (std::strcmp(a.name, "llama") == 0) return layer_llama;
    fail(BITNET_ERR_INTERNAL, std::string("no graph for architecture ") + a.name);
}

}  // namespace bitnet::graph
