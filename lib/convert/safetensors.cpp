// safetensors reader: see safetensors.h. Validation follows huggingface/safetensors
// src/tensor.rs (SafeTensors::read_metadata, Metadata::validate).
#include "convert/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "convert/json_file.h"

namespace bitnet::convert {
namespace {

using json = nlohmann::json;

struct DtypeInfo {
    const char *name;
    int bits;
    StType type;
};
// safetensors Dtype and its bit width (tensor.rs Dtype::bitsize).
constexpr DtypeInfo kDtypes[] = {
    {"BOOL", 8, StType::OTHER},     {"U8", 8, StType::U8},          {"I8", 8, StType::I8},
    {"F8_E5M2", 8, StType::OTHER},  {"F8_E4M3", 8, StType::OTHER},  {"F8_E8M0", 8, StType::OTHER},
    {"F8_E4M3FNUZ", 8, StType::OTHER}, {"F8_E5M2FNUZ", 8, StType::OTHER},
    {"I16", 16, StType::OTHER},     {"U16", 16, StType::OTHER},     {"F16", 16, StType::F16},
    {"BF16", 16, StType::BF16},     {"I32", 32, StType::OTHER},     {"U32", 32, StType::OTHER},
    {"F32", 32, StType::F32},       {"C64", 64, StType::OTHER},     {"F64", 64, StType::OTHER},
    {"I64", 64, StType::OTHER},     {"U64", 64, StType::OTHER},     {"F4", 4, StType::OTHER},
    {"F6_E2M3", 6, StType::OTHER},  {"F6_E3M2", 6, StType::OTHER},
};

[[noreturn]] void bad(const std::string &file, const std::string &what) {
    fail(BITNET_ERR_BAD_FORMAT, file + ": " + what);
}

uint64_t read_u64_le(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

// A non-negative integer JSON value, or fails naming the field.
uint64_t as_u64(const std::string &file, const std::string &where, const json &v) {
    if (v.is_number_unsigned()) return v.get<uint64_t>();
    if (v.is_number_integer() && v.get<int64_t>() >= 0) return (uint64_t)v.get<int64_t>();
    bad(file, where + " must be a non-negative integer, found " + json_kind(v));
}

StTensor parse_entry(const std::string &file, const std::string &name, const json &e) {
    const std::string where = "safetensors header: tensor '" + name + "'";
    if (!e.is_object()) bad(file, where + " must be an object, found " + json_kind(e));
    for (const auto &[k, v] : e.items()) {
        (void)v;
        if (k != "dtype" && k != "shape" && k != "data_offsets")
            bad(file, where + " has an unknown field '" + k + "'");
    }
    if (!e.contains("dtype") || !e["dtype"].is_string())
        bad(file, where + ": field 'dtype' must be a string");
    if (!e.contains("shape") || !e["shape"].is_array())
        bad(file, where + ": field 'shape' must be an array");
    if (!e.contains("data_offsets") || !e["data_offsets"].is_array() ||
        e["data_offsets"].size() != 2)
        bad(file, where + ": field 'data_offsets' must be an array of two integers");
    StTensor t;
    t.name = name;
    t.file = file;
    t.dtype = e["dtype"].get<std::string>();
    if (!st_dtype_bits(t.dtype, &t.bits, &t.type))
        bad(file, where + ": unknown dtype '" + t.dtype + "'");
    for (const auto &d : e["shape"]) {
        const uint64_t n = as_u64(file, where + ": a 'shape' dimension", d);
        if (n != 0 && t.numel > UINT64_MAX / 8 / n)
            bad(file, where + ": shape has too many elements (overflow)");
        t.numel *= n;
        t.shape.push_back(n);
    }
    t.begin = as_u64(file, where + ": data_offsets[0]", e["data_offsets"][0]);
    t.end = as_u64(file, where + ": data_offsets[1]", e["data_offsets"][1]);
    if (t.end < t.begin)
        bad(file, where + ": data_offsets [" + std::to_string(t.begin) + ", " +
                      std::to_string(t.end) + ") end before begin");
    const uint64_t total_bits = t.numel * (uint64_t)t.bits;
    if (total_bits % 8 != 0 || t.end - t.begin != total_bits / 8)
        bad(file, where + ": data_offsets [" + std::to_string(t.begin) + ", " +
                      std::to_string(t.end) + ") hold " + std::to_string(t.end - t.begin) +
                      " bytes, but shape x dtype " + t.dtype + " needs " +
                      (total_bits % 8 ? "a whole number of bytes"
                                      : std::to_string(total_bits / 8)));
    return t;
}

}  // namespace

bool st_dtype_bits(const std::string &dtype, int *bits, StType *type) {
    for (const auto &d : kDtypes) {
        if (dtype == d.name) {
            *bits = d.bits;
            *type = d.type;
            return true;
        }
    }
    return false;
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::open(const std::string &path) {
    std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
    f->path_ = path;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(BITNET_ERR_IO, path + ": cannot open: " + std::strerror(errno));
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        fail(BITNET_ERR_IO, path + ": not a regular file");
    }
    f->size_ = (uint64_t)st.st_size;
    if (f->size_ > 0) {
        void *m = mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            const int err = errno;
            ::close(fd);
            fail(BITNET_ERR_IO, path + ": cannot map: " + std::strerror(err));
        }
        f->map_ = m;
        f->base_ = static_cast<const uint8_t *>(m);
    }
    ::close(fd);
    f->parse();
    return f;
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::from_memory(const void *data, size_t size,
                                                              const std::string &name) {
    std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
    f->path_ = name;
    f->owned_.assign(static_cast<const uint8_t *>(data), static_cast<const uint8_t *>(data) + size);
    f->base_ = f->owned_.data();
    f->size_ = size;
    f->parse();
    return f;
}

SafetensorsFile::~SafetensorsFile() {
    if (map_) munmap(map_, size_);
}

void SafetensorsFile::parse() {
    if (size_ < 8) bad(path_, "file of " + std::to_string(size_) + " bytes is too short for a safetensors header");
    const uint64_t n = read_u64_le(base_);
    if (n > kMaxSafetensorsHeader)
        bad(path_, "safetensors header length " + std::to_string(n) + " exceeds the limit of " +
                       std::to_string(kMaxSafetensorsHeader) + " bytes");
    if (n > size_ - 8)
        bad(path_, "safetensors header length " + std::to_string(n) + " runs past the end of the file (" +
                       std::to_string(size_) + " bytes)");
    const char *h = reinterpret_cast<const char *>(base_ + 8);
    json doc = json::parse(h, h + n, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) bad(path_, "safetensors header is not well-formed UTF-8 JSON");
    if (!doc.is_object()) bad(path_, "safetensors header must be a JSON object, found " + json_kind(doc));
    for (const auto &[key, v] : doc.items()) {
        if (key == "__metadata__") {
            if (!v.is_object()) bad(path_, "safetensors header: '__metadata__' must be an object");
            for (const auto &[mk, mv] : v.items()) {
                if (!mv.is_string())
                    bad(path_, "safetensors header: '__metadata__." + mk + "' must be a string");
                metadata_[mk] = mv.get<std::string>();
            }
            continue;
        }
        tensors_.push_back(parse_entry(path_, key, v));
    }
    // The entries must tile the data buffer exactly.
    const uint64_t buffer = size_ - 8 - n;
    std::vector<size_t> order(tensors_.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        return tensors_[a].begin != tensors_[b].begin ? tensors_[a].begin < tensors_[b].begin
                                                       : tensors_[a].end < tensors_[b].end;
    });
    uint64_t expect = 0;
    for (size_t i : order) {
        const StTensor &t = tensors_[i];
        if (t.begin != expect)
            bad(path_, "safetensors header: tensor '" + t.name + "' data_offsets [" +
                           std::to_string(t.begin) + ", " + std::to_string(t.end) +
                           (t.begin < expect ? ") overlap the previous tensor (which ends at "
                                             : ") leave a gap after the previous tensor (which ends at ") +
                           std::to_string(expect) + ")");
        if (t.end > buffer)
            bad(path_, "safetensors header: tensor '" + t.name + "' data_offsets [" +
                           std::to_string(t.begin) + ", " + std::to_string(t.end) +
                           ") lie outside the data buffer of " + std::to_string(buffer) + " bytes");
        expect = t.end;
    }
    if (expect != buffer)
        bad(path_, "safetensors header: the tensors cover " + std::to_string(expect) +
                       " bytes of the data buffer, but it holds " + std::to_string(buffer));
    for (size_t i = 0; i < tensors_.size(); ++i) {
        tensors_[i].data = base_ + 8 + n + tensors_[i].begin;
        index_[tensors_[i].name] = i;
    }
}

const StTensor *SafetensorsFile::find(const std::string &name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &tensors_[it->second];
}

void SafetensorsFile::release(const StTensor &t) const { release(t, 0, t.nbytes()); }

void SafetensorsFile::release(const StTensor &t, uint64_t from, uint64_t to) const {
    to = std::min(to, t.nbytes());
    if (!map_ || from >= to) return;
    const uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    const uint64_t off = (uint64_t)(t.data - base_);
    const uint64_t first = (off + from + page - 1) / page * page;
    const uint64_t last = (off + to) / page * page;
    if (last > first) madvise(static_cast<uint8_t *>(map_) + first, last - first, MADV_DONTNEED);
}

Checkpoint Checkpoint::open_dir(const std::string &dir) {
    namespace fs = std::filesystem;
    Checkpoint c;
    const fs::path index = fs::path(dir) / "model.safetensors.index.json";
    std::vector<std::string> shard_names;
    std::map<std::string, std::string> weight_map;
    if (fs::exists(index)) {
        const JsonFile idx = JsonFile::read(index.string());
        const json &wm = idx.require(idx.doc, "weight_map", JsonKind::Object);
        for (const auto &[tensor, file] : wm.items()) {
            if (!file.is_string())
                idx.fail_field("weight_map." + tensor, "must be a string, found " + json_kind(file));
            const std::string f = file.get<std::string>();
            if (f.empty() || f.find('/') != std::string::npos || f == "." || f == "..")
                idx.fail_field("weight_map." + tensor, "names '" + f + "', not a file in the folder");
            weight_map[tensor] = f;
            if (std::find(shard_names.begin(), shard_names.end(), f) == shard_names.end())
                shard_names.push_back(f);
        }
        c.describe_ = index.string();
    } else {
        const fs::path single = fs::path(dir) / "model.safetensors";
        if (!fs::exists(single))
            fail(BITNET_ERR_IO, dir + ": no model.safetensors and no model.safetensors.index.json");
        shard_names.push_back("model.safetensors");
        c.describe_ = single.string();
    }
    for (const std::string &s : shard_names) {
        c.files_.push_back(SafetensorsFile::open((fs::path(dir) / s).string()));
        const size_t fi = c.files_.size() - 1;
        for (const StTensor &t : c.files_.back()->tensors()) {
            if (!c.index_.emplace(t.name, std::make_pair(fi, &t)).second)
                bad(t.file, "tensor '" + t.name + "' is also in " +
                                c.files_[c.index_[t.name].first]->path());
        }
    }
    for (const auto &[tensor, file] : weight_map) {
        auto it = c.index_.find(tensor);
        if (it == c.index_.end() || fs::path(c.files_[it->second.first]->path()).filename() != file)
            bad(index.string(), "weight_map lists tensor '" + tensor + "' in " + file +
                                    ", but that shard does not hold it");
    }
    return c;
}

const StTensor *Checkpoint::find(const std::string &name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : it->second.second;
}

const StTensor &Checkpoint::require(const std::string &name) const {
    const StTensor *t = find(name);
    if (!t) bad(describe_, "tensor '" + name + "' is missing");
    return *t;
}

std::vector<std::string> Checkpoint::names() const {
    std::vector<std::string> v;
    for (const auto &[k, _] : index_) v.push_back(k);
    return v;
}

void Checkpoint::release(const StTensor &t) const { release(t, 0, t.nbytes()); }

void Checkpoint::release(const StTensor &t, uint64_t from, uint64_t to) const {
    auto it = index_.find(t.name);
    if (it != index_.end()) files_[it->second.first]->release(t, from, to);
}

}  // namespace bitnet::convert
