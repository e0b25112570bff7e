// What the simulator saw, for tests to prove what the extension sent.
#pragma once

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace cvsim {

class Counters {
public:
    using Steady = std::chrono::steady_clock;

    void call(const std::string& endpoint) {
        std::lock_guard<std::mutex> lock(mu_);
        ++calls_[endpoint];
    }
    void enter() {
        std::lock_guard<std::mutex> lock(mu_);
        ++in_flight_;
        max_in_flight_ = std::max(max_in_flight_, in_flight_);
    }
    void leave() {
        std::lock_guard<std::mutex> lock(mu_);
        --in_flight_;
    }
    std::int64_t in_flight() const {
        std::lock_guard<std::mutex> lock(mu_);
        return in_flight_;
    }
    void rate_limited() { bump(rate_limited_); }
    void unauthorized() { bump(unauthorized_); }
    void fault(const std::string& mode) {
        std::lock_guard<std::mutex> lock(mu_);
        ++faults_[mode];
    }
    void lookup(const std::string& key, const std::string& month) {
        std::lock_guard<std::mutex> lock(mu_);
        ++lookups_;
        ++per_license_[key];
        ++monthly_[month];
    }
    void accepted_batch(std::size_t size) {
        std::lock_guard<std::mutex> lock(mu_);
        batch_sizes_.push_back(size);
        batch_starts_ms_.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       Steady::now().time_since_epoch())
                                       .count());
    }
    void webhook(const std::string& what) {
        std::lock_guard<std::mutex> lock(mu_);
        ++webhooks_[what];
    }

    void reset() {
        std::lock_guard<std::mutex> lock(mu_);
        calls_.clear();
        faults_.clear();
        per_license_.clear();
        monthly_.clear();
        webhooks_.clear();
        batch_sizes_.clear();
        batch_starts_ms_.clear();
        lookups_ = rate_limited_ = unauthorized_ = 0;
        max_in_flight_ = in_flight_;
    }

    nlohmann::json to_json(std::chrono::milliseconds window) const {
        std::lock_guard<std::mutex> lock(mu_);
        nlohmann::json calls = nlohmann::json::object();
        std::int64_t total = 0;
        for (const auto& [k, v] : calls_) {
            calls[k] = v;
            total += v;
        }
        for (const char* k : {"verify", "batch", "batch_async"})
            if (!calls.contains(k)) calls[k] = 0;
        calls["total"] = total;
        return {{"calls", calls},
                {"lookups", lookups_},
                {"lookups_by_month", monthly_},
                {"rate_limited", rate_limited_},
                {"unauthorized", unauthorized_},
                {"faults_fired", faults_},
                {"in_flight", in_flight_},
                {"max_in_flight", max_in_flight_},
                {"per_license", per_license_},
                {"batch_sizes", batch_sizes_},
                {"max_batch_calls_in_window", max_in_window(window)},
                {"batch_call_offsets_ms", offsets()},
                {"webhooks", webhooks_}};
    }

private:
    void bump(std::int64_t& v) {
        std::lock_guard<std::mutex> lock(mu_);
        ++v;
    }

    // When each accepted batch call arrived, in ms after the first.
    std::vector<std::int64_t> offsets() const {
        std::vector<std::int64_t> t = batch_starts_ms_;
        std::sort(t.begin(), t.end());
        const std::int64_t first = t.empty() ? 0 : t.front();
        for (auto& x : t) x -= first;
        return t;
    }

    // Most accepted batch calls that started within any window-long interval.
    std::int64_t max_in_window(std::chrono::milliseconds window) const {
        std::vector<std::int64_t> t = batch_starts_ms_;
        std::sort(t.begin(), t.end());
        std::size_t best = 0, lo = 0;
        for (std::size_t hi = 0; hi < t.size(); ++hi) {
            while (t[hi] - t[lo] >= window.count()) ++lo;
            best = std::max(best, hi - lo + 1);
        }
        return static_cast<std::int64_t>(best);
    }

    mutable std::mutex mu_;
    std::map<std::string, std::int64_t> calls_, faults_, per_license_, monthly_, webhooks_;
    std::vector<std::size_t> batch_sizes_;
    std::vector<std::int64_t> batch_starts_ms_;
    std::int64_t lookups_ = 0, rate_limited_ = 0, unauthorized_ = 0;
    std::int64_t in_flight_ = 0, max_in_flight_ = 0;
};

// Marks a call in flight for its lifetime.
class InFlight {
public:
    explicit InFlight(Counters& c) : c_(c) { c_.enter(); }
    ~InFlight() { c_.leave(); }
    InFlight(const InFlight&) = delete;
    InFlight& operator=(const InFlight&) = delete;

private:
    Counters& c_;
};

}  // namespace cvsim
