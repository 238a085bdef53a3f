#include "common.h"

#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

namespace bitnet_cli {

void fail(const std::string &where, const std::string &message, int code) {
    throw Failure{where, message, code};
}

void fail_status(const std::string &where, bitnet_status status) {
    std::string msg = bitnet_last_error_message();
    if (msg.empty()) msg = bitnet_status_string(status);
    // The library usually names the file itself; do not print it twice.
    const std::string prefix = where + ": ";
    if (!where.empty() && msg.size() > prefix.size() && msg.compare(0, prefix.size(), prefix) == 0)
        msg.erase(0, prefix.size());
    fail(where, msg, kExitRuntime);
}

ModelPtr load_model(const std::string &path, const std::string &lm_head, bool repack) {
    bitnet_model_params params = bitnet_model_default_params();
    params.repack = repack ? 1 : 0;
    params.lm_head_type = lm_head == "q8"    ? BITNET_LM_HEAD_Q8
                          : lm_head == "q4"  ? BITNET_LM_HEAD_Q4
                          : lm_head == "f16" ? BITNET_LM_HEAD_F16
                                             : BITNET_LM_HEAD_AUTO;
    bitnet_model *model = nullptr;
    const bitnet_status st = bitnet_model_load(path.c_str(), &params, &model);
    if (st != BITNET_OK || model == nullptr) {
        bitnet_model_free(model);
        fail_status(path, st == BITNET_OK ? BITNET_ERR_INTERNAL : st);
    }
    return ModelPtr(model);
}

ContextPtr new_context(bitnet_model *model, const bitnet_context_params &params,
                       const std::string &where) {
    bitnet_context *ctx = nullptr;
    const bitnet_status st = bitnet_context_new(model, &params, &ctx);
    if (st != BITNET_OK || ctx == nullptr) {
        bitnet_context_free(ctx);
        fail_status(where, st == BITNET_OK ? BITNET_ERR_INTERNAL : st);
    }
    return ContextPtr(ctx);
}

std::string meta_key(const bitnet_model *model, int32_t i, const std::string &where) {
    std::string buf(128, '\0');
    for (int attempt = 0; attempt < 4; ++attempt) {
        size_t needed = 0;
        const bitnet_status st = bitnet_model_meta_key(model, i, buf.data(), buf.size(), &needed);
        if (st == BITNET_OK) {
            buf.resize(needed > 0 ? needed - 1 : 0);
            return buf;
        }
        if (st != BITNET_ERR_BUFFER_TOO_SMALL || needed <= buf.size()) fail_status(where, st);
        buf.assign(needed, '\0');
    }
    fail(where, "metadata key " + std::to_string(i) + ": buffer size keeps changing");
}

bool meta_get(const bitnet_model *model, const std::string &key, std::string &value,
              const std::string &where) {
    std::string buf(256, '\0');
    for (int attempt = 0; attempt < 4; ++attempt) {
        size_t needed = 0;
        const bitnet_status st =
            bitnet_model_meta_get(model, key.c_str(), buf.data(), buf.size(), &needed);
        if (st == BITNET_OK) {
            buf.resize(needed > 0 ? needed - 1 : 0);
            value = std::move(buf);
            return true;
        }
        if (st == BITNET_ERR_NOT_FOUND) return false;
        if (st != BITNET_ERR_BUFFER_TOO_SMALL || needed <= buf.size()) fail_status(where, st);
        buf.assign(needed, '\0');
    }
    fail(where, "metadata '" + key + "': buffer size keeps changing");
}

std::vector<bitnet_token> tokenize(const bitnet_model *model, std::string_view text, bool add_bos,
                                   bool parse_special, const std::string &where) {
    std::vector<bitnet_token> ids(text.size() + 8);
    for (int attempt = 0; attempt < 4; ++attempt) {
        size_t n = 0;
        const bitnet_status st = bitnet_tokenize(model, text.data(), text.size(), add_bos ? 1 : 0,
                                                 parse_special ? 1 : 0, ids.data(), ids.size(), &n);
        if (st == BITNET_OK) {
            ids.resize(n);
            return ids;
        }
        if (st != BITNET_ERR_BUFFER_TOO_SMALL || n <= ids.size()) fail_status(where, st);
        ids.resize(n);
    }
    fail(where, "tokenize: buffer size keeps changing");
}

std::string read_file(const std::string &path) {
    std::FILE *f = path == "-" ? stdin : std::fopen(path.c_str(), "rb");
    if (!f) fail(path, std::string("cannot open: ") + std::strerror(errno));
    std::string data;
    char buf[1 << 16];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) data.append(buf, n);
    const bool bad = std::ferror(f) != 0;
    const int err = errno;
    if (f != stdin) std::fclose(f);
    if (bad) fail(path, std::string("read failed: ") + std::strerror(err));
    return data;
}

void check_token_ids(const bitnet_model *model, const std::vector<bitnet_token> &ids,
                     const std::string &where) {
    const int32_t n_vocab = bitnet_model_n_vocab(model);
    for (size_t i = 0; i < ids.size(); ++i) {
        if (ids[i] < 0 || ids[i] >= n_vocab) {
            fail(where, "token id " + std::to_string(ids[i]) + " (item " + std::to_string(i + 1) +
                            " of --tokens) is out of range: the vocabulary has " +
                            std::to_string(n_vocab) + " tokens (ids 0.." +
                            std::to_string(n_vocab - 1) + ")");
        }
    }
}

// ---- option helpers -----------------------------------------------------------------------

bool parse_int_list(const std::string &text, std::vector<int64_t> &out, std::string &error) {
    out.clear();
    size_t i = 0;
    const size_t n = text.size();
    auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
    while (true) {
        while (i < n && is_space(text[i])) ++i;
        if (i >= n || text[i] == ',') {
            error = out.empty() && i >= n ? "empty list" : "empty item in list";
            return false;
        }
        if (text[i] == '-') {
            error = "negative number in list";
            return false;
        }
        if (text[i] == '+') ++i;
        if (i >= n || text[i] < '0' || text[i] > '9') {
            error = "'" + text + "' is not a comma-separated list of non-negative integers";
            return false;
        }
        int64_t v = 0;
        while (i < n && text[i] >= '0' && text[i] <= '9') {
            v = v * 10 + (text[i] - '0');
            if (v > std::numeric_limits<int32_t>::max()) {
                error = "number too large in list";
                return false;
            }
            ++i;
        }
        out.push_back(v);
        while (i < n && is_space(text[i])) ++i;
        if (i >= n) return true;
        if (text[i] != ',') {
            error = "'" + text + "' is not a comma-separated list of non-negative integers";
            return false;
        }
        ++i;  // skip ','
    }
}

CLI::Validator IntList() {
    return CLI::Validator(
        [](std::string &s) -> std::string {
            std::vector<int64_t> v;
            std::string err;
            if (!parse_int_list(s, v, err)) return err;
            return {};
        },
        "", "INTLIST");
}

std::vector<bitnet_token> to_tokens(const std::string &text) {
    std::vector<int64_t> v;
    std::string err;
    if (!parse_int_list(text, v, err)) throw CLI::ValidationError("--tokens", err);
    return {v.begin(), v.end()};
}

std::vector<int32_t> to_ints(const std::string &text) {
    std::vector<int64_t> v;
    std::string err;
    if (!parse_int_list(text, v, err)) throw CLI::ValidationError("list", err);
    return {v.begin(), v.end()};
}

const CLI::Validator Finite(
    [](std::string &s) -> std::string {
        double v = 0;
        if (!CLI::detail::lexical_cast(s, v)) return "'" + s + "' is not a number";
        if (!std::isfinite(v)) return "'" + s + "' is not a finite number";
        return {};
    },
    "", "FINITE");

const CLI::Validator NonNegative(
    [](std::string &s) -> std::string {
        double v = 0;
        if (!CLI::detail::lexical_cast(s, v)) return "'" + s + "' is not a number";
        if (!std::isfinite(v) || v < 0) return "'" + s + "' must be a number >= 0";
        return {};
    },
    "", "NONNEGATIVE");

const CLI::Validator Positive(
    [](std::string &s) -> std::string {
        double v = 0;
        if (!CLI::detail::lexical_cast(s, v)) return "'" + s + "' is not a number";
        if (!std::isfinite(v) || v <= 0) return "'" + s + "' must be a number > 0";
        return {};
    },
    "", "POSITIVE");

CLI::Option *add_kv_type_option(CLI::App *app, std::string &kv_type) {
    kv_type = "f16";
    return app
        ->add_option("--kv-type", kv_type,
                     "element type of the KV cache: f16 (half the memory) or f32 (exact)")
        ->check(CLI::IsMember({"f16", "f32"}))
        ->capture_default_str();
}

CLI::Option *add_lm_head_option(CLI::App *app, std::string &lm_head) {
    lm_head = "auto";
    return app
        ->add_option("--lm-head", lm_head,
                     "LM head storage: auto (as in the file), f16, q8 (int8 blocks, about half "
                     "the memory traffic) or q4 (4-bit blocks, about 0.31 of it); with q8 and q4 "
                     "the top 32 logits are re-scored exactly")
        ->check(CLI::IsMember({"auto", "f16", "q8", "q4"}))
        ->capture_default_str();
}

int kv_type_value(const std::string &kv_type) {
    return kv_type == "f32" ? BITNET_KV_F32 : BITNET_KV_F16;
}

// ---- formatting ---------------------------------------------------------------------------

std::string format_bytes(uint64_t bytes) {
    char buf[64];
    const double b = static_cast<double>(bytes);
    if (bytes >= (1ull << 30))
        std::snprintf(buf, sizeof buf, "%.2f GiB", b / (1ull << 30));
    else if (bytes >= (1ull << 20))
        std::snprintf(buf, sizeof buf, "%.2f MiB", b / (1ull << 20));
    else if (bytes >= (1ull << 10))
        std::snprintf(buf, sizeof buf, "%.2f KiB", b / (1ull << 10));
    else
        std::snprintf(buf, sizeof buf, "%" PRIu64 " B", bytes);
    return buf;
}

std::string format_count(uint64_t n) {
    char buf[64];
    const double v = static_cast<double>(n);
    if (n >= 1000000000ull)
        std::snprintf(buf, sizeof buf, "%.2f B", v / 1e9);
    else if (n >= 1000000ull)
        std::snprintf(buf, sizeof buf, "%.2f M", v / 1e6);
    else if (n >= 1000ull)
        std::snprintf(buf, sizeof buf, "%.2f K", v / 1e3);
    else
        std::snprintf(buf, sizeof buf, "%" PRIu64, n);
    return buf;
}

std::string base_name(const std::string &path) {
    const size_t slash = path.find_last_of('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string printable(std::string_view s, size_t max_chars) {
    std::string out;
    const size_t limit = (max_chars > 0 && s.size() > max_chars) ? max_chars : s.size();
    out.reserve(limit + 16);
    for (size_t i = 0; i < limit; ++i) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        switch (c) {
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\\': out += "\\\\"; break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\x%02x", c);
                    out += buf;
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    if (limit < s.size()) {
        // Do not cut a UTF-8 character in half.
        while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80)
            out.pop_back();
        if (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0xC0) out.pop_back();
        out += "... (" + std::to_string(s.size()) + " bytes)";
    }
    return out;
}

double now_seconds() {
    using namespace std::chrono;
    return duration<double>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace bitnet_cli
