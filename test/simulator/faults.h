// Fault injection for the next N calls of an endpoint.
#pragma once

#include <nlohmann/json.hpp>

#include <deque>
#include <mutex>
#include <optional>
#include <string>

namespace cvsim {

// Modes: "status" (any HTTP status; "http500", "http503", "http429" are
// shorthands), "malformed_json", "truncated", "reset", "hang", "oversized",
// "missing_ids", "shuffled", "extra_id", "slow", "echo_text" (`text` in every
// error message of the answer and in a "detail" of its own).
struct Fault {
    std::string mode;
    std::string endpoint = "any";  // "verify", "batch" or "any"
    int status = 500;
    int retry_after = 1;      // http429
    int ms = 60000;           // hang / slow
    int drop = 1;             // missing_ids
    std::size_t bytes = 32u << 20;  // oversized
    std::string text;               // echo_text
};

bool known_fault_mode(const std::string& mode);

class FaultQueue {
public:
    void push(const Fault& f, int count) {
        std::lock_guard<std::mutex> lock(mu_);
        for (int i = 0; i < count; ++i) queue_.push_back(f);
    }
    std::optional<Fault> take(const std::string& endpoint) {
        std::lock_guard<std::mutex> lock(mu_);
        for (auto it = queue_.begin(); it != queue_.end(); ++it) {
            if (it->endpoint == "any" || it->endpoint == endpoint) {
                Fault f = *it;
                queue_.erase(it);
                return f;
            }
        }
        return std::nullopt;
    }
    void clear() {
        std::lock_guard<std::mutex> lock(mu_);
        queue_.clear();
    }
    std::size_t pending() const {
        std::lock_guard<std::mutex> lock(mu_);
        return queue_.size();
    }

private:
    mutable std::mutex mu_;
    std::deque<Fault> queue_;
};

}  // namespace cvsim
