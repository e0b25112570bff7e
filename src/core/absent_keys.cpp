#include "core/absent_keys.h"

#include "core/cache_rules.h"
#include "core/key_hash.h"

namespace cv::core {

void AbsentKeys::note(const std::string& state, const std::string& license_number, bool found) {
    (found ? seen_ : absent_).insert(key_hash({&state, &license_number}));
}

bool AbsentKeys::all_absent(const std::vector<Observation>& observations) const {
    for (const Observation& o : observations) {
        if (o.attempt_only) continue;
        const auto number = cache_license_number(o);
        if (!number) continue;
        const std::uint64_t h = key_hash({&o.state, &*number});
        if (!absent_.contains(h) || seen_.contains(h)) return false;
    }
    return true;
}

}  // namespace cv::core
