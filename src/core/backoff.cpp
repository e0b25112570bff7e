#include "core/backoff.h"

#include <algorithm>
#include <cstdint>

namespace cv::core {

std::chrono::milliseconds backoff_delay(int attempt, std::chrono::milliseconds base,
                                        std::chrono::milliseconds max, double unit_random) {
    std::int64_t ceiling = std::max<std::int64_t>(base.count(), 1);
    for (int i = 0; i < attempt && ceiling < max.count(); ++i) ceiling *= 2;
    ceiling = std::min<std::int64_t>(ceiling, std::max<std::int64_t>(max.count(), 1));
    const double r = std::clamp(unit_random, 0.0, 1.0);
    const auto half = ceiling / 2;
    return std::chrono::milliseconds(half + static_cast<std::int64_t>(r * static_cast<double>(ceiling - half)));
}

}  // namespace cv::core
