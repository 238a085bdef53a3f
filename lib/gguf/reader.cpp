// GGUF reader: maps or loads the file, then parses and validates it completely before exposing
// anything. Every read goes through Cursor, which checks the bytes are there; every count is
// checked against the bytes left before anything is allocated for it.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>

#include "common/error.h"
#include "gguf/foreign.h"
#include "gguf/gguf.h"

namespace bitnet::gguf {

namespace {

constexpr size_t kBufferAlignment = 64;
// Upper bound for vector::reserve from a (validated) count; larger vectors grow as bytes are
// actually consumed, so memory tracks what the file really contains.
constexpr uint64_t kMaxReserve = uint64_t(1) << 20;

// Smallest encoding of a key-value pair: key length (8), empty key, type tag (4), 1-byte value.
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;
// Smallest tensor info: name length (8), empty name, n_dims (4), one dim (8), type (4), offset (8).
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;

// Little-endian loads, correct on any host (compilers turn them into plain loads).
inline uint16_t load_le16(const uint8_t *p) { return uint16_t(p[0] | (p[1] << 8)); }
inline uint32_t load_le32(const uint8_t *p) {
    return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) |
           (uint32_t(p[3]) << 24);
}
inline uint64_t load_le64(const uint8_t *p) {
    return uint64_t(load_le32(p)) | (uint64_t(load_le32(p + 4)) << 32);
}

bool value_type_valid(uint32_t tag) { return tag <= static_cast<uint32_t>(ValueType::FLOAT64); }

// Bytes the smallest encoded value of a type takes (used to bound counts).
uint64_t min_value_bytes(ValueType t) {
    switch (t) {
        case ValueType::UINT8:
        case ValueType::INT8:
        case ValueType::BOOL: return 1;
        case ValueType::UINT16:
        case ValueType::INT16: return 2;
        case ValueType::UINT32:
        case ValueType::INT32:
        case ValueType::FLOAT32: return 4;
        case ValueType::UINT64:
        case ValueType::INT64:
        case ValueType::FLOAT64:
        case ValueType::STRING: return 8;        // length only
        case ValueType::ARRAY: return 4 + 8;     // element type + count
    }
    return 1;
}

template <class T>
void reserve_capped(std::vector<T> &v, uint64_t count) {
    v.reserve(static_cast<size_t>(std::min(count, kMaxReserve)));
}

// Where the parser is, for error messages. Updating it is a few stores per item; it is turned
// into text only when something fails.
struct Where {
    const char *section = "header";    // "header", "key-value pair", "tensor info"
    uint64_t index = 0;                // which KV / tensor info
    const std::string *name = nullptr; // its key / tensor name, once read
    const char *field = "magic";
    int depth = 0;                     // arrays entered while reading the current value
    uint64_t elem[kMaxArrayDepth] = {};

    std::string describe() const {
        std::string s = section;
        if (std::strcmp(section, "header") != 0) s += " " + std::to_string(index);
        if (name) s += " ('" + *name + "')";
        for (int d = 0; d < depth; d++) s += ", array element " + std::to_string(elem[d]);
        s += " (";
        s += field;
        s += ")";
        return s;
    }
};

class Cursor {
public:
    Cursor(const uint8_t *base, uint64_t size, const std::string &path)
        : base_(base), size_(size), path_(path) {}

    uint64_t pos() const { return pos_; }
    uint64_t left() const { return size_ - pos_; }

    // Returns n bytes at the current position and advances, or throws "truncated".
    const uint8_t *take(uint64_t n, const char *field) {
        where.field = field;
        if (n > left()) truncated(n);
        const uint8_t *p = base_ + pos_;
        pos_ += n;
        return p;
    }
    uint8_t u8(const char *field) { return *take(1, field); }
    uint16_t u16(const char *field) { return load_le16(take(2, field)); }
    uint32_t u32(const char *field) { return load_le32(take(4, field)); }
    uint64_t u64(const char *field) { return load_le64(take(8, field)); }

    // gguf string: u64 length + bytes. The view points into the file image.
    std::string_view str(const char *len_field, const char *field, uint64_t max_len) {
        const uint64_t len = u64(len_field);
        if (len > left())
            bad(std::string(field) + " length " + std::to_string(len) + " exceeds the " +
                std::to_string(left()) + " bytes left in the file");
        if (len > max_len)
            bad(std::string(field) + " length " + std::to_string(len) + " exceeds the limit of " +
                std::to_string(max_len) + " bytes");
        const uint8_t *p = take(len, field);
        return {reinterpret_cast<const char *>(p), static_cast<size_t>(len)};
    }

    // A count of items, each at least min_size bytes, must fit in the bytes left. This keeps a
    // crafted count from driving allocations or loops.
    void check_count(uint64_t count, uint64_t min_size, const char *what) const {
        if (count > left() / min_size)
            bad(std::string(what) + " = " + std::to_string(count) + " is impossible: the " +
                std::to_string(left()) + " bytes left in the file hold at most " +
                std::to_string(left() / min_size) + " (at least " + std::to_string(min_size) +
                " bytes each)");
    }

    [[noreturn]] void truncated(uint64_t need) const {
        fail(BITNET_ERR_BAD_FORMAT, path_ + ": truncated at byte " + std::to_string(pos_) +
                                        " while reading " + where.describe() + ": need " +
                                        std::to_string(need) + " bytes, file has " +
                                        std::to_string(size_));
    }
    // Malformed content at the current position.
    [[noreturn]] void bad(const std::string &what, bitnet_status st = BITNET_ERR_BAD_FORMAT) const {
        fail(st, path_ + ": " + what + " at byte " + std::to_string(pos_) + " (" +
                     where.describe() + ")");
    }

    Where where;

private:
    const uint8_t *base_;
    uint64_t size_;
    uint64_t pos_ = 0;
    const std::string &path_;
};

// Parses metadata values; owns the budget of values a file may create.
class ValueParser {
public:
    explicit ValueParser(Cursor &cur) : cur_(cur) {}

    ValueType read_type(const char *field) {
        const uint32_t tag = cur_.u32(field);
        if (!value_type_valid(tag)) cur_.bad("unknown value type " + std::to_string(tag));
        return static_cast<ValueType>(tag);
    }

    void read_value(Value &v, ValueType t) {
        spend(1);
        v.type = t;
        switch (t) {
            case ValueType::UINT8: set_unsigned(v, cur_.u8("value")); break;
            case ValueType::INT8: set_signed(v, static_cast<int8_t>(cur_.u8("value"))); break;
            case ValueType::UINT16: set_unsigned(v, cur_.u16("value")); break;
            case ValueType::INT16: set_signed(v, static_cast<int16_t>(cur_.u16("value"))); break;
            case ValueType::UINT32: set_unsigned(v, cur_.u32("value")); break;
            case ValueType::INT32: set_signed(v, static_cast<int32_t>(cur_.u32("value"))); break;
            case ValueType::UINT64: set_unsigned(v, cur_.u64("value")); break;
            case ValueType::INT64: set_signed(v, static_cast<int64_t>(cur_.u64("value"))); break;
            case ValueType::FLOAT32: v.f64 = std::bit_cast<float>(cur_.u32("value")); break;
            case ValueType::FLOAT64: v.f64 = std::bit_cast<double>(cur_.u64("value")); break;
            case ValueType::BOOL: {
                const uint8_t x = cur_.u8("value");
                if (x > 1)
                    cur_.bad("invalid BOOL value " + std::to_string(x) + " (expected 0 or 1)");
                v.b = x != 0;
                set_unsigned(v, x);
                break;
            }
            case ValueType::STRING:
                v.str = cur_.str("string length", "string", std::numeric_limits<uint64_t>::max());
                break;
            case ValueType::ARRAY: read_array(v); break;
        }
    }

private:
    void read_array(Value &v) {
        Where &w = cur_.where;
        w.field = "array element type";
        if (w.depth >= kMaxArrayDepth)
            cur_.bad("arrays nested deeper than " + std::to_string(kMaxArrayDepth) + " levels");
        v.elem_type = read_type("array element type");
        const uint64_t count = cur_.u64("array count");
        cur_.check_count(count, min_value_bytes(v.elem_type), "array count");
        // The element values are spent one by one in read_value; checking the whole count
        // here first refuses a too-large array before anything is allocated for it.
        if (count > budget_)
            cur_.bad("metadata holds more than " + std::to_string(kMaxMetadataValues) +
                         " values (this reader's limit)",
                     BITNET_ERR_UNSUPPORTED);
        reserve_capped(v.arr, count);
        const int d = w.depth++;
        for (uint64_t i = 0; i < count; i++) {
            w.elem[d] = i;
            read_value(v.arr.emplace_back(), v.elem_type);
        }
        w.depth--;
    }

    void spend(uint64_t n) {
        if (n > budget_)
            cur_.bad("metadata holds more than " + std::to_string(kMaxMetadataValues) +
                         " values (this reader's limit)",
                     BITNET_ERR_UNSUPPORTED);
        budget_ -= n;
    }
    static void set_unsigned(Value &v, uint64_t x) {
        v.u64 = x;
        v.i64 = static_cast<int64_t>(x);
        v.f64 = static_cast<double>(x);
    }
    static void set_signed(Value &v, int64_t x) {
        v.i64 = x;
        v.u64 = static_cast<uint64_t>(x);
        v.f64 = static_cast<double>(x);
    }

    Cursor &cur_;
    uint64_t budget_ = kMaxMetadataValues;
};

// foreign: set to the type id when it is one of another fork (gguf/foreign.h); the tensor then
// keeps a placeholder type and size until the file is rejected with what it holds.
void read_tensor_info(Cursor &cur, TensorInfo &t, uint32_t &foreign) {
    t.name = cur.str("name length", "name", kMaxTensorNameLength);
    cur.where.name = &t.name;
    t.n_dims = cur.u32("n_dims");
    if (t.n_dims < 1 || t.n_dims > 4)
        cur.bad("tensor '" + t.name + "' has n_dims = " + std::to_string(t.n_dims) +
                ", expected 1..4");
    for (uint32_t d = 0; d < t.n_dims; d++) {
        const uint64_t dim = cur.u64("dimension");
        if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
            cur.bad("tensor '" + t.name + "' dimension ne" + std::to_string(d) + " = " +
                    std::to_string(dim) + " does not fit in int64");
        t.ne[d] = static_cast<int64_t>(dim);
    }
    const uint32_t type = cur.u32("type");
    foreign = 0;
    if (!tensor_type_known(type) && foreign_type_candidate(type)) {
        foreign = type;
        t.type = TensorType::F32;
        t.nbytes = 0;
        t.offset = cur.u64("offset");
        return;
    }
    if (!tensor_type_known(type))
        cur.bad("tensor '" + t.name + "' has unknown ggml type " + std::to_string(type) +
                    " (supported: F32=0, F16=1, Q4_0=2, Q8_0=8, Q6_K=14, BF16=30, TQ1_0=34, TQ2_0=35, I2_S=36)",
                BITNET_ERR_UNSUPPORTED);
    t.type = static_cast<TensorType>(type);
    // A valid I2_S layout (blocks of 128 over the flattened tensor), but rows that are not whole
    // blocks straddle them and no kernel takes that (bitnet.cpp's neither: its README marks
    // bitnet_b1_58-3B, whose FFN is 8640 wide, as I2_S-unsupported).
    if (t.type == TensorType::I2_S && t.ne[0] % 128 != 0)
        cur.bad("tensor '" + t.name + "' is I2_S with rows of " + std::to_string(t.ne[0]) +
                    " values: the I2_S kernels need a multiple of 128 (use an F32/F16 GGUF of "
                    "this model)",
                BITNET_ERR_UNSUPPORTED);
    std::string why;
    if (!tensor_nbytes_checked(t.type, t.ne, &t.nbytes, &why))
        cur.bad("tensor '" + t.name + "' of type " + tensor_type_name(t.type) +
                " has an invalid shape: " + why);
    t.offset = cur.u64("offset");
}

// IO failure with the text of errno, read first so that building the message cannot change it.
[[noreturn]] void fail_errno(const char *verb, const std::string &path) {
    const int err = errno;
    fail(BITNET_ERR_IO, std::string("cannot ") + verb + " " + path + ": " + std::strerror(err));
}

// Closes a file descriptor on scope exit.
struct FdCloser {
    int fd;
    ~FdCloser() {
        if (fd >= 0) ::close(fd);
    }
};

}  // namespace

void File::AlignedFree::operator()(uint8_t *p) const {
    ::operator delete(p, std::align_val_t(kBufferAlignment));
}

File::~File() {
    if (map_) ::munmap(map_, static_cast<size_t>(size_));
}

std::unique_ptr<File> File::open(const std::string &path, bool use_mmap, bool writable) {
    std::unique_ptr<File> f(new File());
    f->path_ = path;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail_errno("open", path);
    FdCloser closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0) fail_errno("stat", path);
    if (S_ISDIR(st.st_mode))
        fail(BITNET_ERR_IO, "cannot read " + path + ": " + std::strerror(EISDIR));
    if (!S_ISREG(st.st_mode)) fail(BITNET_ERR_IO, "cannot read " + path + ": not a regular file");
    // Nothing can be mapped from an empty file; report it as unreadable rather than malformed.
    if (st.st_size == 0) fail(BITNET_ERR_IO, "cannot read " + path + ": file is empty (0 bytes)");
    f->size_ = static_cast<uint64_t>(st.st_size);

    if (use_mmap) {
        const int prot = writable ? PROT_READ | PROT_WRITE : PROT_READ;
        void *m = ::mmap(nullptr, static_cast<size_t>(f->size_), prot, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) fail_errno("map", path);
        f->map_ = m;
        f->base_ = static_cast<const uint8_t *>(m);
        f->writable_ = writable;
    } else {
        f->allocate_image(f->size_);
        uint64_t done = 0;
        while (done < f->size_) {
            const size_t chunk = static_cast<size_t>(std::min<uint64_t>(f->size_ - done, 1u << 30));
            const ssize_t r = ::read(fd, f->owned_.get() + done, chunk);
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) fail_errno("read", path);
            if (r == 0)
                fail(BITNET_ERR_IO, "cannot read " + path + ": file shrank to " +
                                        std::to_string(done) + " bytes while reading");
            done += static_cast<uint64_t>(r);
        }
    }
    f->parse();
    return f;
}

std::unique_ptr<File> File::from_memory(const void *data, size_t size, const std::string &name) {
    std::unique_ptr<File> f(new File());
    f->path_ = name;
    f->size_ = size;
    if (size > 0) {
        f->allocate_image(size);
        std::memcpy(f->owned_.get(), data, size);
    }
    f->parse();
    return f;
}

void File::allocate_image(uint64_t size) {
    void *p = ::operator new(static_cast<size_t>(size), std::align_val_t(kBufferAlignment),
                             std::nothrow);
    if (!p)
        fail(BITNET_ERR_OUT_OF_MEMORY,
             path_ + ": cannot allocate " + std::to_string(size) + " bytes for the file image");
    owned_.reset(static_cast<uint8_t *>(p));
    base_ = owned_.get();
    writable_ = true;
}

void File::release_pages(const TensorInfo &t) const {
    if (!map_ || t.nbytes == 0) return;
    const uintptr_t page = (uintptr_t)::sysconf(_SC_PAGESIZE);
    const uintptr_t begin = ((uintptr_t)t.data + page - 1) / page * page;
    const uintptr_t end = ((uintptr_t)t.data + t.nbytes) / page * page;
    // MADV_DONTNEED on a private file mapping drops unmodified pages; the next access reads
    // the file again. The model never writes to F16/F32 tensors, only to I2_S ones (repack).
    if (end > begin) ::madvise(reinterpret_cast<void *>(begin), end - begin, MADV_DONTNEED);
}

uint8_t *File::writable_data(const TensorInfo &t) {
    if (!writable_) fail(BITNET_ERR_INTERNAL, path_ + ": the file image is read-only");
    // base_ points at this object's own writable memory (a private mapping or owned_).
    return const_cast<uint8_t *>(t.data);
}

void File::bad_format(const std::string &what) const {
    fail(BITNET_ERR_BAD_FORMAT, path_ + ": " + what);
}

void File::parse() {
    Cursor cur(base_, size_, path_);

    // --- header ---
    const uint8_t *magic = cur.take(4, "magic");
    if (std::memcmp(magic, "GGUF", 4) != 0) {
        char found[32];
        std::snprintf(found, sizeof found, "%02x %02x %02x %02x", magic[0], magic[1], magic[2],
                      magic[3]);
        bad_format("bad magic: expected \"GGUF\" (47 47 55 46), found " + std::string(found) +
                   " (not a GGUF file)");
    }
    version_ = cur.u32("version");
    if (version_ != 2 && version_ != 3) {
        std::string msg = path_ + ": unsupported GGUF version " + std::to_string(version_) +
                          " (supported: 2 and 3)";
        if (version_ == 1) msg += "; version 1 used 32-bit counts and is obsolete";
        // A big-endian file stores version 3 as 0x03000000.
        if (version_ != 0 && (version_ & 0xffffu) == 0 && (version_ >> 24) <= 3)
            msg += "; the file looks big-endian, which is not supported";
        fail(BITNET_ERR_UNSUPPORTED, msg);
    }
    // Version 2 has the same layout as 3 (64-bit counts and lengths); 3 only added big-endian.
    const uint64_t tensor_count = cur.u64("tensor_count");
    const uint64_t kv_count = cur.u64("kv_count");
    cur.check_count(kv_count, kMinKvBytes, "kv_count");
    cur.where.field = "tensor_count";
    cur.check_count(tensor_count, kMinTensorInfoBytes, "tensor_count");
    // Both bounded by left(), so the sum cannot overflow.
    if (kv_count * kMinKvBytes + tensor_count * kMinTensorInfoBytes > cur.left())
        cur.bad("kv_count = " + std::to_string(kv_count) + " and tensor_count = " +
                std::to_string(tensor_count) + " cannot both fit in the " +
                std::to_string(cur.left()) + " bytes left");

    // --- metadata ---
    ValueParser values(cur);
    std::vector<uint64_t> key_offsets;
    reserve_capped(kv_, kv_count);
    reserve_capped(key_offsets, kv_count);
    for (uint64_t i = 0; i < kv_count; i++) {
        cur.where = Where{"key-value pair", i, nullptr, "key"};
        key_offsets.push_back(cur.pos());
        KeyValue &kv = kv_.emplace_back();
        kv.key = cur.str("key length", "key", kMaxKeyLength);
        cur.where.name = &kv.key;
        values.read_value(kv.value, values.read_type("value type"));
    }

    // --- tensor infos ---
    cur.where = Where{"tensor info", 0, nullptr, "tensor_count"};
    cur.check_count(tensor_count, kMinTensorInfoBytes, "tensor_count");
    std::vector<uint64_t> info_offsets;
    reserve_capped(tensors_, tensor_count);
    reserve_capped(info_offsets, tensor_count);
    std::vector<std::pair<size_t, uint32_t>> foreign;  // (tensor index, type id)
    for (uint64_t i = 0; i < tensor_count; i++) {
        cur.where = Where{"tensor info", i, nullptr, "name"};
        info_offsets.push_back(cur.pos());
        uint32_t foreign_id = 0;
        read_tensor_info(cur, tensors_.emplace_back(), foreign_id);
        if (foreign_id) foreign.emplace_back((size_t)i, foreign_id);
    }
    const uint64_t infos_end = cur.pos();

    build_indexes(key_offsets, info_offsets);
    parse_alignment(key_offsets);
    // infos_end <= size and alignment < 2^32, so this cannot overflow.
    data_offset_ = align_up(infos_end, alignment_);
    if (!foreign.empty()) reject_foreign(foreign.front().first, foreign.front().second);
    validate_tensors(info_offsets);
}

// The bytes a tensor of a foreign type occupies (up to the next tensor's offset or the end of
// the file) say which format it is; the file is rejected either way.
void File::reject_foreign(size_t index, uint32_t id) const {
    const TensorInfo &t = tensors_[index];
    const uint64_t data_size = size_ > data_offset_ ? size_ - data_offset_ : 0;
    uint64_t end = data_size;
    for (const TensorInfo &o : tensors_) {
        if (o.offset > t.offset && o.offset < end) end = o.offset;
    }
    const uint64_t space = end > t.offset ? end - t.offset : 0;
    fail(BITNET_ERR_UNSUPPORTED, path_ + ": tensor '" + t.name + "' has " +
                                     foreign_type_message(id, t.ne, space));
}

void File::build_indexes(const std::vector<uint64_t> &key_offsets,
                         const std::vector<uint64_t> &tensor_offsets) {
    kv_index_.reserve(kv_.size());
    for (size_t i = 0; i < kv_.size(); i++) {
        auto [it, inserted] = kv_index_.emplace(kv_[i].key, i);
        if (!inserted)
            bad_format("duplicate key '" + kv_[i].key + "' at byte " +
                       std::to_string(key_offsets[i]) + " (key-value pair " + std::to_string(i) +
                       "; first defined by key-value pair " + std::to_string(it->second) +
                       " at byte " + std::to_string(key_offsets[it->second]) + ")");
    }
    tensor_index_.reserve(tensors_.size());
    for (size_t i = 0; i < tensors_.size(); i++) {
        auto [it, inserted] = tensor_index_.emplace(tensors_[i].name, i);
        if (!inserted)
            bad_format("duplicate tensor name '" + tensors_[i].name + "' at byte " +
                       std::to_string(tensor_offsets[i]) + " (tensor info " + std::to_string(i) +
                       "; first used by tensor info " + std::to_string(it->second) + " at byte " +
                       std::to_string(tensor_offsets[it->second]) + ")");
    }
}

void File::parse_alignment(const std::vector<uint64_t> &key_offsets) {
    alignment_ = kDefaultAlignment;
    auto it = kv_index_.find("general.alignment");
    if (it == kv_index_.end()) return;
    const Value &v = kv_[it->second].value;
    const std::string where = " (key-value pair " + std::to_string(it->second) + " at byte " +
                              std::to_string(key_offsets[it->second]) + ")";
    // The spec says UINT32; any integer type in range is accepted.
    if (!v.is_integer())
        bad_format("general.alignment has type " + std::string(value_type_name(v.type)) +
                   ", expected UINT32" + where);
    const bool fits = v.is_signed() ? (v.i64 >= 0 && v.i64 <= UINT32_MAX) : v.u64 <= UINT32_MAX;
    if (!fits || v.u64 == 0 || v.u64 % 8 != 0)
        bad_format("general.alignment must be a non-zero multiple of 8 that fits in UINT32, found " +
                   v.to_string() + where);
    alignment_ = static_cast<uint32_t>(v.u64);
}

void File::validate_tensors(const std::vector<uint64_t> &info_offsets) {
    auto span = [](uint64_t a, uint64_t b) {
        // Built by appending: GCC 12 warns (-Wrestrict, falsely) on "[" + std::string.
        std::string s(1, '[');
        s += std::to_string(a);
        s += ", ";
        s += std::to_string(b);
        s += ')';
        return s;
    };
    for (size_t i = 0; i < tensors_.size(); i++) {
        TensorInfo &t = tensors_[i];
        const std::string where = " (tensor info " + std::to_string(i) + " at byte " +
                                  std::to_string(info_offsets[i]) + ")";
        if (t.offset % alignment_ != 0)
            bad_format("tensor '" + t.name + "' offset " + std::to_string(t.offset) +
                       " is not a multiple of the alignment " + std::to_string(alignment_) +
                       where);
        // Overflow-safe form of data_offset + offset + nbytes <= size.
        const uint64_t max = std::numeric_limits<uint64_t>::max();
        if (t.offset > max - data_offset_ || t.nbytes > max - data_offset_ - t.offset)
            bad_format("tensor '" + t.name + "' offset " + std::to_string(t.offset) +
                       " + size " + std::to_string(t.nbytes) +
                       " overflows 64 bits (data section starts at byte " +
                       std::to_string(data_offset_) + ", file size " + std::to_string(size_) + ")" +
                       where);
        const uint64_t begin = data_offset_ + t.offset;
        const uint64_t end = begin + t.nbytes;
        if (end > size_)
            bad_format("tensor '" + t.name + "' data " + span(begin, end) +
                       " lies outside the file (size " + std::to_string(size_) + ")" + where);
        t.data = base_ + begin;
    }
    // Overlap: after sorting by offset, each tensor must end before the next begins.
    std::vector<const TensorInfo *> order;
    order.reserve(tensors_.size());
    for (const TensorInfo &t : tensors_) order.push_back(&t);
    std::sort(order.begin(), order.end(), [](const TensorInfo *a, const TensorInfo *b) {
        return a->offset != b->offset ? a->offset < b->offset : a->nbytes < b->nbytes;
    });
    for (size_t i = 1; i < order.size(); i++) {
        const TensorInfo &a = *order[i - 1], &b = *order[i];
        if (a.offset + a.nbytes > b.offset)
            bad_format("tensors '" + a.name + "' " +
                       span(data_offset_ + a.offset, data_offset_ + a.offset + a.nbytes) +
                       " and '" + b.name + "' " +
                       span(data_offset_ + b.offset, data_offset_ + b.offset + b.nbytes) +
                       " overlap");
    }
}

// --- lookups and typed getters ---

const Value *File::find(std::string_view key) const {
    auto it = kv_index_.find(key);
    return it == kv_index_.end() ? nullptr : &kv_[it->second].value;
}

const TensorInfo *File::find_tensor(std::string_view name) const {
    auto it = tensor_index_.find(name);
    return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const Value &File::require(std::string_view key) const {
    const Value *v = find(key);
    if (!v) fail(BITNET_ERR_NOT_FOUND, path_ + ": metadata key '" + std::string(key) + "' not found");
    return *v;
}

uint32_t File::to_u32(std::string_view key, const Value &v) const {
    if (!v.is_integer())
        bad_format("metadata key '" + std::string(key) + "' has type " + value_type_name(v.type) +
                   ", expected an integer");
    const bool fits = v.is_signed() ? (v.i64 >= 0 && v.i64 <= UINT32_MAX) : v.u64 <= UINT32_MAX;
    if (!fits)
        bad_format("metadata key '" + std::string(key) + "' = " + v.to_string() + " (" +
                   value_type_name(v.type) + ") does not fit in UINT32");
    return static_cast<uint32_t>(v.u64);
}

float File::to_f32(std::string_view key, const Value &v) const {
    if (v.type != ValueType::FLOAT32 && v.type != ValueType::FLOAT64)
        bad_format("metadata key '" + std::string(key) + "' has type " + value_type_name(v.type) +
                   ", expected FLOAT32 or FLOAT64");
    return static_cast<float>(v.f64);
}

bool File::to_bool(std::string_view key, const Value &v) const {
    if (v.type != ValueType::BOOL)
        bad_format("metadata key '" + std::string(key) + "' has type " + value_type_name(v.type) +
                   ", expected BOOL");
    return v.b;
}

std::string File::to_str(std::string_view key, const Value &v) const {
    if (v.type != ValueType::STRING)
        bad_format("metadata key '" + std::string(key) + "' has type " + value_type_name(v.type) +
                   ", expected STRING");
    return v.str;
}

uint32_t File::get_u32(std::string_view key) const { return to_u32(key, require(key)); }
uint32_t File::get_u32(std::string_view key, uint32_t def) const {
    const Value *v = find(key);
    return v ? to_u32(key, *v) : def;
}
float File::get_f32(std::string_view key) const { return to_f32(key, require(key)); }
float File::get_f32(std::string_view key, float def) const {
    const Value *v = find(key);
    return v ? to_f32(key, *v) : def;
}
bool File::get_bool(std::string_view key, bool def) const {
    const Value *v = find(key);
    return v ? to_bool(key, *v) : def;
}
std::string File::get_string(std::string_view key) const { return to_str(key, require(key)); }
std::string File::get_string(std::string_view key, const std::string &def) const {
    const Value *v = find(key);
    return v ? to_str(key, *v) : def;
}

}  // namespace bitnet::gguf
