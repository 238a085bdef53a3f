// A loaded ternary model: its architecture entry (lib/arch), hyper-parameters from GGUF
// metadata, the weights bound through the format table (lib/formats: views into the mapped file,
// or load-time repacked copies), and the tokenizer. Immutable after load, so it can be shared by
// any number of contexts on any number of threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "arch/hparams.h"
#include "formats/formats.h"
#include "gguf/gguf.h"
#include "tokenizer/chat.h"
#include "tokenizer/tokenizer.h"

namespace bitnet {

// LM head quantised at load time (BITNET_LM_HEAD_Q8 or _Q4), one absmax scale per block of
// kernels::kQ8Block consecutive values of a row: w[r][i] ≈ v[r][i] * scale[r][i / block].
struct QuantHead {
    int bits = 8;  // 8: int8 values, k bytes a row; 4: the Q4 layout of kernels.h, k/2 bytes
    int64_t k = 0;
    int64_t rows = 0;
    std::vector<uint8_t> q;
    std::vector<float> scale;  // [rows][k / block]

    int64_t row_bytes() const { return bits == 8 ? k : k / 2; }
};

struct Layer {
    const float *attn_norm = nullptr;
    const float *attn_sub_norm = nullptr;  // null when the architecture has no sub-norms
    const float *ffn_norm = nullptr;
    const float *ffn_sub_norm = nullptr;
    Matrix wq, wk, wv, wo, w_gate, w_up, w_down;
};

struct ModelOptions {
    bool use_mmap = true;
    bool repack = true;    // interleave I2_S rows by 4 at load (kernels::i2s_interleave)
    int lm_head_type = 0;  // bitnet_lm_head_type
};

class Model {
public:
    // Throws bitnet::Error.
    static std::shared_ptr<const Model> load(const std::string &path, const ModelOptions &opt);

    const HParams &hparams() const { return hp_; }
    const Tokenizer &tokenizer() const { return *tokenizer_; }
    const gguf::File &file() const { return *file_; }
    const std::vector<Layer> &layers() const { return layers_; }
    const Matrix &token_embd() const { return token_embd_; }
    // LM head (output.weight, else the tied token_embd), F16 or F32 (formats::head_matrix).
    const Matrix &output() const { return output_; }
    bool tied_head() const { return tied_; }
    // Chat format: the file's tokenizer.chat_template when recognised, else the arch default.
    ChatFormat chat_format() const { return chat_format_; }
    const std::string &chat_eos_text() const { return chat_eos_text_; }
    const std::string &chat_turn_end() const { return chat_turn_end_; }
    // Bytes the load created beside the mapping (repacked ternary codes, dequantised head).
    uint64_t owned_bytes() const { return store_.n_bytes; }
    double load_seconds() const { return load_seconds_; }
    const QuantHead *output_quant() const { return output_quant_ ? output_quant_.get() : nullptr; }
    const float *output_norm() const { return output_norm_; }
    uint64_t size_bytes() const { return size_bytes_; }
    uint64_t n_params() const { return n_params_; }
    uint64_t decode_bytes() const;

    // Embedding row of `token` as float32 (n_embd values).
    void embed(int32_t token, float *out) const;

private:
    Model() = default;
    void bind();
    void bind_layer(int il, Layer &L);
    Matrix ternary(arch::Role role, int il, int64_t k, int64_t rows);
    const float *norm(const std::string &name, int64_t n);
    const gguf::TensorInfo *tensor(const std::string &name, bool required) const;
    void quantize_output(int bits);

    std::unique_ptr<gguf::File> file_;
    std::unique_ptr<Tokenizer> tokenizer_;
    HParams hp_;
    ModelOptions opt_;
    Matrix token_embd_;
    Matrix output_;
    std::unique_ptr<QuantHead> output_quant_;
    const float *output_norm_ = nullptr;
    std::vector<Layer> layers_;
    bool tied_ = false;
    ChatFormat chat_format_ = ChatFormat::Bitnet2B4T;
    std::string chat_eos_text_, chat_turn_end_;
    std::vector<std::vector<float>> owned_;  // norm vectors converted from F16/BF16
    formats::Storage store_;
    double load_seconds_ = 0.0;
    uint64_t size_bytes_ = 0;
    uint64_t n_params_ = 0;
};

}  // namespace bitnet
