#pragma once
#include "core/no_postgres.h"

#include "core/observation.h"
#include "core/options.h"

#include <optional>

namespace cv::core {

// How long an observation stays fresh in the cache, or nullopt if it must not
// be cached at all:
//   ACTIVE with no disciplinary actions           -> cache_ttl (24h)
//   disciplinary actions, or any other status     -> cache_ttl_flagged (4h)
//   NOT_FOUND, INVALID_STATE_FORMAT (answers about the data, not the moment)
//                                                 -> cache_ttl_not_found (1h)
//   STATE_TIMEOUT, MULTIPLE_CANDIDATES, anything transient -> not cached
std::optional<std::int64_t> cache_ttl_ms(const Observation& obs, const ServerSettings& settings);

}  // namespace cv::core

namespace cv::core {

// STATE_TIMEOUT: the record is retried 4 to 6 hours later (uniform), and
// flagged for manual review after this many timeouts in a row.
inline constexpr int kTimeoutsBeforeReview = 3;
std::int64_t state_timeout_retry_delay_ms(double unit_random);

}  // namespace cv::core

namespace cv::core {

// Sets what the cache needs to know about an answer: how long it stays fresh
// (cache_ttl_ms), and for STATE_TIMEOUT when to try again.
void schedule_observation(Observation& answer, const ServerSettings& settings, double unit_random);

}  // namespace cv::core
