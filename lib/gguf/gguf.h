// GGUF v3 reader and writer (ggml-org/ggml docs/gguf.md; I2_S size rule from
// ../shared/docs/bitnet-reference.md section 1.4).
//
// The reader maps the file (or takes a caller buffer), parses the header, metadata and tensor
// table, and validates every count, length, offset and size against the file size before
// anything is used. Failures throw bitnet::Error with BITNET_ERR_BAD_FORMAT (malformed),
// BITNET_ERR_UNSUPPORTED (well-formed but unknown version/type) or BITNET_ERR_IO, and a message
// that names the file, the byte offset and what was wrong.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace bitnet::gguf {

// Limits the reader enforces (the writer stays within them too).
inline constexpr uint32_t kDefaultAlignment = 32;        // when general.alignment is absent
inline constexpr uint64_t kMaxKeyLength = 65535;         // metadata key bytes
inline constexpr uint64_t kMaxTensorNameLength = 256;    // reader; the spec (and Writer) use 64
inline constexpr uint64_t kWriterMaxTensorNameLength = 64;
inline constexpr int kMaxArrayDepth = 4;                 // arrays nested at most this deep
inline constexpr int64_t kMaxTensorElements = int64_t(1) << 50;
// Total metadata values (scalars + array elements) per file. Each parsed value costs ~100 bytes
// of memory, so this bounds what a crafted file can make the reader allocate.
inline constexpr uint64_t kMaxMetadataValues = uint64_t(1) << 24;

// Metadata value type tags (GGUF spec).
enum class ValueType : uint32_t {
    UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6, BOOL = 7,
    STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};
const char *value_type_name(ValueType t);

// ggml tensor types this project knows. Others are rejected with BITNET_ERR_UNSUPPORTED.
// GGML type ids as upstream ggml numbers them (I2_S = 36 is bitnet.cpp's; upstream has no 36).
// Ids of other forks that collide with these (TL1/TL2 = 38/39 in bitnet.cpp's 2024 fork) are
// not listed: the reader rejects them as unknown (ternary-formats.md section 2.1).
enum class TensorType : uint32_t {
    F32 = 0, F16 = 1, Q4_0 = 2, Q8_0 = 8, Q6_K = 14, BF16 = 30, TQ1_0 = 34, TQ2_0 = 35, I2_S = 36,
};
const char *tensor_type_name(TensorType t);
bool tensor_type_known(uint32_t t);

// Bytes of a tensor with `n_elements` values and row length ne0; throws BAD_FORMAT when the
// shape does not suit the type (a block type needs ne0 to be a multiple of its block; I2_S:
// ne0 % 128 != 0), a dimension is < 1 or the element count exceeds kMaxTensorElements.
// F32: 4n, F16/BF16: 2n; blocks of values along a row (ggml block_*): Q4_0 n/32*18,
// Q8_0 n/32*34, Q6_K n/256*210, TQ1_0 n/256*54, TQ2_0 n/256*66;
// I2_S: n/4 + 32 (whole tensor, one trailing f32 scale + 28 padding bytes).
uint64_t tensor_nbytes(TensorType t, const int64_t ne[4]);
// Values per block and bytes per block of a type along a row ({1, 4} for F32; {0, 0} unknown).
struct BlockLayout {
    int64_t values;
    int64_t bytes;
};
BlockLayout block_layout(TensorType t);
// Non-throwing form: returns false and describes the problem in *why (e.g. "I2_S needs ne0 to
// be a multiple of 128, found 100"; either pointer may be null) when a dimension is < 1, the element count exceeds kMaxTensorElements, the
// shape does not suit the type or the type is unknown.
bool tensor_nbytes_checked(TensorType t, const int64_t ne[4], uint64_t *nbytes, std::string *why);
// Smallest multiple of `alignment` (> 0) that is >= x; x + alignment must not overflow.
inline uint64_t align_up(uint64_t x, uint64_t alignment) {
    return x + (alignment - x % alignment) % alignment;
}

struct Value {
    ValueType type = ValueType::UINT8;
    // scalars (the field matching `type` is meaningful; integers are also mirrored in f64)
    uint64_t u64 = 0;
    int64_t i64 = 0;
    double f64 = 0;
    bool b = false;
    std::string str;              // STRING
    ValueType elem_type = ValueType::UINT8;  // ARRAY element type
    std::vector<Value> arr;       // ARRAY items (nested arrays allowed)

    bool is_integer() const;      // any of the 8 integer types
    bool is_signed() const;       // INT8/16/32/64
    std::string to_string() const;  // decimal / true|false / verbatim / "[N items of TYPE]"
};

struct KeyValue {
    std::string key;
    Value value;
};

struct TensorInfo {
    std::string name;
    uint32_t n_dims = 0;
    int64_t ne[4] = {1, 1, 1, 1};  // ne0 first (contiguous dimension)
    TensorType type = TensorType::F32;
    uint64_t offset = 0;           // relative to data section start
    uint64_t nbytes = 0;           // tensor_nbytes(type, ne)
    const uint8_t *data = nullptr; // points into the mapping, validated in range

    int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
};

class File {
public:
    // Maps (use_mmap) or reads the file and parses it. Throws bitnet::Error: IO for a missing,
    // unreadable or empty file or a directory; BAD_FORMAT / UNSUPPORTED for its content.
    // A mapping is read-only unless `writable`: then it is a private copy-on-write mapping
    // whose pages become private memory when written (the file itself never changes).
    static std::unique_ptr<File> open(const std::string &path, bool use_mmap = true,
                                      bool writable = false);
    // Parses a copy of an in-memory image (fuzzing, tests); `name` is used in messages.
    static std::unique_ptr<File> from_memory(const void *data, size_t size,
                                             const std::string &name = "<memory>");
    ~File();
    File(const File &) = delete;
    File &operator=(const File &) = delete;

    const std::string &path() const { return path_; }
    // Whether tensor data may be rewritten in place (writable mapping, or an image in memory).
    bool writable() const { return writable_; }
    // t's data, for rewriting in place (requires writable(); throws INTERNAL otherwise).
    uint8_t *writable_data(const TensorInfo &t);
    // Hint that t's data will be little used for a while: for a mapped file, the whole pages
    // inside it leave resident memory (unless written to, they are read back from the file on
    // the next access). No effect on an image read into memory.
    void release_pages(const TensorInfo &t) const;
    uint32_t version() const { return version_; }
    uint32_t alignment() const { return alignment_; }
    uint64_t file_size() const { return size_; }
    uint64_t data_offset() const { return data_offset_; }

    const std::vector<KeyValue> &metadata() const { return kv_; }
    const std::vector<TensorInfo> &tensors() const { return tensors_; }

    const Value *find(std::string_view key) const;          // nullptr if absent
    const TensorInfo *find_tensor(std::string_view name) const;

    // Typed getters: throw BAD_FORMAT naming the key if present with an incompatible type
    // (integers of any width convert when in range); NOT_FOUND if absent and no default.
    uint32_t get_u32(std::string_view key) const;
    uint32_t get_u32(std::string_view key, uint32_t def) const;
    float get_f32(std::string_view key) const;
    float get_f32(std::string_view key, float def) const;
    bool get_bool(std::string_view key, bool def) const;
    std::string get_string(std::string_view key) const;
    std::string get_string(std::string_view key, const std::string &def) const;

private:
    File() = default;
    void parse();

    [[noreturn]] void bad_format(const std::string &what) const;  // throws "<path>: what"
    void allocate_image(uint64_t size);                            // sets owned_ and base_
    // The offset vectors give each KV's / tensor info's byte position, for messages.
    void parse_alignment(const std::vector<uint64_t> &key_offsets);
    void validate_tensors(const std::vector<uint64_t> &info_offsets);
    [[noreturn]] void reject_foreign(size_t index, uint32_t id) const;
    void build_indexes(const std::vector<uint64_t> &key_offsets,
                       const std::vector<uint64_t> &tensor_offsets);
    const Value &require(std::string_view key) const;              // NOT_FOUND when absent
    uint32_t to_u32(std::string_view key, const Value &v) const;
    float to_f32(std::string_view key, const Value &v) const;
    bool to_bool(std::string_view key, const Value &v) const;
    std::string to_str(std::string_view key, const Value &v) const;

    // Buffer for from_memory / open(use_mmap=false), 64-byte aligned so that tensor data (at
    // 32-aligned file offsets) is as aligned as in a mapping.
    struct AlignedFree {
        void operator()(uint8_t *p) const;
    };

    std::string path_;
    const uint8_t *base_ = nullptr;
    uint64_t size_ = 0;
    void *map_ = nullptr;            // mmap region (or nullptr)
    bool writable_ = false;
    std::unique_ptr<uint8_t[], AlignedFree> owned_;  // when read into memory
    uint32_t version_ = 0;
    uint32_t alignment_ = 32;
    uint64_t data_offset_ = 0;
    std::vector<KeyValue> kv_;
    std::vector<TensorInfo> tensors_;
    // Name -> index; the views point into kv_/tensors_, which never change after parse().
    std::unordered_map<std::string_view, size_t> kv_index_;
    std::unordered_map<std::string_view, size_t> tensor_index_;
};

// Writes GGUF v3 files (model generator, tests). Values are appended in call order; tensors are
// laid out back to back, each padded to the alignment (32).
// Invalid input (duplicate key or tensor name, key longer than 65535 bytes, tensor name longer than
// 64 bytes, bad shape, data size not matching tensor_nbytes, inconsistent Value) throws
// bitnet::Error with BITNET_ERR_INVALID_ARGUMENT at the add_* call.
class Writer {
public:
    // Receives consecutive pieces of a tensor's bytes.
    using Sink = std::function<void(const void *data, size_t n)>;
    // Produces a tensor's bytes by calling the sink (any number of times, in order) with exactly
    // tensor_nbytes(type, ne) bytes in total. Called during write()/to_bytes(), once per call.
    using Producer = std::function<void(const Sink &sink)>;

    // Any value, including every scalar type and (nested) arrays; arrays must be consistent
    // (every item of type elem_type, BOOLs in arrays too, at most kMaxArrayDepth deep).
    void add_value(const std::string &key, const Value &v);
    void add_u64(const std::string &key, uint64_t v);
    void add_f64(const std::string &key, double v);

    void add_u32(const std::string &key, uint32_t v);
    void add_i32(const std::string &key, int32_t v);
    void add_f32(const std::string &key, float v);
    void add_bool(const std::string &key, bool v);
    void add_string(const std::string &key, const std::string &v);
    void add_string_array(const std::string &key, const std::vector<std::string> &v);
    void add_f32_array(const std::string &key, const std::vector<float> &v);
    void add_i32_array(const std::string &key, const std::vector<int32_t> &v);
    // data must hold tensor_nbytes(type, ne) bytes; it is copied.
    void add_tensor(const std::string &name, TensorType type, const std::vector<int64_t> &ne,
                    const void *data, size_t nbytes);
    // Same, taking ownership of the bytes (no copy).
    void add_tensor(const std::string &name, TensorType type, const std::vector<int64_t> &ne,
                    std::vector<uint8_t> &&data);
    // Same, with the bytes generated while writing (nothing held in memory meanwhile). A producer
    // that delivers more or fewer bytes makes write()/to_bytes() throw INVALID_ARGUMENT.
    void add_tensor_streamed(const std::string &name, TensorType type,
                             const std::vector<int64_t> &ne, Producer producer);
    // Writes the file (through "<path>.part", renamed on success, so a failed write leaves no
    // partial file at `path`); throws bitnet::Error (IO) on failure.
    void write(const std::string &path) const;
    // Serialises to memory (tests, fuzz seeds).
    std::vector<uint8_t> to_bytes() const;

private:
    struct PendingTensor {
        std::string name;
        TensorType type;
        std::vector<int64_t> ne;
        std::vector<uint8_t> data;   // used when producer is empty
        uint64_t nbytes = 0;
        Producer producer;
    };
    void add_key(const std::string &key, ValueType type);  // checks key, writes key + type tag
    uint64_t check_tensor(const std::string &name, TensorType type,
                          const std::vector<int64_t> &ne);  // returns nbytes
    void serialize(const Sink &out) const;                  // the whole file, in order

    std::vector<uint8_t> kv_bytes_;
    uint64_t n_kv_ = 0;
    std::vector<PendingTensor> tensors_;
    std::unordered_set<std::string> keys_;          // keys added so far
    std::unordered_set<std::string> tensor_names_;
};

}  // namespace bitnet::gguf
