#include "core/key_plan.h"

#include "core/normalize.h"

#include <cmath>
#include <optional>

namespace cv::core {

std::int64_t KeyPlanner::add(const std::string& state, const std::string& value, KeyKind kind,
                             bool by_business_name) {
    ++added_;
    by_business_name = by_business_name && kind == KeyKind::Name;
    std::string raw;
    raw.reserve(state.size() + value.size() + 3);
    raw.append(kind == KeyKind::License ? "L" : "N")
        .append(std::to_string(state.size()))
        .append(":");
    raw.append(state).append(value);
    if (auto it = row_of_.find(raw); it != row_of_.end()) {
        if (it->second < 0)
            ++unmatchable_;
        else if (by_business_name)
            rows_[static_cast<std::size_t>(it->second)].by_business_name = true;
        return it->second;
    }
    const NormalizedInput n = kind == KeyKind::License
                                  ? normalize_input(std::nullopt, state, value, std::nullopt)
                                  : normalize_input(std::nullopt, state, std::nullopt, value);
    KeyRow row;
    row.kind = kind;
    row.state = state;
    row.value = value;
    row.by_business_name = by_business_name;
    if (!n.error.empty()) {
        row.error = n.error;
    } else if (n.state != state || (kind == KeyKind::License && n.license_number != value)) {
        ++unmatchable_;
        row_of_.emplace(std::move(raw), -1);
        return -1;
    } else {
        auto [it, inserted] = lookup_of_.emplace(n.key, static_cast<std::int64_t>(lookups_.size()));
        if (inserted) {
            lookups_.push_back(
                {std::to_string(lookups_.size() + 1), n.state, n.license_number, n.name});
            lookup_keys_.push_back(n.key);
        }
        row.lookup = it->second;
    }
    const auto index = static_cast<std::int64_t>(rows_.size());
    rows_.push_back(std::move(row));
    row_of_.emplace(std::move(raw), index);
    return index;
}

std::int64_t calls_needed(std::int64_t misses, int batch_size) {
    if (misses <= 0) return 0;
    const std::int64_t size = batch_size > 0 ? batch_size : 1;
    return (misses + size - 1) / size;
}

double lookup_cost(double keys, double misses, int batch_size) {
    const double size = batch_size > 0 ? batch_size : 1;
    const double calls = misses > 0 ? std::ceil(misses / size) : 0;
    return keys * kProbeCost + misses * kRecordCost + calls * kCallCost;
}

}  // namespace cv::core
