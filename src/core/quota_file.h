// The format of the file that keeps each API account's monthly lookup count
// across server restarts and crashes (the pg zone reads and writes it):
//
//   contractor_verify monthly lookup counts 1
//   2026-12 0f3a9c71d2e4b805 1250        month (UTC), account hash, lookups
//   end 1 5e0c2a7d9b13f468                entries, checksum of the lines above
//
// An account is the hash of its URL and API key (core/key_hash), never the
// key itself. The end line makes a truncated file, and its checksum a
// garbled one, detectable: such a file is refused as a whole.
#pragma once
#include "core/no_postgres.h"

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace cv::core {

struct QuotaCount {
    std::uint64_t account = 0;
    std::int32_t month = 0;  // core/quota.h: utc_month
    std::int64_t used = 0;
};

// What is wrong with a file decode_quota_counts refused.
class QuotaFileInvalid : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The file's text, entries ordered by month and account.
std::string encode_quota_counts(std::vector<QuotaCount> counts);

// The entries of a file's text. Throws QuotaFileInvalid when anything in it
// is not exactly what encode_quota_counts writes (truncated, garbled, an
// unknown version, an account listed twice for a month).
std::vector<QuotaCount> decode_quota_counts(const std::string& text);

// What to write for `month`: per account the larger of the two counts (a
// month's count only grows), accounts with nothing charged and every other
// month left out; ordered by account.
std::vector<QuotaCount> merge_quota_counts(const std::vector<QuotaCount>& a,
                                           const std::vector<QuotaCount>& b, std::int32_t month);

// An account's count for a month (0 when not listed).
std::int64_t quota_count_of(const std::vector<QuotaCount>& counts, std::uint64_t account,
                            std::int32_t month);

}  // namespace cv::core
