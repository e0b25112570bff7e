#pragma once
#include "core/no_postgres.h"

#include <cstdint>
#include <optional>
#include <string>

namespace cv::core {

// Throws Error(QuotaExceeded) when `needed` lookups would cross a monthly
// quota of which `used` are spent (quota 0: no cap), saying how many are
// needed and how many remain.
void check_monthly_quota(std::int64_t quota, std::int64_t used, std::int64_t needed,
                         const std::string& server_name);

// The quota's months are calendar months in UTC, numbered year * 12 + month
// (1..12): consecutive months differ by one, and 0 is no month.
std::int32_t utc_month(std::int64_t unix_seconds);

// "YYYY-MM" for a month number, and back; nullopt for anything else
// (including years outside 1..9999).
std::string month_label(std::int32_t month);
std::optional<std::int32_t> parse_month_label(const std::string& label);

}  // namespace cv::core
