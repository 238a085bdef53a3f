// Loading of the shared reference outputs (../shared/fixtures/reference, README "JSON format").
#pragma once

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "fixtures.h"

namespace bitnet::test {

struct RefPosition {
    int32_t token = 0;
    int32_t argmax = 0;
    double top2_gap = -1.0;  // exact references only
    std::vector<std::pair<int32_t, float>> top8;
};

struct Reference {
    std::string model, prompt;
    std::vector<int32_t> token_ids;
    std::vector<RefPosition> positions;         // one per prompt token
    std::vector<int32_t> continuation;          // 24 greedy ids
    std::vector<RefPosition> continuation_steps;  // top8 (and gap) of each continuation step
    std::vector<float> last_logits;             // all logits at the last prompt position
};

inline std::vector<std::pair<int32_t, float>> parse_top8(const nlohmann::json &j) {
    std::vector<std::pair<int32_t, float>> v;
    for (const auto &e : j) v.emplace_back(e[0].get<int32_t>(), e[1].get<float>());
    return v;
}

// dir: "reference" or "reference/exact"; model: "tiny-b158-i2s"; prompt: "fox".
inline Reference load_reference(const std::string &dir, const std::string &model,
                                const std::string &prompt) {
    Reference r;
    r.model = model;
    r.prompt = prompt;
    const std::string base = fixture(dir + "/" + model + "." + prompt);
    std::ifstream in(base + ".json");
    nlohmann::json j = nlohmann::json::parse(in);
    r.token_ids = j["token_ids"].get<std::vector<int32_t>>();
    for (const auto &p : j["positions"]) {
        RefPosition rp;
        rp.token = p["token"].get<int32_t>();
        rp.argmax = p["argmax"].get<int32_t>();
        if (p.contains("top2_gap")) rp.top2_gap = p["top2_gap"].get<double>();
        rp.top8 = parse_top8(p["top8"]);
        r.positions.push_back(std::move(rp));
    }
    r.continuation = j["greedy_continuation"].get<std::vector<int32_t>>();
    const auto &steps = j["greedy_continuation_top8"];
    for (size_t i = 0; i < steps.size(); ++i) {
        RefPosition rp;
        rp.top8 = parse_top8(steps[i]);
        rp.argmax = rp.top8.front().first;
        if (j.contains("greedy_continuation_top2_gap")) {
            rp.top2_gap = j["greedy_continuation_top2_gap"][i].get<double>();
        }
        r.continuation_steps.push_back(std::move(rp));
    }
    std::FILE *f = std::fopen((base + ".last.f32").c_str(), "rb");
    if (f) {
        r.last_logits.resize((size_t)j["n_vocab"].get<int>());
        const size_t got = std::fread(r.last_logits.data(), 4, r.last_logits.size(), f);
        std::fclose(f);
        if (got != r.last_logits.size()) r.last_logits.clear();
    }
    return r;
}

}  // namespace bitnet::test
