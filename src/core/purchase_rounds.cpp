#include "core/purchase_rounds.h"

#include <algorithm>

namespace cv::core {

PurchaseRounds::PurchaseRounds(std::int64_t misses, int batch_size, int max_concurrent_calls)
    : remaining_(std::max<std::int64_t>(misses, 0)),
      batch_size_(std::max(batch_size, 1)),
      max_calls_(std::max(max_concurrent_calls, 1)) {}

std::int64_t PurchaseRounds::next() {
    const std::int64_t n = std::min(remaining_, calls_ * batch_size_);
    remaining_ -= n;
    calls_ = std::min(calls_ * 2, max_calls_);
    return n;
}

}  // namespace cv::core
