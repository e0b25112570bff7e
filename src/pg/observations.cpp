#include "pg/observations.h"

#include "core/freshness.h"

#include "pg/runtime.h"

namespace cv::pg {

void schedule(core::Observation& answer, const core::ServerSettings& settings) {
    answer.ttl_ms = core::cache_ttl_ms(answer, settings);
    if (answer.outcome == core::outcome::kStateTimeout)
        answer.retry_at_ms =
            answer.observed_at_ms +
            core::state_timeout_retry_delay_ms(backend_call_hooks().random01());
}

}  // namespace cv::pg
