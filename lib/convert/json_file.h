// JSON files of a Hugging Face model folder (config.json, tokenizer.json, ...), parsed with
// nlohmann-json, with typed field access whose failures name the file and the field:
// "config.json: field 'hidden_size' must be an integer, found string".
// Errors: IO (missing/unreadable file), BAD_FORMAT (malformed JSON, wrong or missing field).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace bitnet::convert {

enum class JsonKind { Object, Array, String };

// "object", "array", "string", "integer", "number", "boolean", "null".
std::string json_kind(const nlohmann::json &v);

struct JsonFile {
    std::string path;
    nlohmann::json doc;

    // Reads and parses `path`; the top level must be an object.
    static JsonFile read(const std::string &path);
    // Parses `text` as the content of a file named `path` (fuzzing, tests).
    static JsonFile parse(const std::string &text, const std::string &path);
    // Same, or nullopt when the file does not exist.
    static std::optional<JsonFile> read_optional(const std::string &path);

    [[noreturn]] void fail_field(const std::string &field, const std::string &what) const;

    // Member `field` of `obj` (a JSON object of this file), of the given kind; BAD_FORMAT when
    // absent or of another kind.
    const nlohmann::json &require(const nlohmann::json &obj, const std::string &field,
                                  JsonKind kind) const;
    // Integer in [lo, hi]; absent (or null) -> def when given, else BAD_FORMAT.
    int64_t get_int(const nlohmann::json &obj, const std::string &field, int64_t lo, int64_t hi,
                    std::optional<int64_t> def = std::nullopt) const;
    // Finite number > 0 (integers accepted); absent/null -> def when given.
    double get_positive(const nlohmann::json &obj, const std::string &field,
                        std::optional<double> def = std::nullopt) const;
    std::optional<std::string> get_string(const nlohmann::json &obj, const std::string &field) const;
    std::optional<bool> get_bool(const nlohmann::json &obj, const std::string &field) const;
};

}  // namespace bitnet::convert
