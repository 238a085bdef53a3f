// Graph of arch `llama` with ternary weights (HF1BitLLM Llama3-8B-1.58, Falcon3-*-1.58bit,
// Falcon-E; ternary-formats.md 1.3): plain Llama. No sub-norms, SiLU gate, GQA, and normal RoPE
// on adjacent pairs (2i, 2i+1), because llama.cpp's converter permuted the Q/K rows of each head
// so that this equals Hugging Face's rotate-half RoPE on the original rows.
#include "graph/graph.h"

namespace bitnet::graph {

void layer_llama(Blocks &b, const Layer &L, int il, const HParams &hp) {
    b.attention(il, L, arch::RopeType::Norm, nullptr);
    b.ffn(L, hp.act, nullptr);
}

}  // namespace bitnet::graph
