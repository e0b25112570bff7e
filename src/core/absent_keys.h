// The licenses a caller found no cache row for when it looked them up. Their
// answers can be written with a plain INSERT, without looking for a row
// first. A hint, never a promise: another session may have recorded one of
// them since, and the writer falls back to its upsert when it meets the row.
#pragma once
#include "core/no_postgres.h"

#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

#include "core/observation.h"

namespace cv::core {

class AbsentKeys {
public:
    // What the caller's look-up of (state, license_number) found.
    void note(const std::string& state, const std::string& license_number, bool found);

    // Whether no cache row was seen for any license the observations answer
    // (false when one was seen or never looked up; true when they answer none).
    bool all_absent(const std::vector<Observation>& observations) const;

    std::size_t size() const { return keys_.size(); }

private:
    std::unordered_set<std::uint64_t> keys_;
};

}  // namespace cv::core
