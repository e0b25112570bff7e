#include "core/absent_keys.h"

#include "core/cache_rules.h"
#include "core/key_hash.h"

namespace cv::core {

void AbsentKeys::note(const std::string& state, const std::string& license_number, bool found) {
    const std::uint64_t h = key_hash({&state, &license_number});
    if (found)
        keys_.erase(h);
    else
        keys_.insert(h);
}

bool AbsentKeys::all_absent(const std::vector<Observation>& observations) const {
    for (const Observation& o : observations) {
        if (o.attempt_only) continue;
        const auto number = cache_license_number(o);
        if (!number) continue;
        if (keys_.count(key_hash({&o.state, &*number})) == 0) return false;
    }
    return true;
}

}  // namespace cv::core
