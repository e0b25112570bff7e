#pragma once
#include "core/no_postgres.h"

#include <chrono>

namespace cv::core {

// Exponential backoff with jitter: the ceiling doubles per attempt from base
// up to max, and the delay is drawn uniformly from [ceiling/2, ceiling] so
// that many clients retrying together spread out. unit_random is in [0, 1).
std::chrono::milliseconds backoff_delay(int attempt, std::chrono::milliseconds base,
                                        std::chrono::milliseconds max, double unit_random);

}  // namespace cv::core
