// The licenses a caller found no cache row for when it looked them up. Their
// answers can be written with a plain INSERT, without looking for a row
// first. A hint, never a promise: another session may have recorded one of
// them since, and the writer falls back to its upsert when it meets the row.
#pragma once
#include "core/no_postgres.h"

#include <cstdint>
#include <string>
#include <vector>

#include "core/key_set.h"
#include "core/observation.h"

namespace cv::core {

class AbsentKeys {
public:
    // What the caller's look-up of (state, license_number) found. A license
    // a look-up ever found a row for is no longer known to be absent.
    void note(const std::string& state, const std::string& license_number, bool found);

    // Whether no cache row was seen for any license the observations answer
    // (false when one was seen or never looked up; true when they answer none).
    bool all_absent(const std::vector<Observation>& observations) const;

private:
    KeySet absent_, seen_;  // of key_hash(state, license_number)
};

}  // namespace cv::core
