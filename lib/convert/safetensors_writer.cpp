// safetensors writer: see safetensors_writer.h.
#include "convert/safetensors_writer.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>

#include "common/error.h"

namespace bitnet::convert {

void SafetensorsWriter::add(const std::string &name, const std::string &dtype,
                            const std::vector<uint64_t> &shape, uint64_t nbytes, Producer produce) {
    entries_.push_back({name, dtype, shape, nbytes, std::move(produce)});
}

void SafetensorsWriter::add_bytes(const std::string &name, const std::string &dtype,
                                  const std::vector<uint64_t> &shape, std::vector<uint8_t> data) {
    auto d = std::make_shared<std::vector<uint8_t>>(std::move(data));
    add(name, dtype, shape, d->size(), [d](const Sink &s) { s(d->data(), d->size()); });
}

std::string SafetensorsWriter::header() const {
    nlohmann::ordered_json h;
    h["__metadata__"] = {{"format", "pt"}};
    uint64_t off = 0;
    for (const Entry &e : entries_) {
        h[e.name] = {{"dtype", e.dtype}, {"shape", e.shape}, {"data_offsets", {off, off + e.nbytes}}};
        off += e.nbytes;
    }
    return h.dump();
}

void SafetensorsWriter::serialize(const Sink &out) const {
    std::string h = header();
    while (h.size() % 8 != 0) h += ' ';
    uint8_t len[8];
    for (int i = 0; i < 8; ++i) len[i] = (uint8_t)((uint64_t)h.size() >> (8 * i));
    out(len, 8);
    out(h.data(), h.size());
    for (const Entry &e : entries_) {
        uint64_t n = 0;
        e.produce([&](const void *p, size_t k) {
            n += k;
            out(p, k);
        });
        if (n != e.nbytes)
            fail(BITNET_ERR_INTERNAL, "safetensors writer: tensor '" + e.name + "' produced " +
                                          std::to_string(n) + " bytes, declared " + std::to_string(e.nbytes));
    }
}

void SafetensorsWriter::write(const std::string &path) const {
    std::FILE *f = std::fopen(path.c_str(), "wb");
    if (!f) fail(BITNET_ERR_IO, path + ": cannot create: " + std::strerror(errno));
    try {
        std::setvbuf(f, nullptr, _IOFBF, 1 << 20);
        serialize([&](const void *p, size_t n) {
            if (std::fwrite(p, 1, n, f) != n) fail(BITNET_ERR_IO, path + ": write failed");
        });
    } catch (...) {
        std::fclose(f);
        throw;
    }
    if (std::fclose(f) != 0) fail(BITNET_ERR_IO, path + ": write failed");
}

std::vector<uint8_t> SafetensorsWriter::to_bytes() const {
    std::vector<uint8_t> v;
    serialize([&](const void *p, size_t n) {
        v.insert(v.end(), static_cast<const uint8_t *>(p), static_cast<const uint8_t *>(p) + n);
    });
    return v;
}

}  // namespace bitnet::convert
