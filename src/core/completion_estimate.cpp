#include "core/completion_estimate.h"

#include "core/rate_window.h"

#include <algorithm>
#include <functional>
#include <queue>

namespace cv::core {

std::int64_t estimate_completion(const CompletionInput& in) {
    std::vector<std::int64_t> starts = in.recent_starts;
    std::sort(starts.begin(), starts.end());
    for (int i = 0; i < in.pending; ++i) starts.push_back(in.now);
    // When each call in flight ends: the earliest frees a place first.
    std::priority_queue<std::int64_t, std::vector<std::int64_t>, std::greater<>> ends;
    const int concurrency = std::max(1, in.concurrency);
    for (int i = 0; i < std::min(in.in_flight, concurrency); ++i) ends.push(in.now + in.call_ms);
    std::int64_t last_end = in.in_flight > 0 ? in.now + in.call_ms : in.now;
    for (std::int64_t k = 0; k < in.calls; ++k) {
        std::int64_t t = std::max(in.now, in.paused_until);
        if (in.limit > 0 && starts.size() >= static_cast<std::size_t>(in.limit))
            t = std::max(t, starts[starts.size() - static_cast<std::size_t>(in.limit)] + in.span_ms);
        if (ends.size() >= static_cast<std::size_t>(concurrency)) {
            t = std::max(t, ends.top());
            ends.pop();
        }
        starts.insert(std::upper_bound(starts.begin(), starts.end(), t), t);
        ends.push(t + in.call_ms);
        last_end = std::max(last_end, t + in.call_ms);
    }
    return last_end;
}

void read_log(const StartLog& log, CompletionInput& in) {
    in.recent_starts.clear();
    in.pending = 0;
    for (const StartEntry& e : log.entries) {
        if (e.generation == 0) continue;
        if (e.pending)
            ++in.pending;
        else
            in.recent_starts.push_back(e.start);
    }
    in.paused_until = log.paused_until;
}

}  // namespace cv::core
