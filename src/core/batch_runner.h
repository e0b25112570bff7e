#pragma once
#include "core/no_postgres.h"

#include "core/batch_protocol.h"
#include "core/http_client.h"
#include "core/options.h"
#include "core/rate_gate.h"
#include "core/rate_window.h"
#include "core/single_lookup.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace cv::core {

// Where the distinct lookups come from, a chunk at a time (empty: no more).
class LookupSource {
public:
    virtual ~LookupSource() = default;
    // Up to `max` lookups to send now. An empty answer with exhausted() false
    // means "none now, ask again" (lookups another session is buying). With
    // may_wait, nothing of this batch is in flight, so the source may block
    // briefly for them.
    virtual std::vector<LookupItem> next(std::size_t max, bool may_wait) = 0;
    virtual bool exhausted() const = 0;
};

struct BatchStats {
    std::int64_t sent = 0;          // distinct records sent (first attempts)
    std::int64_t done = 0;          // records with an answer
    std::int64_t failed = 0;        // answers that are errors (per-record or call failures)
    std::int64_t calls = 0;         // HTTP calls started, retries included
    std::int64_t retries = 0;
    std::int64_t rate_limited = 0;  // 429s received
    std::int64_t next_call_at_ms = 0;  // steady clock; 0 when not waiting on the limiter
    bool waiting_for_limiter = false;
    std::int64_t in_flight = 0;       // calls in flight now
    std::int64_t call_ms_total = 0;   // time from start to answer of the calls that ended
    std::int64_t calls_ended = 0;
    bool stopped = false;             // should_stop ended the batch early
};

class BatchSink {
public:
    virtual ~BatchSink() = default;
    // A chunk's observations: answers (one per record, with their TTLs set)
    // and history-only ones (failed attempts, anomalies). Hands them over to
    // be recorded; must not wait on other sessions (transfers in flight keep
    // running only while the runner polls).
    virtual void record(std::vector<Observation>& observations) = 0;
    // Chunks handed over but not yet durably recorded. They count against
    // max_concurrent_calls, so a crash can lose at most that many chunks.
    virtual std::size_t unsettled() { return 0; }
    // Moves hand-overs along without blocking; called on every turn.
    virtual void poll() {}
    // Blocks (interruptibly) until some unsettled chunk is recorded; called
    // only when nothing is in flight.
    virtual void wait_settled() {}
    // Called after every change worth showing.
    virtual void progress(const BatchStats& stats) = 0;
    // Lookups BatchHooks::may_charge_again took on for a chunk sent again,
    // once that chunk's observations (its attempts with their charges) have
    // been handed to record().
    virtual void resends_settled(std::int64_t /*lookups*/) {}
};

struct BatchHooks : CallHooks {
    std::function<std::int64_t()> steady_now_ms;
    // Optional: true when no new call should start (a job cancelled, its
    // quota spent). Calls in flight finish and are recorded; chunks not
    // started are dropped unanswered, and run_batch returns with stopped set.
    std::function<bool()> should_stop;
};

struct BatchOptions {
    bool all_or_nothing = false;  // a chunk failing for good raises instead of giving error rows
};

// Runs every lookup of the source: chunks of settings.batch_size, at most
// max_concurrent_calls in flight, each call admitted by the rate gate (and
// reported to it as sent once its request goes out, or withdrawn if it never does).
// Transport errors, 5xx, 429 and an unreadable 200 retry the whole chunk with exponential backoff
// and jitter (a 429 also pauses the gate for its Retry-After); per-record
// errors are answers, never retried. A chunk that fails for good gives
// CALL_FAILED answers (or raises, with all_or_nothing); a rejected key or a
// Retry-After beyond max_retry_after raises. Before raising for a failed call,
// no new call starts, but the calls in flight finish and their answers (paid
// for) are handed to the sink; only a cancel drops calls in flight. Returns
// when every answer is settled.
BatchStats run_batch(HttpClient& http, const ServerSettings& settings,
                     const std::string& server_name, const std::string& api_key,
                     LookupSource& source, RateGate& gate, BatchSink& sink,
                     const BatchHooks& hooks, const BatchOptions& options);

}  // namespace cv::core
