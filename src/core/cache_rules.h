#pragma once
#include "core/no_postgres.h"

#include "core/observation.h"
#include "core/options.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cv::core {

// The attempt bookkeeping a cache row keeps beside its answer.
struct AttemptState {
    std::optional<std::int64_t> last_attempt_at_ms;
    std::string last_error_code;  // empty: the last attempt succeeded
    std::string last_error_message;
    int consecutive_timeouts = 0;
    std::optional<std::int64_t> next_attempt_at_ms;  // STATE_TIMEOUT: not called before then
    bool needs_review = false;
    std::string review_reason;  // empty: none
};

// What the rules need to know of a cache row (license_cache).
struct CacheHead {
    bool exists = false;
    std::string outcome;  // VERIFIED, NOT_FOUND, INVALID_STATE_FORMAT; empty while every attempt failed
    std::optional<std::int64_t> fetched_at_ms;  // when the API gave the answer
    std::optional<std::int64_t> expires_at_ms;  // fresh until then, as its writer's server said
    std::string license_status;                 // of a verified record
    bool has_disciplinary_actions = false;
    AttemptState attempt;

    bool answered() const { return !outcome.empty(); }
};

// How a cached row answers a lookup.
enum class CacheVerdict {
    Miss,            // call the API
    Fresh,           // its answer, no call
    TimeoutPending,  // the state board timed out and the retry is not due: no call, STATE_TIMEOUT
};

// max_age_ms: the caller's limit on the answer's age (nullopt: the TTL alone;
// 0: always call). A STATE_TIMEOUT is not retried before its next attempt is
// due unless max_age is 0. answered_since_ms: an answer (or a timeout) that
// arrived after this moment serves whatever max_age says -- the lookup
// waited for another session buying it.
//
// A row is fresh while both its own expiry (its writer's TTL) and the reading
// server's TTL for such an answer allow: whoever writes a row cannot make
// anyone else trust it longer than they would.
CacheVerdict classify_cached(const CacheHead& head, std::int64_t now_ms,
                             const ServerSettings& reader, std::optional<std::int64_t> max_age_ms,
                             std::optional<std::int64_t> answered_since_ms = std::nullopt);

// The cache key an observation is recorded under: the requested, normalized
// license number (whatever formatting the API echoes); for a name lookup that
// found a record, the record's own number normalized; otherwise none (not cached).
std::optional<std::string> cache_license_number(const Observation& o);

// What recording observations of one license does to its cache row.
struct CacheUpdate {
    enum class Kind {
        None,         // nothing to write
        Replace,      // the row becomes `answer` (a verified record or a cacheable error)
        NoteAttempt,  // keep the answer the row holds; write the attempt columns only
    };
    Kind kind = Kind::None;
    const Observation* answer = nullptr;  // Replace: the observation whose answer is the row
    AttemptState attempt;                 // Replace and NoteAttempt: the row's attempt columns
    CacheHead after;                      // the row afterwards
};

// Folds the observations of one license (oldest first) into its row:
//   a verified record replaces what the row holds unless the row holds a newer answer;
//   NOT_FOUND / INVALID_STATE_FORMAT (when cacheable) replace an error or nothing, but
//     beside a verified record only note the attempt (an error never overwrites
//     known-good data) and NOT_FOUND then asks for review;
//   STATE_TIMEOUT counts the timeout, schedules the next attempt and asks for
//     review after `timeouts_before_review` in a row;
//   anything else (MULTIPLE_CANDIDATES, call failures, ...) leaves the row alone.
CacheUpdate fold_observations(const CacheHead& before, const std::vector<const Observation*>& in_order,
                              int timeouts_before_review);

// Whether a result shows the cache's data rather than the observation's own:
// true when the row kept an older answer than the observation (an error beside
// a verified record).
bool result_from_cache(const CacheHead& row, const Observation& o);

}  // namespace cv::core
