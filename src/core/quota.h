#pragma once
#include "core/no_postgres.h"

#include <cstdint>
#include <string>

namespace cv::core {

// Throws Error(QuotaExceeded) when `needed` lookups would cross a monthly
// quota of which `used` are spent (quota 0: no cap), saying how many are
// needed and how many remain.
void check_monthly_quota(std::int64_t quota, std::int64_t used, std::int64_t needed,
                         const std::string& server_name);

}  // namespace cv::core
