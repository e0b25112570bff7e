// The simulator's deterministic synthetic dataset: every well-formed license
// number in the 50 states and DC resolves to the same record (or NOT_FOUND)
// every time, relative to the simulator's "today".
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace cvsim {

using json = nlohmann::json;

enum class OutcomeKind { Found, NotFound, MultipleCandidates, StateTimeout, InvalidFormat, InvalidRequest };

struct Outcome {
    OutcomeKind kind = OutcomeKind::NotFound;
    json record;      // canonical record (Found)
    json candidates;  // MultipleCandidates
    std::string detail;
    std::string lookup_key;  // "CA:1052183" or "WA:name:pacific northwest roofing"
    bool slow_board = false;
};

const char* error_code(OutcomeKind kind);
int http_status(OutcomeKind kind);

class Dataset {
public:
    explicit Dataset(std::int64_t today_days) : today_(today_days) {}

    Outcome by_license(const std::string& state, const std::string& license) const;
    Outcome by_name(const std::string& state, const std::string& name) const;

    // Overrides: a JSON object merged into the record, or {"outcome": "NOT_FOUND" |
    // "STATE_TIMEOUT" | "INVALID_STATE_FORMAT" | "FOUND"} to force an outcome.
    void set_override(const std::string& state, const std::string& license, const json& patch);
    void clear_overrides();
    std::int64_t today() const { return today_; }

    static bool known_state(const std::string& state);
    static bool slow_state(const std::string& state);
    static std::string normalize_name(const std::string& name);

private:
    json generate(const std::string& state, const std::string& license, std::uint64_t h) const;

    std::int64_t today_;
    mutable std::mutex mu_;
    std::map<std::string, json> overrides_;
};

// Deterministic presentation variants the contract says clients must tolerate:
// status letter case, "license_status" for "status", "classification" and/or
// "classifications", extra fields.
json present_single(const json& record);
json present_batch_item(const json& id, const json& record);

}  // namespace cvsim
