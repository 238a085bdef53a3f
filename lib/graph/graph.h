// Graphs: one file per architecture (bitnet_b158.cpp, bitnet.cpp, llama.cpp), each composing the
// shared blocks below into one decoder layer. The blocks work on the current chunk of tokens
// (lib/model/context.cpp implements them over its buffers: residual stream x, KV cache).
#pragma once

#include "arch/arch.h"
#include "arch/hparams.h"
#include "model/model.h"

namespace bitnet::graph {

class Blocks {
public:
    // x += Wo · [RMSNorm(·, sub_norm)] · Attention(RoPE(Wq h), RoPE(Wk h), Wv h),
    // h = RMSNorm(x, attn_norm); every projection W1.58A8 (or float for float weights); causal
    // GQA over the KV cache of layer il. sub_norm may be null (no sub-norm).
    virtual void attention(int il, const Layer &L, arch::RopeType rope, const float *sub_norm) = 0;
    // x += Wd · [RMSNorm(·, sub_norm)] · (act(Wg h) ⊙ Wu h), h = RMSNorm(x, ffn_norm).
    virtual void ffn(const Layer &L, arch::Activation act, const float *sub_norm) = 0;

protected:
    ~Blocks() = default;
};

// One decoder layer of an architecture.
using LayerFn = void (*)(Blocks &b, const Layer &L, int il, const HParams &hp);

void layer_bitnet_b158(Blocks &b, const Layer &L, int il, const HParams &hp);
void layer_bitnet(Blocks &b, const Layer &L, int il, const HParams &hp);
void layer_llama(Blocks &b, const Layer &L, int il, const HParams &hp);

// The layer function of an architecture entry.
LayerFn layer_fn(const arch::Arch &a);

}  // namespace bitnet::graph
