#pragma once
#include "core/no_postgres.h"

#include "core/batch_protocol.h"
#include "core/http_client.h"
#include "core/options.h"
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
    virtual std::vector<LookupItem> next(std::size_t max) = 0;
};

// Admission of batch calls under the rate limit, shared with every other
// caller of the same API key. Times are steady-clock milliseconds. An admitted
// call counts as pending (inside every window) until sent() gives the moment
// its request went out, since that, not the admission, is what the server
// counts; unsent() withdraws a call whose request never went out. A gate
// withdraws the calls it still holds pending when it is destroyed.
class RateGate {
public:
    virtual ~RateGate() = default;
    // nullopt: the call may start now; `admitted` names it for sent()/unsent().
    // Otherwise when to ask again.
    virtual std::optional<std::int64_t> try_start(std::int64_t now_ms, Reservation& admitted) = 0;
    // The call's request was sent at `sent_at_ms` (again with a later time if re-sent).
    virtual void sent(const Reservation& admitted, std::int64_t sent_at_ms) = 0;
    // The call ended (or was dropped) without its request being sent.
    virtual void unsent(const Reservation& admitted) = 0;
    // A 429: nobody calls before `until_ms`.
    virtual void pause_until(std::int64_t until_ms) = 0;
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
};

class BatchSink {
public:
    virtual ~BatchSink() = default;
    // A chunk's observations: answers (one per record, with their TTLs set)
    // and history-only ones (failed attempts, anomalies).
    virtual void record(std::vector<Observation>& observations) = 0;
    // Called after every change worth showing.
    virtual void progress(const BatchStats& stats) = 0;
};

struct BatchHooks : CallHooks {
    std::function<std::int64_t()> steady_now_ms;
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
// CALL_FAILED answers (or raises, with all_or_nothing); a rejected key raises.
BatchStats run_batch(HttpClient& http, const ServerSettings& settings,
                     const std::string& server_name, const std::string& api_key,
                     LookupSource& source, RateGate& gate, BatchSink& sink,
                     const BatchHooks& hooks, const BatchOptions& options);

}  // namespace cv::core
