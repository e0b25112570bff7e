#include "pg/core_first.h"
#include "pg/runtime.h"

#include <memory>
#include <random>

#include "pg/guard.h"

extern "C" {
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/wait_event.h"
}

namespace cv::pg {

core::HttpClient& backend_http_client() {
    static std::unique_ptr<core::HttpClient> client;
    if (!client) client = std::make_unique<core::HttpClient>();
    return *client;
}

std::int64_t unix_now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

void interruptible_sleep(std::chrono::milliseconds duration) {
    const auto deadline = std::chrono::steady_clock::now() + duration;
    for (;;) {
        throw_if_interrupted();
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return;
        const long timeout = static_cast<long>(std::min<std::int64_t>(left.count(), 1000));
        pg_call([&] {
            (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, timeout,
                            PG_WAIT_EXTENSION);
            ResetLatch(MyLatch);
        });
    }
}

const core::CallHooks& backend_call_hooks() {
    static std::mt19937_64 rng{std::random_device{}()};
    static const core::CallHooks hooks{
        [] { return interrupt_pending(); },
        [](std::chrono::milliseconds d) { interruptible_sleep(d); },
        [] { return std::uniform_real_distribution<double>(0.0, 1.0)(rng); },
        [] { return unix_now_ms(); },
    };
    return hooks;
}

}  // namespace cv::pg
