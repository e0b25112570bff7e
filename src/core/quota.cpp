#include "core/quota.h"

#include "core/error.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

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

std::int32_t utc_month(std::int64_t unix_seconds) {
    const std::time_t t = static_cast<std::time_t>(unix_seconds);
    std::tm utc{};
    gmtime_r(&t, &utc);
    return (utc.tm_year + 1900) * 12 + utc.tm_mon + 1;
}

std::string month_label(std::int32_t month) {
    const std::int32_t year = (month - 1) / 12;
    const std::int32_t in_year = (month - 1) % 12 + 1;
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04d-%02d", static_cast<int>(year), static_cast<int>(in_year));
    return buf;
}

std::optional<std::int32_t> parse_month_label(const std::string& label) {
    if (label.size() != 7 || label[4] != '-') return std::nullopt;
    std::int32_t year = 0, in_year = 0;
    for (std::size_t i = 0; i < 7; ++i) {
        if (i == 4) continue;
        if (label[i] < '0' || label[i] > '9') return std::nullopt;
        std::int32_t& part = i < 4 ? year : in_year;
        part = part * 10 + (label[i] - '0');
    }
    if (year < 1 || in_year < 1 || in_year > 12) return std::nullopt;
    return year * 12 + in_year;
}

}  // namespace cv::core
