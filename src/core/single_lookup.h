#pragma once
#include "core/no_postgres.h"

#include "core/api_response.h"
#include "core/http_client.h"
#include "core/observation.h"
#include "core/options.h"
#include "core/rate_gate.h"

#include <chrono>
#include <exception>
#include <functional>
#include <string>
#include <vector>

namespace cv::core {

// What the caller's environment provides: cancel checks, an interruptible
// sleep (throws Error(Aborted) when interrupted), randomness and the clock.
struct CallHooks {
    HttpClient::AbortCheck should_abort;
    std::function<void(std::chrono::milliseconds)> sleep;
    std::function<double()> random01;
    std::function<std::int64_t()> now_ms;
    // Optional: asked before sending again a call the API may have charged
    // (its request went out; its answer never arrived or could not be
    // read), with the lookups it holds. True when the monthly quota covers
    // charging them once more; false stops the retries (the call fails).
    std::function<bool(std::int64_t lookups)> may_charge_again;
};

struct SingleLookupResult {
    Observation answer;         // unless failure is set
    std::exception_ptr failure;  // the call failed for good: record failed_attempts, then rethrow
    bool aborted = false;        // failure is a cancel: record, but wait for nothing
    std::vector<Observation> failed_attempts;  // history-only: 5xx, 429, network errors
    int attempts = 0;
};

// GET /verify with retries, each call admitted by `gate` (may be null) and
// reported to it as sent: 429 waits Retry-After (at most max_retry_after) and
// pauses the gate,
// network errors and 5xx back off exponentially with jitter, up to
// max_retries. Throws Error(RemoteUnreachable / RemoteFailure / AuthRejected /
// RemoteProtocol / Aborted) with messages naming the host, never the key.
SingleLookupResult lookup_single(HttpClient& http, const ServerSettings& settings,
                                 const std::string& server_name, const std::string& api_key,
                                 const LookupTarget& target, const CallHooks& hooks,
                                 RateGate* gate = nullptr);

// Messages for a call that did not succeed, shared with the batch path.
[[noreturn]] void throw_call_failure(Verdict verdict, const std::string& reason,
                                     const ServerSettings& settings,
                                     const std::string& server_name, int attempts,
                                     const std::string& body_excerpt);

}  // namespace cv::core
