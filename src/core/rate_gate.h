#pragma once
#include "core/no_postgres.h"

#include "core/rate_window.h"

#include <cstdint>
#include <optional>

#include <string>

namespace cv::core {

struct ServerSettings;

// Admission of calls under the rate limit, shared with every other
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
    // Until when a 429 holds every caller of the key (steady ms; in the past when not paused).
    virtual std::int64_t paused_until() = 0;
    // The API rejected the key: nothing the gate keeps for it matters any more.
    virtual void rejected() {}
};

// Throws Error(RemoteFailure) when the key is paused (a 429's Retry-After)
// for longer than max_retry_after: waiting that long is not this call's job.
void throw_if_paused_too_long(RateGate& gate, const ServerSettings& settings,
                              const std::string& server_name, std::int64_t now_ms);

}  // namespace cv::core
