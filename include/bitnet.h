/*
 * bitnet.h — the public C API of libbitnet.
 *
 * libbitnet runs ternary (BitNet b1.58-style) language models on CPUs: Microsoft's BitNet b1.58
 * 2B4T (architecture `bitnet-b1.58`, also `bitnet-25`), 1bitLLM bitnet_b1_58 (`bitnet`) and the
 * Llama-architecture ternary models (`llama`: Llama3-8B-1.58, Falcon3-1.58bit, Falcon-E),
 * stored in GGUF v3 files with ternary weights in GGML type I2_S (36), TQ2_0 (35), TQ1_0 (34) or
 * F32/F16.
 *
 * Conventions
 * -----------
 * - Every fallible function returns a bitnet_status. BITNET_OK is 0. On any other status a
 *   human-readable message (file, offset, what was expected, what was found) is stored for the
 *   calling thread and returned by bitnet_last_error_message().
 * - Handles (bitnet_model, bitnet_context, bitnet_sampler) are opaque. Each *_new / *_load has a
 *   matching *_free. Passing NULL to a *_free function is a no-op.
 * - Parameter structs start with a `size` field. Always obtain them from the matching
 *   *_default_params() function, then change the fields you need: this keeps programs compiled
 *   against an older header working with a newer library.
 * - Text is UTF-8 and passed with an explicit byte length; it need not be NUL-terminated.
 * - Caller-provided output buffers report the size they need: when a buffer is too small the
 *   function returns BITNET_ERR_BUFFER_TOO_SMALL and stores the needed size (in elements of the
 *   buffer's type) in the `*_needed`/`*_out` argument, so the caller can grow it and call again.
 * - No C++ exception ever crosses this interface.
 *
 * Thread safety
 * -------------
 * - bitnet_version, bitnet_status_string, bitnet_last_error_message (thread-local) and the
 *   *_default_params functions may be called from any thread at any time.
 * - A bitnet_model is immutable once loaded. Every function taking `const bitnet_model *` may be
 *   called concurrently from any number of threads, and one model may serve any number of
 *   contexts used on different threads at the same time.
 * - A bitnet_context (and a bitnet_sampler) must be used by one thread at a time; use one context
 *   per thread. The only exception is bitnet_context_abort, which any thread may call at any time
 *   while the context is alive.
 * - Model lifetime is reference counted: bitnet_model_free may be called while contexts created
 *   from the model still exist; the model's memory is released when the last of them is freed.
 *
 * Sources: GGUF — ggml-org/ggml docs/gguf.md; I2_S layout and BitLinear W1.58A8 arithmetic —
 * microsoft/BitNet src/ggml-bitnet-mad.cpp; model — "The Era of 1-bit LLMs" (arXiv 2402.17764)
 * and "BitNet b1.58 2B4T Technical Report" (arXiv 2504.12285). See docs in the repository's
 * README for the exact semantics implemented.
 */
#ifndef BITNET_H
#define BITNET_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#  if defined(BITNET_BUILD)
#    define BITNET_API __declspec(dllexport)
#  else
#    define BITNET_API __declspec(dllimport)
#  endif
#else
#  define BITNET_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------ */
/* Version                                                                                     */
/* ------------------------------------------------------------------------------------------ */

#define BITNET_VERSION_MAJOR 0
#define BITNET_VERSION_MINOR 2
#define BITNET_VERSION_PATCH 0
/** Compile-time version as one integer: major*10000 + minor*100 + patch. */
#define BITNET_VERSION_NUMBER \
    (BITNET_VERSION_MAJOR * 10000 + BITNET_VERSION_MINOR * 100 + BITNET_VERSION_PATCH)

/**
 * Run-time version string of the library, e.g. "0.2.0". Compare with BITNET_VERSION_NUMBER to
 * detect a header/library mismatch. Static storage; never fails; thread-safe.
 */
BITNET_API const char *bitnet_version(void);

/** Run-time version as major*10000 + minor*100 + patch. Never fails; thread-safe. */
BITNET_API int bitnet_version_number(void);

/* ------------------------------------------------------------------------------------------ */
/* Status codes and errors                                                                     */
/* ------------------------------------------------------------------------------------------ */

/** Status codes. Values are stable and never change meaning. */
typedef enum bitnet_status {
    BITNET_OK = 0,
    BITNET_ERR_INVALID_ARGUMENT = 1,  /**< NULL handle/pointer, out-of-range parameter. */
    BITNET_ERR_IO = 2,                /**< File cannot be opened, read or mapped. */
    BITNET_ERR_BAD_FORMAT = 3,        /**< Malformed file: bad magic, truncation, bad offset... */
    BITNET_ERR_UNSUPPORTED = 4,       /**< Well-formed but unsupported: version, type, arch. */
    BITNET_ERR_OUT_OF_MEMORY = 5,     /**< An allocation failed. */
    BITNET_ERR_CONTEXT_FULL = 6,      /**< The tokens do not fit in the context's KV cache. */
    BITNET_ERR_ABORTED = 7,           /**< bitnet_context_abort() stopped the call. */
    BITNET_ERR_BUFFER_TOO_SMALL = 8,  /**< Output buffer too small; needed size reported. */
    BITNET_ERR_NOT_FOUND = 9,         /**< Metadata key or tensor does not exist. */
    BITNET_ERR_INTERNAL = 10          /**< A bug in libbitnet; please report it. */
} bitnet_status;

/**
 * Short English description of a status code ("invalid argument", ...). Unknown values give
 * "unknown status". Static storage; never fails; thread-safe.
 */
BITNET_API const char *bitnet_status_string(bitnet_status status);

/**
 * Message describing the last failure on the calling thread (thread-local storage), e.g.
 * "model.gguf: tensor 'blk.0.attn_q.weight' data [4096, 8192) lies outside the file (size
 * 6000)". Empty string if the last call on this thread succeeded or no call was made. The
 * pointer stays valid until the next libbitnet call on the same thread. Never fails.
 */
BITNET_API const char *bitnet_last_error_message(void);

/* ------------------------------------------------------------------------------------------ */
/* Logging                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/** Severity of a library log message. */
typedef enum bitnet_log_level {
    BITNET_LOG_DEBUG = 0,
    BITNET_LOG_INFO = 1,
    BITNET_LOG_WARN = 2,  /**< e.g. an unknown BITNET_ISA value that was ignored. */
    BITNET_LOG_ERROR = 3
} bitnet_log_level;

/**
 * Receives one library log message: a NUL-terminated UTF-8 line without a trailing newline,
 * valid only during the call. May be called from any thread (including worker threads), also
 * concurrently; it must not call back into libbitnet.
 * @param level      a bitnet_log_level.
 * @param text       the message.
 * @param user_data  the pointer given to bitnet_log_set.
 */
typedef void (*bitnet_log_callback)(int level, const char *text, void *user_data);

/**
 * Installs the process-wide log callback. libbitnet never writes to stdout or stderr on its
 * own: without a callback (the default, or after bitnet_log_set(NULL, NULL)) its messages are
 * dropped. Errors of API calls are still reported by status + bitnet_last_error_message; the
 * log carries only diagnostics that have no caller to return to.
 * @param callback   the receiver, or NULL to drop messages.
 * @param user_data  passed to callback unchanged (not owned).
 * Thread-safe; a message being delivered while the callback changes goes to the old one.
 */
BITNET_API void bitnet_log_set(bitnet_log_callback callback, void *user_data);

/* ------------------------------------------------------------------------------------------ */
/* Types                                                                                       */
/* ------------------------------------------------------------------------------------------ */

/** A token id, 0 <= id < bitnet_model_n_vocab(). */
typedef int32_t bitnet_token;

typedef struct bitnet_model bitnet_model;     /**< A loaded model (weights + vocabulary). */
typedef struct bitnet_context bitnet_context; /**< An inference state: KV cache, scratch. */
typedef struct bitnet_sampler bitnet_sampler; /**< A token sampler with its RNG state. */

/* ------------------------------------------------------------------------------------------ */
/* Model                                                                                       */
/* ------------------------------------------------------------------------------------------ */

/** How the LM head (output projection) is stored in memory. */
typedef enum bitnet_lm_head_type {
    BITNET_LM_HEAD_AUTO = 0, /**< As stored in the file (the tied F16 embedding for 2B4T). */
    BITNET_LM_HEAD_F16 = 1,  /**< F16 weights (exact for F16 files). */
    BITNET_LM_HEAD_Q8 = 2,   /**< int8 with an absmax scale per block of 32 values of a row,
                                  quantised at load time: about half the memory traffic; the
                                  32 largest logits of each row are re-scored exactly with the
                                  original weights (accuracy cost: see README). */
    BITNET_LM_HEAD_Q4 = 3    /**< 4-bit values (-7..7) with an absmax scale per block of 32
                                  values of a row (ggml Q4_0's layout, float scale), quantised
                                  at load time: about 0.31 of the F16 head's bytes. Its product
                                  also quantises the activations per block of 32 (as ggml's
                                  Q8_0). The 32 largest logits are re-scored exactly as for Q8;
                                  the others carry a larger error (accuracy cost: see README). */
} bitnet_lm_head_type;

/** Parameters of bitnet_model_load. Obtain with bitnet_model_default_params(). */
typedef struct bitnet_model_params {
    size_t size;          /**< sizeof(bitnet_model_params); set by the default function. */
    int use_mmap;         /**< 1 (default): map the file; 0: read it into memory. */
    int lm_head_type;     /**< A bitnet_lm_head_type; default BITNET_LM_HEAD_AUTO. */
    int repack;           /**< 1 (default): reorder the I2_S weight blocks at load time so
                               that four rows are read as one stream (same values, same
                               results, faster decode); the weights' pages then become private
                               memory instead of shared file cache (same resident size). 0: use
                               the bytes as the file stores them. */
} bitnet_model_params;

/** Default model parameters (mmap on, LM head as stored, repack on). Never fails; thread-safe. */
BITNET_API bitnet_model_params bitnet_model_default_params(void);

/**
 * Loads a GGUF v3 model file.
 *
 * Accepts architectures `bitnet-b1.58` / `bitnet-25` (BitNet b1.58 2B4T graph: sub-norms, ReLU²,
 * NeoX RoPE), `bitnet` (1bitLLM: sub-norms, SiLU, optional per-matrix `.scale` tensors) and
 * `llama` (no sub-norms, SiLU, normal RoPE on the converter-permuted Q/K rows, untied
 * `output.weight` when present); `<arch>.hidden_activation` overrides the activation and
 * `attention.key_length` the head size (ternary-formats.md sections 1.1-1.3). BitLinear weights
 * in I2_S (ggml type 36), TQ2_0 (35) or TQ1_0 (34) -- TQ weights are repacked into I2_S codes at
 * load, losslessly; a TQ tensor whose blocks have different scales keeps them, exactly -- with
 * every activation quantised per token (W1.58A8), or F32/F16 (float products); embeddings and
 * LM head in F16, BF16, F32, Q8_0, Q6_K or Q4_0 (a head other than F16/F32 is dequantised to F16
 * at load); a byte-level BPE vocabulary (`tokenizer.ggml.model` = "gpt2") or a SentencePiece
 * one ("llama": pieces, `tokenizer.ggml.scores`, token types). Every offset, size and count in
 * the file is validated before use; hyper-parameters come from the metadata.
 *
 * @param path    NUL-terminated file path.
 * @param params  NULL for defaults, or parameters from bitnet_model_default_params().
 * @param out     receives the model handle on success (set to NULL on failure). Free it with
 *                bitnet_model_free().
 * @return BITNET_OK; BITNET_ERR_INVALID_ARGUMENT (NULL path/out, bad params);
 *         BITNET_ERR_IO (cannot open/map); BITNET_ERR_BAD_FORMAT (bad magic, truncated file,
 *         out-of-range offsets, overflowing sizes, bad metadata types, missing tensors or
 *         wrong shapes, a ternary tensor with a non-finite scale or a code outside -1/0/+1);
 *         BITNET_ERR_UNSUPPORTED (GGUF version other than 2/3, unknown tensor type -- the type
 *         ids of other ggml forks, e.g. bitnet.cpp's TL1/TL2 or ik_llama.cpp's IQ1_BN/IQ2_BN,
 *         are named in the message --, a weight type the tensor's role cannot take, an I2_S
 *         row length that is not a multiple of 128, unknown architecture, hidden_activation,
 *         RoPE scaling or tokenizer, a Q8/Q4 LM head for an embedding length that is not a
 *         multiple of 32); BITNET_ERR_OUT_OF_MEMORY.
 * Thread-safe (loads of different files may run concurrently).
 */
BITNET_API bitnet_status bitnet_model_load(const char *path, const bitnet_model_params *params,
                                           bitnet_model **out);

/**
 * Releases the caller's reference to a model. Contexts created from it keep it alive until they
 * are freed. NULL is a no-op. Calling it twice on the same handle is undefined behaviour.
 */
BITNET_API void bitnet_model_free(bitnet_model *model);

/** Vocabulary size (number of token ids). 0 if model is NULL. Thread-safe. */
BITNET_API int32_t bitnet_model_n_vocab(const bitnet_model *model);
/** Training context length (`<arch>.context_length`), in tokens. 0 if NULL. */
BITNET_API int32_t bitnet_model_n_ctx_train(const bitnet_model *model);
/** Embedding size (`<arch>.embedding_length`), in floats per token. 0 if NULL. */
BITNET_API int32_t bitnet_model_n_embd(const bitnet_model *model);
/** Number of transformer blocks (`<arch>.block_count`). 0 if NULL. */
BITNET_API int32_t bitnet_model_n_layer(const bitnet_model *model);
/** Number of attention (query) heads. 0 if NULL. */
BITNET_API int32_t bitnet_model_n_head(const bitnet_model *model);
/** Number of key/value heads (GQA). 0 if NULL. */
BITNET_API int32_t bitnet_model_n_head_kv(const bitnet_model *model);
/** Total size in bytes of all tensor data of the model file. 0 if NULL. */
BITNET_API uint64_t bitnet_model_size_bytes(const bitnet_model *model);
/**
 * Bytes of weights a decode step reads (batch of one token): every BitLinear matrix, the norm
 * vectors, one embedding row and the whole LM head as held in memory (F16 or, with
 * BITNET_LM_HEAD_Q8/_Q4, int8 or 4-bit values plus block scales). Divide a measured read
 * bandwidth (bytes/s) by it for the memory-bound limit of tokens/s. 0 if NULL.
 */
BITNET_API uint64_t bitnet_model_decode_bytes(const bitnet_model *model);
/** Number of parameters (weights) in the model's tensors. 0 if NULL. */
BITNET_API uint64_t bitnet_model_n_params(const bitnet_model *model);

/**
 * Architecture name (`general.architecture`, e.g. "bitnet-b1.58"). Owned by the model, valid
 * until the model is released. Returns "" if model is NULL.
 */
BITNET_API const char *bitnet_model_architecture(const bitnet_model *model);

/** Number of metadata key/value pairs in the file. 0 if NULL. */
BITNET_API int32_t bitnet_model_meta_count(const bitnet_model *model);

/**
 * Copies the i-th metadata key (0 <= i < bitnet_model_meta_count) as a NUL-terminated string.
 * @param model          the model.
 * @param i              key index, 0 <= i < bitnet_model_meta_count(model).
 * @param buf,buf_size  caller buffer (bytes, including the NUL).
 * @param needed         if not NULL, receives the bytes needed including the NUL.
 * @return BITNET_OK; BITNET_ERR_INVALID_ARGUMENT (NULL model, i out of range, NULL buf with
 *         buf_size > 0); BITNET_ERR_BUFFER_TOO_SMALL.
 */
BITNET_API bitnet_status bitnet_model_meta_key(const bitnet_model *model, int32_t i, char *buf,
                                               size_t buf_size, size_t *needed);

/**
 * Looks up a metadata value by key and writes it as NUL-terminated text: integers and floats
 * in decimal, booleans as "true"/"false", strings verbatim, arrays as "[N items of TYPE]" (the
 * vocabulary arrays are large).
 * @return BITNET_OK; BITNET_ERR_INVALID_ARGUMENT (NULL model/key); BITNET_ERR_NOT_FOUND;
 *         BITNET_ERR_BUFFER_TOO_SMALL (needed receives the size including the NUL).
 */
BITNET_API bitnet_status bitnet_model_meta_get(const bitnet_model *model, const char *key,
                                               char *buf, size_t buf_size, size_t *needed);

/** Beginning-of-sequence token id, or -1 if the vocabulary has none. */
BITNET_API bitnet_token bitnet_token_bos(const bitnet_model *model);
/** End-of-sequence token id (`tokenizer.ggml.eos_token_id`), or -1. */
BITNET_API bitnet_token bitnet_token_eos(const bitnet_model *model);
/** End-of-turn token id (`<|eot_id|>` = 128009 in Llama 3), or -1. */
BITNET_API bitnet_token bitnet_token_eot(const bitnet_model *model);
/** 1 if generation stops at this token (EOS, EOT: 128001, 128009 for Llama 3), else 0. */
BITNET_API int bitnet_token_is_eog(const bitnet_model *model, bitnet_token token);
/** 1 if the model wants BOS prepended to a fresh sequence (`add_bos_token`, Llama 3: yes). */
BITNET_API int bitnet_model_add_bos(const bitnet_model *model);

/* ------------------------------------------------------------------------------------------ */
/* Tokenizer                                                                                   */
/* ------------------------------------------------------------------------------------------ */

/**
 * Tokenizes UTF-8 text with the model's byte-level BPE vocabulary and the Llama 3 (`llama-bpe`)
 * pre-tokenizer regex (also used when `tokenizer.ggml.pre` is absent but the vocabulary is Llama
 * 3's, as in the official 2B4T file). Invalid UTF-8 bytes are tokenized as their byte tokens.
 * A SentencePiece vocabulary (`tokenizer.ggml.model` = "llama", 1bitLLM/LLaMA 2) is encoded as
 * SentencePiece's BPE does: spaces as U+2581, a leading space added (`add_space_prefix`, default
 * on; again after each special token when parse_special is 1), highest-score merges, bytes
 * without a piece as `<0xXX>` tokens; user-defined pieces are always kept whole.
 *
 * @param model           the model whose vocabulary is used.
 * @param text,text_len  input bytes.
 * @param add_bos         1: prepend BOS if the model adds one (bitnet_model_add_bos).
 * @param parse_special   1: text of control tokens such as "<|eot_id|>" becomes that single
 *                        token; 0: it is tokenized as plain text.
 * @param tokens,n_tokens_max  output array (may be NULL when n_tokens_max is 0).
 * @param n_tokens_out    receives the number of tokens produced (or needed).
 * @return BITNET_OK; BITNET_ERR_INVALID_ARGUMENT (NULL model/n_tokens_out, NULL text with
 *         text_len > 0); BITNET_ERR_BUFFER_TOO_SMALL (*n_tokens_out = tokens needed).
 * Source: GPT-2 byte-level BPE (Radford et al. 2019); regex of tiktoken's cl100k/Llama 3.
 */
BITNET_API bitnet_status bitnet_tokenize(const bitnet_model *model, const char *text,
                                         size_t text_len, int add_bos, int parse_special,
                                         bitnet_token *tokens, size_t n_tokens_max,
                                         size_t *n_tokens_out);

/**
 * Writes the bytes of one token (its "piece"). Byte-level tokens give raw bytes, which may be
 * part of a multi-byte UTF-8 character; concatenating the pieces of a token sequence gives the
 * text back byte for byte. Not NUL-terminated.
 * @param model           the model whose vocabulary is used.
 * @param token           token id, 0 <= token < bitnet_model_n_vocab.
 * @param buf,buf_size    output buffer (bytes; buf may be NULL when buf_size is 0).
 * @param render_special  1: control tokens give their text ("<|eot_id|>"); 0: nothing.
 * @param n_bytes_out     receives the number of bytes written (or needed).
 * @return BITNET_OK; BITNET_ERR_INVALID_ARGUMENT (NULL model/n_bytes_out, token out of range);
 *         BITNET_ERR_BUFFER_TOO_SMALL.
 */
BITNET_API bitnet_status bitnet_token_to_piece(const bitnet_model *model, bitnet_token token,
                                               int render_special, char *buf, size_t buf_size,
                                               size_t *n_bytes_out);

/**
 * Detokenizes a sequence: the concatenation of the pieces (see bitnet_token_to_piece), except
 * that with a SentencePiece vocabulary the leading space of the first piece that writes text is
 * dropped (it is the added dummy prefix; SentencePieceProcessor::Decode does the same). Not
 * NUL-terminated. Same statuses as bitnet_token_to_piece, plus INVALID_ARGUMENT for NULL tokens
 * with n_tokens > 0.
 */
BITNET_API bitnet_status bitnet_detokenize(const bitnet_model *model, const bitnet_token *tokens,
                                           size_t n_tokens, int render_special, char *buf,
                                           size_t buf_size, size_t *n_bytes_out);

/* ------------------------------------------------------------------------------------------ */
/* Context and evaluation                                                                      */
/* ------------------------------------------------------------------------------------------ */

/** Element type of the KV cache. */
typedef enum bitnet_kv_type {
    BITNET_KV_F16 = 0, /**< Default, as llama.cpp/bitnet.cpp: half the memory. */
    BITNET_KV_F32 = 1  /**< Exact float32 keys and values. */
} bitnet_kv_type;

/** Where a context runs the forward pass. */
typedef enum bitnet_device {
    BITNET_DEVICE_CPU = 0, /**< Default: the CPU kernels, on n_threads worker threads. */
    BITNET_DEVICE_CUDA = 1 /**< The first NVIDIA GPU (CUDA device 0): weights uploaded once at
                                bitnet_context_new (ternary kept packed), KV cache and the whole
                                forward pass on the GPU, single-token decode replayed from a CUDA
                                graph. Same integer semantics as the CPU (int8 activations,
                                exact int32 ternary products); float parts differ only by
                                summation order. Needs a libbitnet built with BITNET_CUDA, a
                                driver and a device, architecture bitnet-b1.58 or bitnet-25
                                with I2_S layer matrices and an F16/F32 embedding and head, no
                                quantised LM head. */
} bitnet_device;

/** Parameters of bitnet_context_new. Obtain with bitnet_context_default_params(). */
typedef struct bitnet_context_params {
    size_t size;        /**< sizeof(bitnet_context_params). */
    uint32_t n_ctx;     /**< KV cache size in tokens; 0 (default) = min(training length, 4096). */
    int32_t n_threads;  /**< Worker threads; 0 (default) = number of physical cores. */
    int32_t n_batch;    /**< Max tokens per forward chunk during prefill; 0 = 512. */
    uint64_t seed;      /**< Seed used by bitnet_generate when the sampling seed is
                             BITNET_SEED_DEFAULT (see there). Default 0. */
    int kv_type;        /**< A bitnet_kv_type; default BITNET_KV_F16. */
    uint32_t n_seq_max; /**< Sequences the KV cache holds (bitnet_decode's seq_id range); n_ctx
                             is split evenly between them, n_ctx / n_seq_max positions each
                             (llama-server's -c / --parallel). Default 1. */
    int embeddings;     /**< 1: bitnet_decode outputs embeddings (final-norm hidden states,
                             n_embd floats) instead of logits. Default 0. */
    int pooling_type;   /**< A bitnet_pooling_type, for embeddings. Default BITNET_POOLING_NONE. */
    int embd_normalize; /**< 1: L2-normalise every embedding. Default 0. */
    int device;         /**< A bitnet_device; default BITNET_DEVICE_CPU. The fields from
                             n_seq_max on were added after kv_type: callers built with the older,
                             smaller struct (size set to their sizeof) get the defaults. */
} bitnet_context_params;

/** How bitnet_decode pools the embeddings of a sequence (context parameter pooling_type). */
typedef enum bitnet_pooling_type {
    BITNET_POOLING_NONE = 0, /**< One embedding per token that asks for output. */
    BITNET_POOLING_MEAN = 1, /**< Per sequence: the mean over its tokens in the batch. */
    BITNET_POOLING_LAST = 2  /**< Per sequence: its last token in the batch. */
} bitnet_pooling_type;

/** Default context parameters. Never fails; thread-safe. */
BITNET_API bitnet_context_params bitnet_context_default_params(void);

/**
 * Creates an inference context (KV cache of n_ctx tokens, scratch buffers, worker threads) for
 * a model. The context holds a reference to the model.
 * With device = BITNET_DEVICE_CUDA the weights are copied to the GPU here (seconds for a 2B
 * model) and the context's memory (KV cache, scratch) is GPU memory.
 * @return BITNET_OK; BITNET_ERR_INVALID_ARGUMENT (NULL model/out, n_ctx above 1<<24, negative
 *         n_threads or above 1024, bad kv_type, n_seq_max 0 or above n_ctx or 4096, bad
 *         pooling_type, unknown device); BITNET_ERR_UNSUPPORTED
 *         (device CUDA: built without the CUDA backend, no driver or no GPU, a model the GPU
 *         path does not run; the message says which); BITNET_ERR_OUT_OF_MEMORY (also
 *         GPU memory); BITNET_ERR_INTERNAL (a CUDA call failed; the message names it).
 */
BITNET_API bitnet_status bitnet_context_new(bitnet_model *model,
                                            const bitnet_context_params *params,
                                            bitnet_context **out);

/**
 * Returns a new handle to the model a context uses (the same loaded model, reference counted):
 * free it with bitnet_model_free. Lets bindings reach the tokenizer from a context alone.
 * @return BITNET_OK; BITNET_ERR_INVALID_ARGUMENT (NULL ctx/out); BITNET_ERR_OUT_OF_MEMORY.
 */
BITNET_API bitnet_status bitnet_context_get_model(const bitnet_context *ctx, bitnet_model **out);

/** Frees a context (and its model reference). NULL is a no-op. */
BITNET_API void bitnet_context_free(bitnet_context *ctx);

/** Empties the KV cache of every sequence (n_past becomes 0) and clears the abort flag. */
BITNET_API bitnet_status bitnet_context_reset(bitnet_context *ctx);

/** KV cache capacity in tokens. 0 if NULL. */
BITNET_API uint32_t bitnet_context_n_ctx(const bitnet_context *ctx);
/** Number of tokens of sequence 0 in the KV cache (the position of its next token). 0 if NULL. */
BITNET_API uint32_t bitnet_context_n_past(const bitnet_context *ctx);
/** Number of worker threads the context uses. 0 if NULL. */
BITNET_API int32_t bitnet_context_n_threads(const bitnet_context *ctx);

/**
 * Requests that the running (or next) bitnet_eval / bitnet_generate / bitnet_bench on this
 * context stop as soon as possible with BITNET_ERR_ABORTED. Safe to call from any thread at any
 * time while the context is alive. The flag is cleared when the aborted call returns and by
 * bitnet_context_reset.
 */
BITNET_API void bitnet_context_abort(bitnet_context *ctx);

/** Which logits bitnet_eval computes. */
typedef enum bitnet_logits_mode {
    BITNET_LOGITS_NONE = 0, /**< Only fill the KV cache. */
    BITNET_LOGITS_LAST = 1, /**< Logits of the last token (1 row). */
    BITNET_LOGITS_ALL = 2   /**< Logits of every token of this call (n_tokens rows). */
} bitnet_logits_mode;

/**
 * Runs the forward pass over n_tokens tokens at positions n_past .. n_past+n_tokens-1,
 * appending their keys/values to the KV cache, and computes logits as requested.
 *
 * @param ctx       the context (not used concurrently).
 * @param tokens    n_tokens ids, each in [0, n_vocab).
 * @param n_tokens  number of tokens (> 0, at most n_ctx - n_past).
 * @param logits_mode  a bitnet_logits_mode.
 * @return BITNET_OK; BITNET_ERR_INVALID_ARGUMENT (NULL ctx/tokens, n_tokens 0, token id out of
 *         range, bad mode); BITNET_ERR_CONTEXT_FULL (n_past + n_tokens > n_ctx; nothing is
 *         evaluated); BITNET_ERR_ABORTED (tokens evaluated so far stay in the cache; logits are
 *         invalid).
 * Source: BitNet b1.58 forward pass (arXiv 2504.12285 §2; bitnet-b1.58 graph of ik_llama.cpp).
 */
BITNET_API bitnet_status bitnet_eval(bitnet_context *ctx, const bitnet_token *tokens,
                                     size_t n_tokens, int logits_mode);

/**
 * Logits of the last bitnet_eval: row i (0-based, or -1 for the last row) of n_vocab floats.
 * Owned by the context; valid until the next eval/generate/reset/free. Returns NULL if the row
 * does not exist (no logits computed, i out of range, NULL ctx).
 */
BITNET_API const float *bitnet_get_logits(bitnet_context *ctx, int32_t i);

/** Number of logit rows available from the last bitnet_eval (0, 1 or n_tokens). */
BITNET_API int32_t bitnet_n_logits(const bitnet_context *ctx);

/* ------------------------------------------------------------------------------------------ */
/* Batched decoding of several sequences, KV cache edits, state, embeddings                    */
/* ------------------------------------------------------------------------------------------ */

/**
 * A batch of tokens for bitnet_decode (as llama.cpp's llama_batch, one sequence per token):
 * token i is at position pos[i] of sequence seq_id[i], and logits[i] != 0 asks for its output
 * (logits, or an embedding when the context outputs embeddings). Make one with bitnet_batch_init
 * and fill it with bitnet_batch_add (or write the arrays directly, i < capacity, and set
 * n_tokens). The arrays belong to the batch; free them with bitnet_batch_free.
 */
typedef struct bitnet_batch {
    int32_t n_tokens;     /**< Tokens in the batch (0 <= n_tokens <= capacity). */
    int32_t capacity;     /**< Length of each array. */
    bitnet_token *token;  /**< Token ids. */
    int32_t *pos;         /**< Position of each token in its sequence (0-based). */
    int32_t *seq_id;      /**< Sequence of each token, in [0, n_seq_max). */
    int8_t *logits;       /**< Non-zero: compute this token's output. */
} bitnet_batch;

/**
 * Allocates the arrays of a batch of up to `capacity` tokens (n_tokens = 0). On failure *batch
 * is zeroed. Thread-safe.
 * @param capacity  tokens the batch can hold, 1 .. 1<<24.
 * @param batch     receives the batch; release with bitnet_batch_free.
 * @return BITNET_OK; BITNET_ERR_INVALID_ARGUMENT (NULL batch, capacity out of range);
 *         BITNET_ERR_OUT_OF_MEMORY.
 */
BITNET_API bitnet_status bitnet_batch_init(int32_t capacity, bitnet_batch *batch);
/** Frees the arrays of a batch and zeroes it. NULL or a zeroed batch is a no-op. */
BITNET_API void bitnet_batch_free(bitnet_batch *batch);
/** Sets n_tokens to 0 (the arrays stay). NULL is a no-op. */
BITNET_API void bitnet_batch_clear(bitnet_batch *batch);
/**
 * Appends one token to a batch.
 * @return BITNET_OK; BITNET_ERR_INVALID_ARGUMENT (NULL batch or arrays, batch full).
 */
BITNET_API bitnet_status bitnet_batch_add(bitnet_batch *batch, bitnet_token token, int32_t pos,
                                          int32_t seq_id, int logits);

/**
 * Runs the forward pass over a batch of tokens of one or more sequences: every BitLinear
 * projection of the batch is one ternary x int8 matrix product (the weights are read once for
 * all tokens), attention runs per token over the keys of its own sequence only. Each sequence's
 * tokens must continue it: the first at bitnet_kv_seq_pos_max(seq) + 1, the next ones at
 * consecutive positions (they may be interleaved with other sequences' tokens). A sequence
 * decoded in a batch gets bit-identical logits to the same tokens decoded alone (the ternary
 * products are exact integers; every float step is computed per token in the same order).
 * Outputs are read with bitnet_get_logits_ith / bitnet_get_embeddings_ith / _seq; output row j
 * is also bitnet_get_logits(ctx, j), rows in batch order.
 * @param ctx    the context (not used concurrently).
 * @param batch  1 .. capacity tokens; ids in [0, n_vocab), seq_id in [0, n_seq_max).
 * @return BITNET_OK; BITNET_ERR_INVALID_ARGUMENT (NULL arguments, empty batch, bad id, sequence
 *         or position; nothing is evaluated); BITNET_ERR_CONTEXT_FULL (a sequence would exceed
 *         n_ctx / n_seq_max positions; nothing is evaluated); BITNET_ERR_ABORTED (the tokens of
 *         the micro-batches evaluated so far stay in the cache; outputs are invalid).
 * Source: llama.cpp's llama_decode / llama_batch (multi-sequence batches), with one KV stream
 * per sequence (its non-unified KV cache).
 */
BITNET_API bitnet_status bitnet_decode(bitnet_context *ctx, const bitnet_batch *batch);

/**
 * Logits (n_vocab floats) of token i of the last bitnet_decode batch, or of the last output row
 * when i < 0. Owned by the context; valid until the next decode/eval/generate/reset/free. NULL if
 * token i asked for no output, i is out of range, the context outputs embeddings, or ctx is NULL.
 */
BITNET_API const float *bitnet_get_logits_ith(bitnet_context *ctx, int32_t i);

/**
 * Embedding (n_embd floats: the final RMSNorm output, optionally L2-normalised) of token i of
 * the last batch (i < 0: the last output row), for a context with embeddings = 1 and pooling
 * BITNET_POOLING_NONE. Owned by the context, valid as bitnet_get_logits_ith. NULL otherwise.
 */
BITNET_API const float *bitnet_get_embeddings_ith(bitnet_context *ctx, int32_t i);
/**
 * Pooled embedding (n_embd floats) of sequence seq_id over its tokens in the last batch, for a
 * context with embeddings = 1 and pooling MEAN or LAST. Owned by the context, valid as above.
 * NULL if the sequence had no token in the batch, for another pooling, or NULL ctx.
 */
BITNET_API const float *bitnet_get_embeddings_seq(bitnet_context *ctx, int32_t seq_id);

/**
 * Removes positions [p0, p1) of a sequence from the KV cache (p1 < 0: to the end; seq_id < 0:
 * every sequence). Only a suffix can be removed (what prompt-prefix reuse needs): a range ending
 * before the sequence does would leave a hole.
 * @return BITNET_OK (also when nothing of the range is cached); BITNET_ERR_INVALID_ARGUMENT
 *         (NULL ctx, seq_id >= n_seq_max); BITNET_ERR_UNSUPPORTED (a range inside the sequence).
 */
BITNET_API bitnet_status bitnet_kv_seq_rm(bitnet_context *ctx, int32_t seq_id, int32_t p0,
                                          int32_t p1);
/**
 * Copies positions [p0, p1) (p1 < 0: to the end) of sequence src into sequence dst at the same
 * positions, and makes dst end there (e.g. to share a prompt prefix). p0 must not be past the
 * end of dst.
 * @return BITNET_OK; BITNET_ERR_INVALID_ARGUMENT (NULL ctx, ids out of range);
 *         BITNET_ERR_UNSUPPORTED (p0 beyond the end of dst).
 */
BITNET_API bitnet_status bitnet_kv_seq_cp(bitnet_context *ctx, int32_t src, int32_t dst,
                                          int32_t p0, int32_t p1);
/** Empties every sequence but seq_id. @return BITNET_OK; BITNET_ERR_INVALID_ARGUMENT. */
BITNET_API bitnet_status bitnet_kv_seq_keep(bitnet_context *ctx, int32_t seq_id);
/** Largest position of a sequence in the cache, -1 if it is empty or the arguments are bad. */
BITNET_API int32_t bitnet_kv_seq_pos_max(const bitnet_context *ctx, int32_t seq_id);
/** Sequences the context holds (its n_seq_max). 0 if NULL. */
BITNET_API uint32_t bitnet_context_n_seq_max(const bitnet_context *ctx);

/**
 * Bytes bitnet_state_save needs for the context's current KV cache (header, sequence lengths
 * and the used cells of every layer). 0 if NULL.
 */
BITNET_API size_t bitnet_state_size(const bitnet_context *ctx);
/**
 * Writes the KV cache state into a caller buffer.
 * @param n_written  receives the size needed (also when the buffer is too small); may be NULL.
 * @return BITNET_OK; BITNET_ERR_INVALID_ARGUMENT (NULL ctx, NULL buf with size > 0);
 *         BITNET_ERR_BUFFER_TOO_SMALL.
 */
BITNET_API bitnet_status bitnet_state_save(const bitnet_context *ctx, void *buf, size_t buf_size,
                                           size_t *n_written);
/**
 * Restores a KV cache state written by bitnet_state_save of a context with the same model
 * shape, n_ctx, n_seq_max and kv_type. The logits of the last decode are not part of the state.
 * @return BITNET_OK; BITNET_ERR_INVALID_ARGUMENT (NULL arguments); BITNET_ERR_BAD_FORMAT (not a
 *         state, another shape, truncated; the cache is left empty).
 */
BITNET_API bitnet_status bitnet_state_load(bitnet_context *ctx, const void *buf, size_t size);
/**
 * bitnet_state_save to a file (created or truncated) / bitnet_state_load from a file.
 * @return as the buffer forms, plus BITNET_ERR_IO (cannot open, write or read the file).
 */
BITNET_API bitnet_status bitnet_state_save_file(const bitnet_context *ctx, const char *path);
BITNET_API bitnet_status bitnet_state_load_file(bitnet_context *ctx, const char *path);

/* ------------------------------------------------------------------------------------------ */
/* Sampling                                                                                    */
/* ------------------------------------------------------------------------------------------ */

/**
 * Sampling seed meaning "not chosen by the caller": bitnet_generate then derives the seed from
 * the context's seed (bitnet_context_params.seed) and the number of bitnet_generate calls made
 * on the context so far, so successive calls differ but a run is reproducible for a given
 * context seed. Elsewhere (bitnet_sampler_new) it is an ordinary seed value.
 */
#define BITNET_SEED_DEFAULT UINT64_MAX

/**
 * Sampling parameters. Order of application (as llama.cpp): repetition penalty, then greedy if
 * temperature <= 0, else top-k, top-p, min-p, temperature, then a draw from the softmax.
 */
typedef struct bitnet_sampling_params {
    size_t size;           /**< sizeof(bitnet_sampling_params). */
    float temperature;     /**< <= 0: greedy (argmax, lowest id on ties). Default 0.8. */
    int32_t top_k;         /**< Keep the k most likely tokens; <= 0 disables. Default 40. */
    float top_p;           /**< Nucleus: smallest set with cumulative prob >= p; 1 disables. Default 0.95. */
    float min_p;           /**< Drop tokens with prob < min_p * max prob; 0 disables. Default 0.05. */
    float repeat_penalty;  /**< CTRL-style penalty on recent tokens; 1 disables. Default 1.0. */
    int32_t repeat_last_n; /**< How many recent tokens the penalty looks at. Default 64. */
    uint64_t seed;         /**< RNG seed; same seed + same logits = same tokens.
                                Default BITNET_SEED_DEFAULT. */
} bitnet_sampling_params;

/** Default sampling parameters (values above). Never fails; thread-safe. */
BITNET_API bitnet_sampling_params bitnet_sampling_default_params(void);

/**
 * Creates a sampler. @return BITNET_OK; BITNET_ERR_INVALID_ARGUMENT (NULL out, NaN/infinite
 * temperature, top_p/min_p outside [0,1], repeat_penalty <= 0 or NaN, negative repeat_last_n);
 * BITNET_ERR_OUT_OF_MEMORY.
 */
BITNET_API bitnet_status bitnet_sampler_new(const bitnet_sampling_params *params,
                                            bitnet_sampler **out);
/** Frees a sampler; NULL is a no-op. */
BITNET_API void bitnet_sampler_free(bitnet_sampler *sampler);

/**
 * Picks a token from n_vocab logits (not modified) and records it in the sampler's history for
 * the repetition penalty.
 * @return BITNET_OK; BITNET_ERR_INVALID_ARGUMENT (NULL arguments, n_vocab <= 0).
 */
BITNET_API bitnet_status bitnet_sampler_sample(bitnet_sampler *sampler, const float *logits,
                                               int32_t n_vocab, bitnet_token *out);

/**
 * Adds a token to the history (e.g. prompt tokens) without sampling. Not thread-safe for one
 * sampler. @return BITNET_OK; BITNET_ERR_INVALID_ARGUMENT (NULL sampler);
 * BITNET_ERR_OUT_OF_MEMORY (the history could not grow).
 */
BITNET_API bitnet_status bitnet_sampler_accept(bitnet_sampler *sampler, bitnet_token token);

/**
 * Clears the history and re-seeds the RNG with the sampler's seed. Not thread-safe for one
 * sampler. @return BITNET_OK; BITNET_ERR_INVALID_ARGUMENT (NULL sampler).
 */
BITNET_API bitnet_status bitnet_sampler_reset(bitnet_sampler *sampler);

/* ------------------------------------------------------------------------------------------ */
/* Generation                                                                                  */
/* ------------------------------------------------------------------------------------------ */

/**
 * Called once for every sampled token that is not an end-of-generation token, with the text it
 * completes. Pieces are whole UTF-8 characters: bytes of a character split across tokens are
 * held back until it is complete, so a piece may be empty (piece_len 0) for a token whose bytes
 * are held back, and control tokens give an empty piece unless render_special. Bytes still held
 * at the end (an incomplete UTF-8 sequence) are delivered in one last call with token -1.
 * Return 0 to continue, non-zero to stop
 * (generation then ends with stop reason BITNET_STOP_CALLBACK and status BITNET_OK).
 */
typedef int (*bitnet_piece_callback)(const char *piece, size_t piece_len, bitnet_token token,
                                     void *user_data);

/** Why generation ended. */
typedef enum bitnet_stop_reason {
    BITNET_STOP_NONE = 0,
    BITNET_STOP_EOG = 1,          /**< An end-of-generation token was sampled (not emitted). */
    BITNET_STOP_MAX_TOKENS = 2,   /**< max_tokens tokens were generated. */
    BITNET_STOP_CALLBACK = 3,     /**< The callback returned non-zero. */
    BITNET_STOP_CONTEXT_FULL = 4  /**< The KV cache is full (status BITNET_ERR_CONTEXT_FULL). */
} bitnet_stop_reason;

/**
 * Parameters of bitnet_generate. Obtain with bitnet_generate_default_params(), then change fields.
 * The sampler settings are held by pointer, not by value, so that either struct can grow (new
 * fields at the end, `size` telling the library how much a caller's binary knows) without
 * shifting the other's fields.
 */
typedef struct bitnet_generate_params {
    size_t size;           /**< sizeof(bitnet_generate_params); set by the default function. */
    int32_t max_tokens;    /**< Tokens to generate at most; default 128; must be >= 0. */
    const bitnet_sampling_params *sampling; /**< Sampler settings, read during the call only
                                                 (the caller keeps ownership); NULL (default):
                                                 bitnet_sampling_default_params(). */
    int add_bos;           /**< 1 (default): BOS if the cache is empty and the model adds BOS. */
    int parse_special;     /**< 1 (default): control-token text in the prompt is parsed. */
    int render_special;    /**< 0 (default): EOG/control tokens print nothing. */
} bitnet_generate_params;

/** Counts and timings of one bitnet_generate call. */
typedef struct bitnet_generate_result {
    size_t size;              /**< Set to sizeof(bitnet_generate_result) by the caller. */
    int32_t n_prompt_tokens;  /**< Prompt tokens evaluated (prefill). */
    int32_t n_generated;      /**< Tokens sampled (including a final EOG token). */
    double prompt_ms;         /**< Wall time of the prefill, milliseconds. */
    double generate_ms;       /**< Wall time of sampling + decoding, milliseconds. */
    double prompt_tokens_per_s;   /**< n_prompt_tokens / prompt time. */
    double generate_tokens_per_s; /**< Decoded tokens / decode time. */
    int stop_reason;          /**< A bitnet_stop_reason. */
    bitnet_token last_token;  /**< The last sampled token, or -1 if none. It is NOT in the KV
                                   cache (its logits were never needed): to continue the
                                   sequence, evaluate it first (chat: the end-of-turn token). */
} bitnet_generate_result;

/** Default generation parameters. Never fails; thread-safe. */
BITNET_API bitnet_generate_params bitnet_generate_default_params(void);

/**
 * Tokenizes `prompt`, evaluates it after whatever is already in the context's KV cache (so a
 * chat can continue without re-evaluating history), then repeatedly samples a token, streams its
 * text to `callback` and evaluates it, until an end-of-generation token, max_tokens, the
 * callback's stop, the context limit or an abort.
 *
 * @param ctx       the context (its KV cache is extended; not used concurrently).
 * @param prompt,prompt_len  UTF-8 prompt (may be empty if the cache is not empty).
 * @param params    NULL for defaults.
 * @param callback  may be NULL (tokens are still generated).
 * @param user_data passed to callback unchanged.
 * @param result    may be NULL; else receives counts and timings (set result->size first).
 * @return BITNET_OK (stop reason EOG, MAX_TOKENS or CALLBACK); BITNET_ERR_INVALID_ARGUMENT;
 *         BITNET_ERR_CONTEXT_FULL (the prompt does not fit, or generation reached n_ctx: the
 *         text generated so far has been streamed); BITNET_ERR_ABORTED.
 */
BITNET_API bitnet_status bitnet_generate(bitnet_context *ctx, const char *prompt,
                                         size_t prompt_len, const bitnet_generate_params *params,
                                         bitnet_piece_callback callback, void *user_data,
                                         bitnet_generate_result *result);

/** As bitnet_generate, with the prompt given as token ids (no BOS is added). */
BITNET_API bitnet_status bitnet_generate_tokens(bitnet_context *ctx, const bitnet_token *prompt,
                                                size_t n_prompt,
                                                const bitnet_generate_params *params,
                                                bitnet_piece_callback callback, void *user_data,
                                                bitnet_generate_result *result);

/* ------------------------------------------------------------------------------------------ */
/* Chat format                                                                                 */
/* ------------------------------------------------------------------------------------------ */

/** One chat message. role: "system", "user" or "assistant" (case-insensitive). UTF-8, NUL-terminated. */
typedef struct bitnet_chat_message {
    const char *role;
    const char *content;
} bitnet_chat_message;

/**
 * Renders messages in the format BitNet b1.58 2B4T was trained with (microsoft/BitNet
 * gpu/tokenizer.py ChatFormat; the HF tokenizer_config template renders the same text; the
 * Jinja template stored in the official GGUF is wrong and is not used):
 * for each message `Role: content<|eot_id|>` with the role capitalised ("System", "User",
 * "Assistant") and the content stripped of surrounding whitespace; then, if
 * add_generation_prompt, `Assistant: `. BOS is not included: tokenize the result with
 * add_bos = 1 and parse_special = 1 (bitnet_generate does both by default). To continue a
 * conversation whose KV cache is kept, render only the new messages; if the previous reply
 * ended with an end-of-turn token that was sampled but not evaluated, prepend "<|eot_id|>".
 *
 * @param messages,n_messages  the messages, in order.
 * @param add_generation_prompt  1: end with `Assistant: ` for the model to answer.
 * @param buf,buf_size  output buffer; the text is NUL-terminated.
 * @param needed         receives the bytes needed including the NUL (may be NULL).
 * @return BITNET_OK; BITNET_ERR_INVALID_ARGUMENT (NULL messages with n > 0, NULL role or
 *         content, unknown role); BITNET_ERR_BUFFER_TOO_SMALL. Thread-safe.
 */
BITNET_API bitnet_status bitnet_chat_format(const bitnet_chat_message *messages, size_t n_messages,
                                            int add_generation_prompt, char *buf,
                                            size_t buf_size, size_t *needed);

/**
 * Name of the chat format bitnet_model_chat_format renders for this model: "bitnet-2b4t" (the
 * format of bitnet_chat_format), "llama3" or "falcon3". Chosen at load: the file's
 * `tokenizer.chat_template` when it is recognisable as one of these (by its marker tokens; the
 * template is never executed), else the architecture's default (`bitnet-b1.58`: bitnet-2b4t;
 * `bitnet`, `llama`: llama3). Static string; "" if model is NULL. Thread-safe.
 */
BITNET_API const char *bitnet_model_chat_template(const bitnet_model *model);

/**
 * Renders messages in the model's chat format (bitnet_model_chat_template):
 *  - "bitnet-2b4t": as bitnet_chat_format.
 *  - "llama3": per message `<|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>`
 *    (role lower case, content stripped of surrounding whitespace); generation prompt
 *    `<|start_header_id|>assistant<|end_header_id|>\n\n` (Meta Llama 3 template).
 *  - "falcon3": per message `<|role|>\ncontent\n`, an assistant message's content followed by
 *    the model's EOS token text; generation prompt `<|assistant|>\n` (tiiuae Falcon3 Instruct
 *    template).
 * BOS is not included: tokenize with add_bos = 1 and parse_special = 1 (bitnet_generate does).
 * To continue a conversation whose KV cache is kept, render only the new messages and prepend
 * bitnet_model_chat_turn_end() when the previous reply ended with an end-of-turn token that was
 * sampled but not evaluated.
 *
 * @param model  the model (its chat format and EOS text).
 * @param messages,n_messages  the messages, in order; roles "system", "user", "assistant".
 * @param add_generation_prompt  1: end with the assistant header for the model to answer.
 * @param buf,buf_size  output buffer; the text is NUL-terminated.
 * @param needed  receives the bytes needed including the NUL (may be NULL).
 * @return BITNET_OK; BITNET_ERR_INVALID_ARGUMENT (NULL model, NULL messages with n > 0, NULL
 *         role or content, unknown role); BITNET_ERR_BUFFER_TOO_SMALL. Thread-safe.
 */
BITNET_API bitnet_status bitnet_model_chat_format(const bitnet_model *model,
                                                  const bitnet_chat_message *messages,
                                                  size_t n_messages, int add_generation_prompt,
                                                  char *buf, size_t buf_size, size_t *needed);

/**
 * Text that closes an assistant reply in the model's chat format when its end-of-turn token was
 * sampled but not evaluated: `<|eot_id|>` ("bitnet-2b4t", "llama3") or the EOS token text and a
 * newline ("falcon3"). Owned by the model, valid until it is released; "" if model is NULL.
 * Thread-safe.
 */
BITNET_API const char *bitnet_model_chat_turn_end(const bitnet_model *model);

/* ------------------------------------------------------------------------------------------ */
/* Perplexity                                                                                  */
/* ------------------------------------------------------------------------------------------ */

/** Result of bitnet_perplexity. */
typedef struct bitnet_perplexity_result {
    size_t size;          /**< Set to sizeof(bitnet_perplexity_result) by the caller. */
    double ppl;           /**< exp(mean negative log-likelihood). */
    double ppl_stderr;    /**< Standard error of ppl (delta method, as llama.cpp). */
    double nll_mean;      /**< Mean negative log-likelihood per scored token (nats). */
    int32_t n_chunks;     /**< Chunks evaluated. */
    int32_t n_scored;     /**< Tokens scored. */
    int32_t n_tokens;     /**< Tokens in the whole text (with the leading BOS). */
} bitnet_perplexity_result;

/** Called after each chunk with its 1-based index and the running perplexity; non-zero stops. */
typedef int (*bitnet_perplexity_callback)(int32_t chunk, double running_ppl, void *user_data);

/**
 * Perplexity of a text with llama.cpp's method (tools/perplexity): tokenize the whole text
 * (BOS first if the model adds one), cut it into non-overlapping chunks of n_chunk tokens
 * (at most max_chunks; <= 0 means all whole chunks), evaluate each chunk from an empty KV cache
 * with its first token replaced by BOS (when the model adds BOS), and score the second half of
 * each chunk: the log-softmax of the logits at positions n_chunk/2 .. n_chunk-2 for the token
 * that follows. PPL = exp(sum of NLL / count).
 *
 * @param ctx       the context (its KV cache is overwritten; not used concurrently).
 * @param text,text_len  UTF-8 text (bytes).
 * @param n_chunk  tokens per chunk, 0 = the context size; must be >= 4 and <= n_ctx.
 * @param max_chunks  at most this many chunks; <= 0: all whole chunks.
 * @param callback  may be NULL; called after each chunk (non-zero return stops early).
 * @param user_data passed to callback unchanged.
 * @param result    receives the perplexity (set result->size first).
 * @return BITNET_OK; BITNET_ERR_INVALID_ARGUMENT (NULL ctx/text/result, bad n_chunk, fewer than
 *         2*n_chunk tokens in the text, as llama.cpp requires); BITNET_ERR_ABORTED. The context
 *         is reset afterwards.
 */
BITNET_API bitnet_status bitnet_perplexity(bitnet_context *ctx, const char *text, size_t text_len,
                                           int32_t n_chunk, int32_t max_chunks,
                                           bitnet_perplexity_callback callback, void *user_data,
                                           bitnet_perplexity_result *result);

/* ------------------------------------------------------------------------------------------ */
/* Benchmark                                                                                   */
/* ------------------------------------------------------------------------------------------ */

/** Parameters of bitnet_bench (llama-bench's pp/tg tests). */
typedef struct bitnet_bench_params {
    size_t size;          /**< sizeof(bitnet_bench_params). */
    int32_t n_prompt;     /**< Prompt tokens per pp run (pp512: 512); 0 skips pp. */
    int32_t n_gen;        /**< Generated tokens per tg run (tg128: 128); 0 skips tg. */
    int32_t repetitions;  /**< Timed runs of each test; default 5. */
    int32_t warmup;       /**< 1 (default): one untimed run first. */
    int32_t n_parallel;   /**< 1 (default). > 1: tg decodes n_parallel sequences together, one
                               token of each per step (bitnet_decode), and reports aggregate
                               tokens/s (llama-batched-bench's S_TG); pp is not run. Needs a
                               context with n_seq_max >= n_parallel. */
} bitnet_bench_params;

/** Results of bitnet_bench: tokens per second over the repetitions. */
typedef struct bitnet_bench_result {
    size_t size;          /**< Set to sizeof(bitnet_bench_result) by the caller. */
    double pp_mean, pp_stddev, pp_median, pp_best; /**< Prompt processing tokens/s. */
    double tg_mean, tg_stddev, tg_median, tg_best; /**< Generation tokens/s. */
    int32_t n_threads;    /**< Threads used (the context's). */
} bitnet_bench_result;

/** Default bench parameters: pp512, tg128, 5 repetitions, warm-up on. */
BITNET_API bitnet_bench_params bitnet_bench_default_params(void);

/**
 * Measures prompt processing (n_prompt random tokens in one eval from an empty cache) and text
 * generation (n_gen single-token evals after one token, without sampling), like llama-bench.
 * Resets the context before each run and at the end.
 * @return BITNET_OK; BITNET_ERR_INVALID_ARGUMENT (NULL arguments, negative sizes, repetitions
 *         < 1); BITNET_ERR_CONTEXT_FULL (n_prompt or n_gen + 1 above n_ctx); BITNET_ERR_ABORTED.
 */
BITNET_API bitnet_status bitnet_bench(bitnet_context *ctx, const bitnet_bench_params *params,
                                      bitnet_bench_result *result);

/* ------------------------------------------------------------------------------------------ */
/* Conversion: Hugging Face checkpoints to GGUF, and between the ternary types                 */
/* ------------------------------------------------------------------------------------------ */

/** GGUF type of the ternary projection weights written by bitnet_convert / bitnet_quantize. */
typedef enum bitnet_ternary_type {
    BITNET_TERNARY_AUTO = 0,  /**< convert: I2_S for bitnet-b1.58, TQ2_0 for llama and bitnet;
                                   quantize: keep the input's types. */
    BITNET_TERNARY_I2_S = 1,  /**< bitnet.cpp's I2_S (type 36): 2 bits, one f32 scale per
                                   tensor; rows must be a multiple of 128 values. */
    BITNET_TERNARY_TQ2_0 = 2, /**< ggml TQ2_0 (type 35): 2.0625 bits, an F16 scale per block of
                                   256 values; rows must be a multiple of 256 values. */
    BITNET_TERNARY_TQ1_0 = 3  /**< ggml TQ1_0 (type 34): 1.6875 bits, blocks of 256 values. */
} bitnet_ternary_type;

/** GGUF type of the token embedding and LM head written by bitnet_convert / bitnet_quantize. */
typedef enum bitnet_embd_type {
    BITNET_EMBD_AUTO = 0, /**< convert: F16; quantize: keep the input's type. */
    BITNET_EMBD_F16 = 1,  /**< IEEE half; a finite value beyond +-65504 is an error. */
    BITNET_EMBD_BF16 = 2, /**< bfloat16 (round to nearest even). */
    BITNET_EMBD_F32 = 3,  /**< float32. */
    BITNET_EMBD_Q8_0 = 4, /**< ggml Q8_0: per 32 values an F16 scale amax/127 and 32 int8;
                               rows must be a multiple of 32 values. */
    BITNET_EMBD_Q6_K = 5  /**< ggml Q6_K (6.5625 bits): 6-bit values, an int8 scale per 16 and
                               an F16 scale per 256 values; rows must be a multiple of 256. The
                               layout is ggml's; the scales are absmax-based, not ggml's
                               searched ones (same format, slightly different bytes). */
} bitnet_embd_type;

/** Parameters of bitnet_convert and bitnet_quantize. Obtain with
 *  bitnet_convert_default_params(). */
typedef struct bitnet_convert_params {
    size_t size;          /**< sizeof(bitnet_convert_params); set by the default function. */
    int ternary_type;     /**< A bitnet_ternary_type; default BITNET_TERNARY_AUTO. */
    int embd_type;        /**< A bitnet_embd_type; default BITNET_EMBD_AUTO. */
    const char *name;     /**< general.name to write; NULL (default): the folder's name
                               (convert) or the input's (quantize). Copied; NUL-terminated. */
} bitnet_convert_params;

/**
 * Called after each tensor is written.
 * @param i        1-based index of the tensor just written.
 * @param n        number of tensors in the output.
 * @param tensor   its GGUF name (NUL-terminated; valid during the call only).
 * @param bytes    bytes of tensor data written so far.
 * @param user_data the pointer given to bitnet_convert / bitnet_quantize.
 * @return 0 to continue; non-zero stops the conversion (BITNET_ERR_ABORTED, no output file).
 */
typedef int (*bitnet_convert_progress)(int32_t i, int32_t n, const char *tensor, uint64_t bytes,
                                       void *user_data);

/** Default conversion parameters (automatic types, name from the input). Never fails;
 *  thread-safe. */
BITNET_API bitnet_convert_params bitnet_convert_default_params(void);

/**
 * Converts a Hugging Face model folder to a GGUF file, in C++ without Python.
 *
 * Reads `config.json`, the weights (`model.safetensors`, or the shards listed in
 * `model.safetensors.index.json`; dtypes BF16/F16/F32/U8/I8, mapped, every header field
 * validated), `tokenizer.json` (byte-level BPE with the Llama 3 pre-tokenizer, merges as
 * "a b" strings or [a, b] pairs) or, when there is no byte-level tokenizer.json, a SentencePiece
 * BPE `tokenizer.model` (written as `tokenizer.ggml.model` "llama" with scores, token types,
 * `added_tokens.json` entries and [PAD<i>] up to vocab_size) and, where present,
 * `tokenizer_config.json`, `special_tokens_map.json`, `generation_config.json`. Families (docs: ternary-formats.md
 * sections 1.4-1.5, 3, 4 in the project's shared reference):
 *  - `BitNetForCausalLM` (microsoft/bitnet-b1.58-2B-4T): packed uint8 weights with
 *    `weight_scale` (autobitlinear: real weight = trit x weight_scale), or the `-bf16` master
 *    weights ternarised per tensor by absmean -> architecture `bitnet-b1.58`, tied F16 head;
 *  - `LlamaForCausalLM` with `quantization_config.quant_method` "bitnet" (Llama3-8B-1.58,
 *    Falcon3-1.58bit; bitlinear: real weight = trit / weight_scale) -> architecture `llama`,
 *    Q/K rows permuted as llama.cpp's converter does, `output.weight` when the head is untied;
 *  - `BitnetForCausalLM` (1bitLLM latent weights, absmean; SentencePiece tokenizer) ->
 *    architecture `bitnet`.
 * Packed checkpoints convert losslessly (the GGUF holds the same real weights; TQ types store
 * the scale as F16). The output is written through "<dst_path>.part" and renamed at the end,
 * streaming tensor by tensor (memory near the largest tensor, not the model).
 *
 * @param src_dir   NUL-terminated path of the model folder.
 * @param dst_path  NUL-terminated path of the GGUF file to write (replaced if it exists).
 * @param params    NULL for defaults, or parameters from bitnet_convert_default_params().
 * @param progress  may be NULL; called after each tensor (non-zero return stops).
 * @param user_data passed to progress unchanged.
 * @return BITNET_OK; BITNET_ERR_INVALID_ARGUMENT (NULL paths, bad params or enum values);
 *         BITNET_ERR_IO (a required file missing or unreadable, output not writable);
 *         BITNET_ERR_BAD_FORMAT (malformed safetensors header or JSON, a missing or mistyped
 *         config field, missing tensors, wrong dtypes or shapes; the message names the file and
 *         the field or tensor); BITNET_ERR_UNSUPPORTED (another architecture, quantisation
 *         method, tokenizer or pre-tokenizer (also a unigram SentencePiece model or one whose
 *         normalizer rewrites text), RoPE scaling, a row length the chosen type cannot
 *         hold, e.g. TQ1_0/TQ2_0 need multiples of 256); BITNET_ERR_ABORTED;
 *         BITNET_ERR_OUT_OF_MEMORY.
 * Thread-safe (conversions of different files may run concurrently).
 */
BITNET_API bitnet_status bitnet_convert(const char *src_dir, const char *dst_path,
                                        const bitnet_convert_params *params,
                                        bitnet_convert_progress progress, void *user_data);

/**
 * Rewrites a GGUF model with its ternary tensors in another ternary type and/or its
 * `token_embd.weight` / `output.weight` in another float type. Between ternary types the
 * conversion is exact (the same trits and the same scale): it fails with
 * BITNET_ERR_UNSUPPORTED rather than round, e.g. an I2_S scale that F16 cannot hold exactly for
 * TQ1_0/TQ2_0, or TQ blocks of one tensor with different scales for I2_S. Other tensors and all
 * metadata are copied (general.file_type follows the ternary type; general.alignment is
 * dropped, the output uses 32). Written through "<dst_path>.part", tensor by tensor.
 *
 * @param src_path  NUL-terminated path of the input GGUF.
 * @param dst_path  NUL-terminated path of the output GGUF (may equal src_path).
 * @param params    NULL for defaults (which copy everything), or from
 *                  bitnet_convert_default_params().
 * @param progress  may be NULL; called after each tensor (non-zero return stops).
 * @param user_data passed to progress unchanged.
 * @return BITNET_OK; BITNET_ERR_INVALID_ARGUMENT; BITNET_ERR_IO; BITNET_ERR_BAD_FORMAT (a
 *         malformed input, as for bitnet_model_load); BITNET_ERR_UNSUPPORTED (as above, or a
 *         row length the type cannot hold); BITNET_ERR_ABORTED; BITNET_ERR_OUT_OF_MEMORY.
 * Thread-safe (conversions of different files may run concurrently).
 */
BITNET_API bitnet_status bitnet_quantize(const char *src_path, const char *dst_path,
                                         const bitnet_convert_params *params,
                                         bitnet_convert_progress progress, void *user_data);

#ifdef __cplusplus
}
#endif

#endif /* BITNET_H */
