// Cluster-wide state in shared memory (needs shared_preload_libraries):
//   * one slot per API account (URL and key) in use: the rate limiter's logs
//     for batch and single calls, the pause after a 429, the month's quota
//     (also kept in a file that outlives shared memory, pg/quota_file.h);
//   * the progress of running batches;
//   * one recording queue per database, drained by that database's worker;
//   * the lookups being bought right now (single flight), in a hash table.
#pragma once

#include "core/rate_window.h"

#include <cstdint>

#include "pg/pg_headers.h"
#include "pg/recorder_memory.h"

extern "C" {
#include "datatype/timestamp.h"
#include "storage/condition_variable.h"
#include "storage/dsm.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/spin.h"
#include "utils/hsearch.h"
}

namespace cv::pg {

inline constexpr int kProgressSlots = 64;
inline constexpr int kRecorderDatabases = 32;
inline constexpr int kRecorderRing = 512;

// One API account: the url and key it is used with (hashed; the key itself
// is never stored).
struct ApiKeySlot {
    std::uint64_t key_hash;  // 0: free
    std::int64_t last_used_ms;
    std::int64_t rate_limited;  // 429s seen with this key
    std::int64_t span_ms;       // the longest rate_window + rate_margin it was used with
    bool rejected;              // the API refused the key: reclaim as soon as nothing is pending
    bool called;                // a call was ever admitted with it
    core::StartLog batch_log;   // batch calls (calls_per_minute); its pause holds everyone
    core::StartLog single_log;  // single lookups (single_calls_per_minute)
    std::int32_t quota_month;   // year * 12 + month the counts are for; 0: not loaded
    std::int64_t quota_used;    // lookups the API charged this month
    std::int64_t quota_reserved;  // lookups statements are about to buy
    std::int64_t quota_limit;     // monthly_lookup_quota last reserved under (0: none)
    // For the usage view: which account this is (the key's fingerprint, never
    // the key) and the lookups the cache answered this month (since the
    // server started).
    char api_url[512];
    char api_key_id[16];
    std::int32_t cache_month;
    std::int64_t cache_answers;
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

// Answers waiting for a database's worker: each entry one chunk's
// observations in shared memory (pg/recorder_memory.h), freed by the worker.
// Tickets are cluster-wide and increasing; everything up to done_ticket is
// recorded (or set aside).
struct RecorderEntry {
    StoredMessage message;
    std::uint64_t ticket;
};

struct RecorderQueue {
    Oid database;  // InvalidOid: free
    Oid owner;     // whom the worker connects as
    int worker_pid;  // 0: none running
    bool starting;   // a worker was registered and has not attached yet
    TimestampTz start_requested_at;
    bool has_jobs;   // the database has jobs queued or running: keep a worker for it
    bool leave_when_idle;  // a statement needs the database to itself (pg/worker_release.h)
    bool jobs_changed;     // a job was queued or cancelled since the worker last looked
    Latch* worker_latch;
    std::uint64_t done_ticket;
    int head, count;
    RecorderEntry ring[kRecorderRing];
};

// A lookup being bought: by a backend (ticket 0), or handed to the worker
// as ticket `ticket`.
struct InflightKey {
    std::uint64_t key;  // hash of api_url, state and license number
    int pid;
    Oid database;
    std::uint64_t ticket;
};

struct SharedState {
    LWLock* lock;           // API key slots and progress slot claims
    LWLock* recorder_lock;  // recording queues
    LWLock* inflight_lock;  // the in-flight table
    LWLock* quota_file_lock;  // rewrites of the quota file (pg/quota_file.h)
    // Under lock: charges to any account's month count since shared memory
    // was set up, how many of them the quota file holds, and when a charge
    // last started a rewrite (steady_now_ms).
    std::uint64_t quota_charges;
    std::uint64_t quota_charges_saved;
    std::int64_t quota_saved_at_ms;
    ConditionVariable settled;  // a ticket was recorded or a lookup released
    std::uint64_t next_ticket;  // under recorder_lock
    ProgressSlot progress[kProgressSlots];
    RecorderQueue recorders[kRecorderDatabases];
    int key_slot_count;
    ApiKeySlot key_slots[FLEXIBLE_ARRAY_MEMBER];
};

// Called from _PG_init while shared_preload_libraries is being processed.
void shared_state_request();

// nullptr when the library was not preloaded.
SharedState* shared_state();
HTAB* inflight_table();

// GUCs sizing shared memory (contractor_verify.max_api_keys,
// contractor_verify.max_inflight_lookups), read at server start.
int max_api_keys();

// Holds an LWLock exclusively for its lifetime.
class SharedLock {
public:
    explicit SharedLock(SharedState* s) : SharedLock(s->lock) {}
    explicit SharedLock(LWLock* lock);
    ~SharedLock();
    SharedLock(const SharedLock&) = delete;
    SharedLock& operator=(const SharedLock&) = delete;

private:
    LWLock* lock_;
};

std::int64_t steady_now_ms();

}  // namespace cv::pg
