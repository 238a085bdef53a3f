// Writes the seed corpora of the fuzz harnesses: make_seeds <dir> creates <dir>/fuzz_gguf,
// <dir>/fuzz_tokenizer, <dir>/fuzz_chat_sampling (see seeds.h) and <dir>/fuzz_server_request
// (server_request_target.h).
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "fuzz_convert_targets.h"
#include "seeds.h"
#include "server_request_target.h"

namespace {

std::vector<bitnet::fuzz::Seed> server_request_seed_files() {
    std::vector<bitnet::fuzz::Seed> out;
    int i = 0;
    for (const std::string &body : bitnet_serve::fuzz::server_request_seeds()) {
        out.push_back({"request-" + std::to_string(i++) + ".json",
                       std::vector<uint8_t>(body.begin(), body.end())});
    }
    return out;
}

}  // namespace

int main(int argc, char **argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
        return 2;
    }
    namespace fs = std::filesystem;
    const std::pair<const char *, std::vector<bitnet::fuzz::Seed>> sets[] = {
        {"fuzz_gguf", bitnet::fuzz::gguf_seeds()},
        {"fuzz_tokenizer", bitnet::fuzz::tokenizer_seeds()},
        {"fuzz_chat_sampling", bitnet::fuzz::chat_sampling_seeds()},
        {"fuzz_safetensors", bitnet::fuzz::safetensors_seeds()},
        {"fuzz_server_request", server_request_seed_files()},
    };
    for (const auto &[name, seeds] : sets) {
        const fs::path dir = fs::path(argv[1]) / name;
        fs::create_directories(dir);
        size_t bytes = 0;
        for (const auto &[file, data] : seeds) {
            std::ofstream f(dir / file, std::ios::binary);
            f.write(reinterpret_cast<const char *>(data.data()), (std::streamsize)data.size());
            if (!f) {
                std::fprintf(stderr, "cannot write %s\n", (dir / file).c_str());
                return 1;
            }
            bytes += data.size();
        }
        std::printf("%s: %zu seeds, %zu bytes\n", dir.c_str(), seeds.size(), bytes);
    }
    return 0;
}
