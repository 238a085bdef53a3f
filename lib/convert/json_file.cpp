// JSON files of a model folder: see json_file.h.
#include "convert/json_file.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.h"

namespace bitnet::convert {

using json = nlohmann::json;

std::string json_kind(const json &v) {
    switch (v.type()) {
        case json::value_t::object: return "object";
        case json::value_t::array: return "array";
        case json::value_t::string: return "string";
        case json::value_t::number_integer:
        case json::value_t::number_unsigned: return "integer";
        case json::value_t::number_float: return "number";
        case json::value_t::boolean: return "boolean";
        case json::value_t::null: return "null";
        default: return "invalid value";
    }
}

JsonFile JsonFile::read(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        fail(BITNET_ERR_IO, path + ": cannot open" +
                                (std::filesystem::exists(path) ? std::string(": ") + std::strerror(errno)
                                                               : std::string(" (file missing)")));
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return parse(ss.str(), path);
}

JsonFile JsonFile::parse(const std::string &text, const std::string &path) {
    JsonFile f;
    f.path = path;
    try {
        f.doc = json::parse(text);
    } catch (const json::exception &e) {
        fail(BITNET_ERR_BAD_FORMAT, path + ": not well-formed JSON (" + e.what() + ")");
    }
    if (!f.doc.is_object())
        fail(BITNET_ERR_BAD_FORMAT, path + ": the top level must be a JSON object, found " +
                                        json_kind(f.doc));
    return f;
}

std::optional<JsonFile> JsonFile::read_optional(const std::string &path) {
    if (!std::filesystem::exists(path)) return std::nullopt;
    return read(path);
}

void JsonFile::fail_field(const std::string &field, const std::string &what) const {
    fail(BITNET_ERR_BAD_FORMAT, path + ": field '" + field + "' " + what);
}

const json &JsonFile::require(const json &obj, const std::string &field, JsonKind kind) const {
    if (!obj.is_object() || !obj.contains(field)) fail_field(field, "is missing");
    const json &v = obj.at(field);
    const bool ok = (kind == JsonKind::Object && v.is_object()) ||
                    (kind == JsonKind::Array && v.is_array()) ||
                    (kind == JsonKind::String && v.is_string());
    if (!ok) {
        const char *want = kind == JsonKind::Object ? "an object"
                           : kind == JsonKind::Array ? "an array"
                                                     : "a string";
        fail_field(field, std::string("must be ") + want + ", found " + json_kind(v));
    }
    return v;
}

int64_t JsonFile::get_int(const json &obj, const std::string &field, int64_t lo, int64_t hi,
                          std::optional<int64_t> def) const {
    if (!obj.contains(field) || obj.at(field).is_null()) {
        if (def) return *def;
        fail_field(field, "is missing");
    }
    const json &v = obj.at(field);
    int64_t x = 0;
    if (v.is_number_unsigned()) {
        const uint64_t u = v.get<uint64_t>();
        if (u > (uint64_t)INT64_MAX) fail_field(field, "is out of range");
        x = (int64_t)u;
    } else if (v.is_number_integer()) {
        x = v.get<int64_t>();
    } else {
        fail_field(field, "must be an integer, found " + json_kind(v));
    }
    if (x < lo || x > hi)
        fail_field(field, "is " + std::to_string(x) + ", expected " + std::to_string(lo) + ".." +
                              std::to_string(hi));
    return x;
}

double JsonFile::get_positive(const json &obj, const std::string &field,
                              std::optional<double> def) const {
    if (!obj.contains(field) || obj.at(field).is_null()) {
        if (def) return *def;
        fail_field(field, "is missing");
    }
    const json &v = obj.at(field);
    if (!v.is_number()) fail_field(field, "must be a number, found " + json_kind(v));
    const double x = v.get<double>();
    if (!std::isfinite(x) || x <= 0) fail_field(field, "must be a finite number > 0");
    return x;
}

std::optional<std::string> JsonFile::get_string(const json &obj, const std::string &field) const {
    if (!obj.contains(field) || obj.at(field).is_null()) return std::nullopt;
    const json &v = obj.at(field);
    if (!v.is_string()) fail_field(field, "must be a string, found " + json_kind(v));
    return v.get<std::string>();
}

std::optional<bool> JsonFile::get_bool(const json &obj, const std::string &field) const {
    if (!obj.contains(field) || obj.at(field).is_null()) return std::nullopt;
    const json &v = obj.at(field);
    if (!v.is_boolean()) fail_field(field, "must be true or false, found " + json_kind(v));
    return v.get<bool>();
}

}  // namespace bitnet::convert
