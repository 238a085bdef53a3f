// Graph of arch `bitnet-b1.58` / `bitnet-25` (Microsoft BitNet b1.58 2B4T;
// ../shared/docs/bitnet-reference.md section 4.2, ternary-formats.md 1.1): NeoX RoPE, attention
// and FFN sub-norms, ReLU² gate (unless the file's hidden_activation says otherwise: 1bitLLM
// models converted by current bitnet.cpp carry this arch name but need SiLU).
#include "graph/graph.h"

namespace bitnet::graph {

void layer_bitnet_b158(Blocks &b, const Layer &L, int il, const HParams &hp) {
    b.attention(il, L, arch::RopeType::Neox, L.attn_sub_norm);
    b.ffn(L, hp.act, L.ffn_sub_norm);
}

}  // namespace bitnet::graph
