#include "core/freshness.h"

namespace cv::core {

std::optional<std::int64_t> cache_ttl_ms(const Observation& obs, const ServerSettings& s) {
    if (obs.verified() && obs.record) {
        const bool clean =
            obs.record->license_status == "ACTIVE" && !obs.record->has_disciplinary_actions();
        return (clean ? s.cache_ttl : s.cache_ttl_flagged).count();
    }
    if (obs.outcome == outcome::kNotFound || obs.outcome == outcome::kInvalidStateFormat) {
        if (obs.license_number.empty()) return std::nullopt;  // name lookups are not cached
        return s.cache_ttl_not_found.count();
    }
    return std::nullopt;
}

}  // namespace cv::core

namespace cv::core {

std::int64_t state_timeout_retry_delay_ms(double unit_random) {
    constexpr std::int64_t kHour = 3600 * 1000;
    const double r = unit_random < 0 ? 0 : unit_random > 1 ? 1 : unit_random;
    return 4 * kHour + static_cast<std::int64_t>(r * 2 * kHour);
}

}  // namespace cv::core

namespace cv::core {

void schedule_observation(Observation& answer, const ServerSettings& settings, double unit_random) {
    answer.ttl_ms = cache_ttl_ms(answer, settings);
    if (answer.outcome == outcome::kStateTimeout)
        answer.retry_at_ms = answer.observed_at_ms + state_timeout_retry_delay_ms(unit_random);
}

}  // namespace cv::core
