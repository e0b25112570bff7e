#include "core/absent_keys.h"

#include "core/cache_rules.h"
#include "core/key_hash.h"

namespace cv::core {

void AbsentKeys::HashSet::insert(std::uint64_t h) {
    if ((count_ + 1) * 2 > slots_.size()) {
        std::vector<std::uint64_t> old(slots_.empty() ? 64 : slots_.size() * 2, 0);
        old.swap(slots_);
        count_ = 0;
        for (std::uint64_t k : old)
            if (k != 0) insert(k);
    }
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = h & mask;; i = (i + 1) & mask) {
        if (slots_[i] == h) return;
        if (slots_[i] == 0) {
            slots_[i] = h;
            ++count_;
            return;
        }
    }
}

bool AbsentKeys::HashSet::contains(std::uint64_t h) const {
    if (slots_.empty()) return false;
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = h & mask;; i = (i + 1) & mask) {
        if (slots_[i] == h) return true;
        if (slots_[i] == 0) return false;
    }
}

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
