// The tokenizers of a GGUF's `tokenizer.*` metadata: byte-level BPE (`tokenizer.ggml.model` =
// "gpt2": GPT-2 byte<->unicode mapping, merges by rank, the Llama 3 (`llama-bpe`) pre-tokenizer;
// bpe.cpp) and SentencePiece BPE ("llama": pieces with scores, U+2581 for spaces, byte
// fallback; spm.cpp).
// References: ../shared/docs/bitnet-reference.md section 6, ternary-formats.md section 4.4.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bitnet {

namespace gguf { class File; }

// Values of tokenizer.ggml.token_type (the llama.cpp convention).
enum class TokenType : int32_t {
    UNDEFINED = 0, NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, UNUSED = 5, BYTE = 6,
};

// Everything a tokenizer is built from: the `tokenizer.*` keys of a GGUF as plain values, so the
// tokenizer can be built and tested without a file.
struct TokenizerData {
    std::string model = "gpt2";              // tokenizer.ggml.model: "gpt2" or "llama" (SPM)
    std::optional<std::string> pre;          // tokenizer.ggml.pre; nullopt = key absent
    std::vector<std::string> tokens;         // gpt2: byte-to-unicode form; llama: SPM pieces
    std::vector<int32_t> token_types;        // empty = all NORMAL; else one per token
    std::vector<std::string> merges;         // gpt2 only: "left right", index = rank
    std::vector<float> scores;               // llama only: one finite score per token
    int32_t bos = -1, eos = -1, eot = -1;    // -1 = absent; else must be < tokens.size()
    int32_t unk = -1;                        // llama: tokenizer.ggml.unknown_token_id
    std::optional<bool> add_bos;             // nullopt = default of the tokenizer model
    std::optional<bool> add_space_prefix;    // llama: tokenizer.ggml.add_space_prefix (def. true)
};

class Tokenizer {
public:
    // Builds a tokenizer from plain values. Same validation and errors as from_gguf.
    // Pre-tokenizer selection: "llama-bpe"/"llama3"/"llama-v3" (and the Falcon3 family's
    // "falcon3"/"falcon_e"/"falcon-h1") -> Llama 3 regex with
    // ignore_merges and BOS by default. Absent or "default" with the Llama 3 vocabulary
    // (128256 tokens, 128000 = <|begin_of_text|>, 128009 = <|eot_id|>; this is the official
    // 2B4T file, which has no pre key) -> the same, for parity with the model's own tiktoken
    // tokenizer (bitnet.cpp/llama.cpp instead fall back to their "default" regex set there and
    // differ on some inputs, reference section 6.2). Absent or "default" with any other
    // vocabulary -> the Llama 3 regex too, but plain GPT-2 BPE (no ignore_merges, no BOS by
    // default). Any other name -> BITNET_ERR_UNSUPPORTED.
    // model "llama" -> the SentencePiece tokenizer (spm.cpp; pre is ignored, as in llama.cpp):
    // scores required (same length as tokens, finite), BYTE tokens must read "<0xXX>", BOS by
    // default.
    static std::unique_ptr<Tokenizer> from_data(TokenizerData data);

    // Reads tokenizer.ggml.{model,pre,tokens,token_type,merges,bos_token_id,eos_token_id,
    // eot_token_id,add_bos_token} and for "llama" {scores,unknown_token_id,add_space_prefix}
    // instead of merges. Throws bitnet::Error: BAD_FORMAT for missing/ill-typed keys or
    // out-of-range ids, UNSUPPORTED for a tokenizer model other than "gpt2"/"llama" or an
    // unknown pre-tokenizer.
    static std::unique_ptr<Tokenizer> from_gguf(const gguf::File &file);
    virtual ~Tokenizer() = default;

    virtual int32_t n_vocab() const = 0;
    virtual int32_t bos() const = 0;   // -1 if none
    virtual int32_t eos() const = 0;   // -1 if none
    virtual int32_t eot() const = 0;   // -1 if none (found by text "<|eot_id|>" if no key)
    virtual bool add_bos() const = 0;
    virtual bool is_eog(int32_t id) const = 0;      // eos, eot, <|end_of_text|>, <|eom_id|>
    virtual bool is_control(int32_t id) const = 0;  // token_type CONTROL (3) or USER_DEFINED (4)

    // Text -> ids. add_bos: prepend bos() if add_bos() is true. parse_special: control and
    // user-defined token texts inside `text` become their single ids (scanning left to right,
    // longest text first at each position); otherwise they are plain text. Never throws for any
    // byte string (invalid UTF-8 included); thread-safe (const, no shared mutable state).
    virtual std::vector<int32_t> tokenize(std::string_view text, bool add_bos,
                                          bool parse_special) const = 0;
    // Appends the bytes of a token (byte-level decoded; may be part of a UTF-8 character).
    // Control tokens append their text only when render_special, user-defined tokens always
    // their text. id must be in range (caller checks; out of range appends nothing).
    virtual void append_piece(int32_t id, bool render_special, std::string &out) const = 0;
    // Appends the text of a whole sequence: the pieces, except that a SentencePiece tokenizer
    // drops the space of the dummy prefix (the leading U+2581 of the first piece that produces
    // text, as SentencePieceProcessor::Decode does). Out-of-range ids append nothing.
    virtual void detokenize(const int32_t *ids, size_t n, bool render_special,
                            std::string &out) const {
        for (size_t i = 0; i < n; ++i) append_piece(ids[i], render_special, out);
    }
    // The raw vocabulary string (GPT-2 unicode form).
    virtual const std::string &token_text(int32_t id) const = 0;
    // Id of the token whose raw vocabulary string is `text` (control tokens preferred), or -1.
    virtual int32_t find_token(std::string_view text) const = 0;
    // The pre-tokenizer in effect: "llama3" (Llama 3 regex + ignore_merges) or "default"
    // (Llama 3 regex, plain BPE); "spm" for the SentencePiece tokenizer (no pre-tokenizer).
    virtual const char *pre_tokenizer() const = 0;
};

}  // namespace bitnet
