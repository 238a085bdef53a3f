// safetensors reader (huggingface/safetensors, ternary-formats.md section 4.1): one file, or a
// folder's shards listed in model.safetensors.index.json.
//
// A file is mapped read-only; its header (u64 length N, then N bytes of JSON) is validated in
// full before any tensor is used: N <= 100,000,000 and 8 + N <= file size, well-formed UTF-8
// JSON object, every entry {dtype, shape, data_offsets} with a known dtype, non-negative
// integer dimensions whose product does not overflow, begin <= end, end - begin = elements x
// dtype bits / 8, and the data buffer tiled exactly by the entries (sorted by offset: first
// begin 0, each begin = the previous end, last end = buffer size), so no two tensors overlap
// and no byte is unaccounted for. `__metadata__` must map strings to strings.
// Failures throw bitnet::Error: IO (cannot open/map), BAD_FORMAT with "<file>: ..." naming the
// tensor and field.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace bitnet::convert {

inline constexpr uint64_t kMaxSafetensorsHeader = 100000000;  // safetensors MAX_HEADER_SIZE

// The element types this converter reads values of (others are validated but not converted).
enum class StType { U8, I8, F16, BF16, F32, OTHER };

struct StTensor {
    std::string name;
    std::string dtype;             // as in the header, e.g. "BF16"
    StType type = StType::OTHER;
    int bits = 0;                  // bits per element
    std::vector<uint64_t> shape;   // row-major, HF order ([out, in] for a linear weight)
    uint64_t numel = 1;
    uint64_t begin = 0, end = 0;   // relative to the data buffer
    const uint8_t *data = nullptr; // into the mapping
    std::string file;              // the file holding it (for messages)

    uint64_t nbytes() const { return end - begin; }
};

class SafetensorsFile {
public:
    // Maps and validates `path`.
    static std::unique_ptr<SafetensorsFile> open(const std::string &path);
    // Validates a copy of an in-memory image (tests, fuzzing); `name` is used in messages.
    static std::unique_ptr<SafetensorsFile> from_memory(const void *data, size_t size,
                                                        const std::string &name);
    ~SafetensorsFile();
    SafetensorsFile(const SafetensorsFile &) = delete;
    SafetensorsFile &operator=(const SafetensorsFile &) = delete;

    const std::string &path() const { return path_; }
    const std::vector<StTensor> &tensors() const { return tensors_; }
    const std::map<std::string, std::string> &metadata() const { return metadata_; }
    const StTensor *find(const std::string &name) const;
    // Drops t's whole pages from resident memory (a mapped file only): the converter reads each
    // tensor once, so this keeps its memory near one tensor rather than the whole model.
    void release(const StTensor &t) const;
    // Same for bytes [from, to) of t's data (a tensor read front to back in pieces).
    void release(const StTensor &t, uint64_t from, uint64_t to) const;

private:
    SafetensorsFile() = default;
    void parse();

    std::string path_;
    const uint8_t *base_ = nullptr;
    uint64_t size_ = 0;
    void *map_ = nullptr;
    std::vector<uint8_t> owned_;
    std::vector<StTensor> tensors_;
    std::map<std::string, size_t> index_;
    std::map<std::string, std::string> metadata_;
};

// All safetensors files of a Hugging Face model folder: `model.safetensors.index.json`
// ("weight_map": tensor -> shard file, every listed tensor must be in its shard) when present,
// else `model.safetensors`. Tensor names must be unique across shards.
class Checkpoint {
public:
    static Checkpoint open_dir(const std::string &dir);
    const StTensor *find(const std::string &name) const;
    // BAD_FORMAT naming the folder's files when absent.
    const StTensor &require(const std::string &name) const;
    std::vector<std::string> names() const;
    void release(const StTensor &t) const;
    void release(const StTensor &t, uint64_t from, uint64_t to) const;
    const std::string &describe() const { return describe_; }  // for messages

private:
    std::vector<std::unique_ptr<SafetensorsFile>> files_;
    std::map<std::string, std::pair<size_t, const StTensor *>> index_;
    std::string describe_;
};

// Element type of a dtype string and its width in bits; false for an unknown dtype.
bool st_dtype_bits(const std::string &dtype, int *bits, StType *type);

}  // namespace bitnet::convert
