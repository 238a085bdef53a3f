// Graph of arch `bitnet` (1bitLLM bitnet_b1_58-large / -3B; ternary-formats.md 1.2): the b1.58
// layer with a SiLU gate; each projection's optional `.scale` tensor multiplies its output
// (bound into Matrix::out_scale, applied by the BitLinear block).
#include "graph/graph.h"

namespace bitnet::graph {

void layer_bitnet(Blocks &b, const Layer &L, int il, const HParams &hp) {
    b.attention(il, L, arch::RopeType::Neox, L.attn_sub_norm);
    b.ffn(L, hp.act, L.ffn_sub_norm);
}

}  // namespace bitnet::graph
