// Single flight: a lookup of a (state, license_number) that any backend of
// the cluster is buying right now is waited for instead of bought again. A
// claim lives in shared memory from the moment a backend decides to buy until
// the worker has recorded the answer (or the backend gives up without one).
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "pg/pg_headers.h"

namespace cv::pg {

class InflightClaims {
public:
    explicit InflightClaims(std::string api_url);
    // Releases what this statement still holds: claims not handed over, and
    // handed ones already recorded. A claim handed to the worker but not yet
    // recorded stays, so a rerun after a cancel waits for that answer.
    ~InflightClaims();
    InflightClaims(const InflightClaims&) = delete;
    InflightClaims& operator=(const InflightClaims&) = delete;

    enum class Claim {
        Mine,       // buy it
        Busy,       // another backend is buying it: wait, then read the cache
        Untracked,  // no shared memory (or the table is full): buy it without single flight
    };
    Claim claim(const std::string& state, const std::string& license_number);

    // Whether another backend holds it, or its answer is with the worker and
    // not recorded yet.
    bool busy(const std::string& state, const std::string& license_number);

    // The answers for these (state, license_number) are with the worker as
    // `ticket`: their claims hold until it is recorded.
    void handed_over(const std::set<std::pair<std::string, std::string>>& licenses, std::uint64_t ticket);

    // Given up without an answer to wait for.
    void release(const std::string& state, const std::string& license_number);
    void release_all() noexcept;

private:
    std::uint64_t key(const std::string& state, const std::string& license_number) const;

    std::string api_url_;
    std::unordered_set<std::uint64_t> mine_;
    std::unordered_map<std::uint64_t, std::uint64_t> handed_;  // key -> ticket
};

}  // namespace cv::pg
