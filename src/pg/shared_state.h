// Cluster-wide state in shared memory: the rate limiter of every API key in
// use, and the progress of running batches. Needs shared_preload_libraries.
#pragma once

#include "core/rate_window.h"

#include <cstdint>

#include "pg/pg_headers.h"

extern "C" {
#include "datatype/timestamp.h"
#include "storage/lwlock.h"
#include "storage/spin.h"
}

namespace cv::pg {

inline constexpr int kLimiterSlots = 16;
inline constexpr int kProgressSlots = 64;

struct LimiterSlot {
    std::uint64_t key_hash;  // of url + api key; the key itself is never stored
    std::int64_t last_used_ms;
    std::int64_t rate_limited;  // 429s seen with this key
    core::StartLog log;
};

enum class BatchPhase : int {
    Loading = 1,
    Planning,
    Calling,
    WaitingForRateLimit,
    Returning,
};

struct ProgressSlot {
    slock_t mutex;
    int pid;  // 0: free
    Oid database;
    Oid role;
    char server[NAMEDATALEN];
    TimestampTz started_at;
    BatchPhase phase;
    std::int64_t total, invalid, cached, lookups, sent, done, failed, calls, retries, rate_limited;
    TimestampTz next_call_at;  // 0 when not waiting
};

struct SharedState {
    LWLock* lock;  // guards the limiter slots and progress slot claims
    LimiterSlot limiters[kLimiterSlots];
    ProgressSlot progress[kProgressSlots];
};

// Called from _PG_init while shared_preload_libraries is being processed.
void shared_state_request();

// nullptr when the library was not preloaded.
SharedState* shared_state();

// Holds the shared lock for its lifetime.
class SharedLock {
public:
    explicit SharedLock(SharedState* s);
    ~SharedLock();
    SharedLock(const SharedLock&) = delete;
    SharedLock& operator=(const SharedLock&) = delete;

private:
    SharedState* s_;
};

std::int64_t steady_now_ms();

}  // namespace cv::pg
