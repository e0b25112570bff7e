#include "core/rate_window.h"

#include <algorithm>
#include <limits>

namespace cv::core {

void start_log_reset(StartLog& log) {
    log.head = 0;
    log.count = 0;
    log.paused_until = std::numeric_limits<std::int64_t>::min();
}

std::int64_t next_start_at(const StartLog& log, int limit, std::int64_t span_ms, std::int64_t now) {
    std::int64_t at = std::max(now, log.paused_until);
    if (limit <= 0) return at;  // no limit of our own; a 429's pause still holds
    limit = std::min(limit, kMaxCallsPerWindow);
    if (log.count >= limit) {
        // The limit-th most recent start must have left the span.
        const int idx = (log.head - limit + kMaxCallsPerWindow) % kMaxCallsPerWindow;
        at = std::max(at, log.starts[idx] + span_ms);
    }
    return at;
}

void record_start(StartLog& log, std::int64_t now) {
    log.starts[log.head] = now;
    log.head = (log.head + 1) % kMaxCallsPerWindow;
    if (log.count < kMaxCallsPerWindow) ++log.count;
}

void pause_until(StartLog& log, std::int64_t until) {
    log.paused_until = std::max(log.paused_until, until);
}

std::int64_t last_start(const StartLog& log) {
    if (log.count == 0) return std::numeric_limits<std::int64_t>::min();
    return log.starts[(log.head - 1 + kMaxCallsPerWindow) % kMaxCallsPerWindow];
}

}  // namespace cv::core

#include "core/batch_runner.h"

namespace cv::core {

namespace {

class LocalRateGate : public RateGate {
public:
    LocalRateGate(StartLog& log, int limit, std::int64_t span_ms)
        : log_(log), limit_(limit), span_(span_ms) {}
    std::optional<std::int64_t> try_start(std::int64_t now) override {
        const std::int64_t at = next_start_at(log_, limit_, span_, now);
        if (at > now) return at;
        record_start(log_, now);
        return std::nullopt;
    }
    void pause_until(std::int64_t until) override { core::pause_until(log_, until); }

private:
    StartLog& log_;
    int limit_;
    std::int64_t span_;
};

}  // namespace

std::unique_ptr<RateGate> make_local_rate_gate(StartLog& log, int limit, std::int64_t span_ms) {
    return std::make_unique<LocalRateGate>(log, limit, span_ms);
}

}  // namespace cv::core
