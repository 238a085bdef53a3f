// Shared helpers of the `bitnet` command line tool: subcommand registration, error reporting,
// RAII handles for the C API, option parsing helpers and number formatting.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bitnet.h"

namespace bitnet_cli {

// Exit codes: 0 success, 1 runtime error (bad file, failed call), 2 usage error (bad options),
// 130 interrupted by Ctrl-C.
constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;
constexpr int kExitInterrupted = 130;

// A runtime failure: main() prints "bitnet: <where>: <message>" and exits with `code`.
struct Failure {
    std::string where;
    std::string message;
    int code = kExitRuntime;
};

[[noreturn]] void fail(const std::string &where, const std::string &message,
                       int code = kExitRuntime);
// Fails with the calling thread's bitnet_last_error_message() (or the status text when the
// message is empty). A leading "<where>: " in the library's message is not repeated.
[[noreturn]] void fail_status(const std::string &where, bitnet_status status);

// A registered subcommand: the CLI11 app and what to run when it was selected.
struct Command {
    CLI::App *app = nullptr;
    std::function<int()> run;
};

Command add_generate(CLI::App &app);
Command add_tokenize(CLI::App &app);
Command add_logits(CLI::App &app);
Command add_info(CLI::App &app);
Command add_bench(CLI::App &app);
Command add_gen_model(CLI::App &app);
Command add_chat(CLI::App &app);
Command add_perplexity(CLI::App &app);
Command add_convert(CLI::App &app);
Command add_quantize(CLI::App &app);
Command add_gen_hf(CLI::App &app);
Command add_serve(CLI::App &app);  // tools/serve/cmd_serve.cpp

// ---- RAII handles -------------------------------------------------------------------------

struct ModelDeleter {
    void operator()(bitnet_model *m) const { bitnet_model_free(m); }
};
struct ContextDeleter {
    void operator()(bitnet_context *c) const { bitnet_context_free(c); }
};
using ModelPtr = std::unique_ptr<bitnet_model, ModelDeleter>;
using ContextPtr = std::unique_ptr<bitnet_context, ContextDeleter>;

// Loads a model; on failure fails with "bitnet: <path>: <message>".
ModelPtr load_model(const std::string &path, const std::string &lm_head = "auto",
                    bool repack = true);
// Creates a context; `where` names the model in error messages.
ContextPtr new_context(bitnet_model *model, const bitnet_context_params &params,
                       const std::string &where);

// Metadata helpers (grow the buffer as the API reports). Fail on errors other than NOT_FOUND;
// meta_get returns false when the key does not exist.
std::string meta_key(const bitnet_model *model, int32_t i, const std::string &where);
bool meta_get(const bitnet_model *model, const std::string &key, std::string &value,
              const std::string &where);

// Tokenizes text (growing the buffer as needed).
std::vector<bitnet_token> tokenize(const bitnet_model *model, std::string_view text, bool add_bos,
                                   bool parse_special, const std::string &where);

// Reads a whole file ("-" = stdin) as bytes; fails with "bitnet: <path>: <reason>".
std::string read_file(const std::string &path);

// Fails unless every id is in [0, n_vocab).
void check_token_ids(const bitnet_model *model, const std::vector<bitnet_token> &ids,
                     const std::string &where);

// ---- option helpers -----------------------------------------------------------------------

// Parses "1,2,3" (whitespace around items allowed). Returns false and sets `error` on an empty
// list, an empty item, a non-number, a negative number or a value above INT32_MAX.
bool parse_int_list(const std::string &text, std::vector<int64_t> &out, std::string &error);
// The same as a CLI11 validator (usage error on bad input).
CLI::Validator IntList();
std::vector<bitnet_token> to_tokens(const std::string &text);
std::vector<int32_t> to_ints(const std::string &text);

// Rejects NaN and infinities (CLI::Range lets NaN through).
extern const CLI::Validator Finite;
// Finite numbers >= 0 / > 0, with short messages (CLI::NonNegativeNumber prints DBL_MAX).
extern const CLI::Validator NonNegative;
extern const CLI::Validator Positive;

// Adds --kv-type f16|f32 (default f16) and returns the option.
CLI::Option *add_kv_type_option(CLI::App *app, std::string &kv_type);
int kv_type_value(const std::string &kv_type);
// Adds --lm-head auto|f16|q8|q4 (default auto); pass the value to load_model.
CLI::Option *add_lm_head_option(CLI::App *app, std::string &lm_head);

// ---- formatting ---------------------------------------------------------------------------

std::string format_bytes(uint64_t bytes);  // "38.87 MiB"
std::string format_count(uint64_t n);      // "40.76 M", "2.41 B"
std::string base_name(const std::string &path);
// Replaces control characters by C escapes (\n, \t, \xNN); optionally truncates to max_chars
// bytes (0 = no limit), appending "... (N bytes)".
std::string printable(std::string_view s, size_t max_chars = 0);

// Seconds since an arbitrary epoch (steady clock).
double now_seconds();

}  // namespace bitnet_cli
