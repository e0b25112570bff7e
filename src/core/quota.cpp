#include "core/quota.h"

#include "core/error.h"

#include <algorithm>

namespace cv::core {

void check_monthly_quota(std::int64_t quota, std::int64_t used, std::int64_t needed,
                         const std::string& server_name) {
    if (quota <= 0 || needed <= 0) return;
    const std::int64_t remaining = std::max<std::int64_t>(0, quota - used);
    if (needed <= remaining) return;
    throw Error(ErrorKind::QuotaExceeded,
                "this needs " + std::to_string(needed) + (needed == 1 ? " lookup" : " lookups") +
                    " but only " + std::to_string(remaining) + " of the monthly quota of " +
                    std::to_string(quota) + " remain on server \"" + server_name + "\"",
                "Nothing was sent. Raise monthly_lookup_quota, verify fewer records, or wait for "
                "the quota to reset on the 1st (UTC).",
                std::to_string(used) + " lookups were counted this month.");
}

}  // namespace cv::core
