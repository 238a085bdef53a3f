// Writes safetensors files (tests, the HF checkpoint generator): header JSON with
// {dtype, shape, data_offsets} per tensor in the order added plus __metadata__
// {"format": "pt"}, padded with spaces to a multiple of 8 as the reference writer does, then
// the data, streamed tensor by tensor.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace bitnet::convert {

class SafetensorsWriter {
public:
    using Sink = std::function<void(const void *data, size_t n)>;
    using Producer = std::function<void(const Sink &sink)>;  // exactly nbytes in total

    void add(const std::string &name, const std::string &dtype, const std::vector<uint64_t> &shape,
             uint64_t nbytes, Producer produce);
    void add_bytes(const std::string &name, const std::string &dtype,
                   const std::vector<uint64_t> &shape, std::vector<uint8_t> data);
    std::string header() const;  // the JSON, unpadded
    void write(const std::string &path) const;     // IO error on failure
    std::vector<uint8_t> to_bytes() const;

private:
    struct Entry {
        std::string name, dtype;
        std::vector<uint64_t> shape;
        uint64_t nbytes;
        Producer produce;
    };
    void serialize(const Sink &out) const;
    std::vector<Entry> entries_;
};

}  // namespace bitnet::convert
