#include "core/cache_rules.h"

#include "core/error.h"
#include "core/normalize.h"

namespace cv::core {

namespace {

bool is_cacheable_error(const Observation& o) {
    return !o.verified() && o.ttl_ms.has_value() &&
           (o.outcome == outcome::kNotFound || o.outcome == outcome::kInvalidStateFormat);
}

// The row an answer becomes.
CacheHead answer_head(const Observation& o) {
    CacheHead h;
    h.exists = true;
    h.outcome = o.outcome;
    h.fetched_at_ms = o.observed_at_ms;
    h.expires_at_ms = o.observed_at_ms + o.ttl_ms.value_or(0);
    if (o.verified() && o.record) {
        h.license_status = o.record->license_status;
        h.has_disciplinary_actions = o.record->has_disciplinary_actions();
    }
    h.attempt.last_attempt_at_ms = o.observed_at_ms;
    if (!o.verified()) {
        h.attempt.last_error_code = o.outcome;
        h.attempt.last_error_message = o.error_message;
    }
    // A person has to look: the license may be gone, or the number is not
    // the state's format (re-asking will not help).
    if (o.outcome == outcome::kNotFound || o.outcome == outcome::kInvalidStateFormat) {
        h.attempt.needs_review = true;
        h.attempt.review_reason = o.outcome;
    }
    return h;
}

}  // namespace

// The reading server's TTL for the answer a row holds.
std::int64_t reader_ttl_ms(const CacheHead& head, const ServerSettings& s) {
    if (head.outcome == outcome::kVerified) {
        const bool clean = head.license_status == "ACTIVE" && !head.has_disciplinary_actions;
        return (clean ? s.cache_ttl : s.cache_ttl_flagged).count();
    }
    return s.cache_ttl_not_found.count();
}

CacheVerdict classify_cached(const CacheHead& head, std::int64_t now_ms,
                             const ServerSettings& reader, std::optional<std::int64_t> max_age_ms,
                             std::optional<std::int64_t> answered_since_ms) {
    if (!head.exists) return CacheVerdict::Miss;
    if (answered_since_ms) {
        // Strictly after: an answer from the very millisecond the lookup
        // began may be the one it means to replace.
        if (head.answered() && head.fetched_at_ms && *head.fetched_at_ms > *answered_since_ms)
            return CacheVerdict::Fresh;
        if (head.attempt.last_error_code == outcome::kStateTimeout && head.attempt.last_attempt_at_ms &&
            *head.attempt.last_attempt_at_ms > *answered_since_ms)
            return CacheVerdict::TimeoutPending;
    }
    if (max_age_ms && *max_age_ms <= 0) return CacheVerdict::Miss;
    if (head.answered() && head.expires_at_ms && *head.expires_at_ms > now_ms && head.fetched_at_ms &&
        *head.fetched_at_ms + reader_ttl_ms(head, reader) > now_ms &&
        (!max_age_ms || (head.fetched_at_ms && *head.fetched_at_ms > now_ms - *max_age_ms)))
        return CacheVerdict::Fresh;
    if (head.attempt.last_error_code == outcome::kStateTimeout && head.attempt.next_attempt_at_ms &&
        *head.attempt.next_attempt_at_ms > now_ms)
        return CacheVerdict::TimeoutPending;
    return CacheVerdict::Miss;
}

std::optional<std::string> cache_license_number(const Observation& o) {
    if (!o.license_number.empty()) return o.license_number;
    if (!o.verified() || !o.record || o.record->license_number.empty()) return std::nullopt;
    try {
        return normalize_license_number(o.record->license_number);
    } catch (const Error&) {
        return std::nullopt;  // a number no lookup could ask for again
    }
}

CacheUpdate fold_observations(const CacheHead& before, const std::vector<const Observation*>& in_order,
                              int timeouts_before_review) {
    CacheUpdate u;
    u.after = before;
    CacheHead& row = u.after;
    for (const Observation* p : in_order) {
        const Observation& o = *p;
        if (o.attempt_only) continue;
        const bool newer = !row.fetched_at_ms || *row.fetched_at_ms <= o.observed_at_ms;
        if (o.verified() && o.record) {
            if (!newer) continue;
            row = answer_head(o);
            u.kind = CacheUpdate::Kind::Replace;
            u.answer = &o;
        } else if (is_cacheable_error(o)) {
            if (row.outcome == outcome::kVerified) {
                // Known-good data stays; the attempt is noted beside it.
                row.attempt.last_attempt_at_ms = o.observed_at_ms;
                row.attempt.last_error_code = o.outcome;
                row.attempt.last_error_message = o.error_message;
                if (o.outcome == outcome::kNotFound) {
                    row.attempt.needs_review = true;
                    row.attempt.review_reason = "NOT_FOUND after a verified record";
                }
                if (u.kind == CacheUpdate::Kind::None) u.kind = CacheUpdate::Kind::NoteAttempt;
            } else if (newer) {
                row = answer_head(o);
                u.kind = CacheUpdate::Kind::Replace;
                u.answer = &o;
            }
        } else if (o.outcome == outcome::kStateTimeout) {
            row.exists = true;
            row.attempt.last_attempt_at_ms = o.observed_at_ms;
            row.attempt.last_error_code = o.outcome;
            row.attempt.last_error_message = o.error_message;
            row.attempt.consecutive_timeouts += 1;
            row.attempt.next_attempt_at_ms = o.retry_at_ms;
            if (row.attempt.consecutive_timeouts >= timeouts_before_review) {
                row.attempt.needs_review = true;
                row.attempt.review_reason = "STATE_TIMEOUT " +
                                            std::to_string(row.attempt.consecutive_timeouts) +
                                            (row.attempt.consecutive_timeouts == 1 ? " time" : " times in a row");
            }
            if (u.kind == CacheUpdate::Kind::None) u.kind = CacheUpdate::Kind::NoteAttempt;
        }
    }
    u.attempt = row.attempt;
    return u;
}

bool result_from_cache(const CacheHead& row, const Observation& o) {
    return row.answered() && row.fetched_at_ms && *row.fetched_at_ms < o.observed_at_ms;
}

}  // namespace cv::core
