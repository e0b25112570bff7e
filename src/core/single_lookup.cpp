#include "core/single_lookup.h"

#include "core/backoff.h"
#include "core/error.h"
#include "core/url.h"

#include <algorithm>

namespace cv::core {

namespace {

std::string printable_excerpt(const std::string& body) {
    std::string out;
    for (unsigned char c : body.substr(0, 120))
        out.push_back(c < 0x20 || c >= 0x7f ? '?' : static_cast<char>(c));
    return out;
}

}  // namespace

void throw_call_failure(Verdict verdict, const std::string& reason, const ServerSettings& s,
                        const std::string& server_name, int attempts,
                        const std::string& body_excerpt) {
    const std::string host = url_host(s.url);
    const std::string tries = std::to_string(attempts) + (attempts == 1 ? " attempt" : " attempts");
    switch (verdict) {
        case Verdict::Rejected:
            throw Error(ErrorKind::AuthRejected,
                        "the ContractorVerify API at " + host + " rejected the API key (" + reason + ")",
                        "Check the api_key option of the USER MAPPING for server \"" + server_name +
                            "\".");
        case Verdict::Malformed:
            throw Error(ErrorKind::RemoteProtocol,
                        "malformed response from the ContractorVerify API at " + host + ": " + reason,
                        "Nothing was cached. Check that the url option of server \"" + server_name +
                            "\" points at the ContractorVerify API.",
                        body_excerpt.empty() ? "" : "Response began: " + printable_excerpt(body_excerpt));
        case Verdict::RetryAfter:
            throw Error(ErrorKind::RemoteFailure,
                        "the ContractorVerify API at " + host + " is still rate limiting after " + tries,
                        "Wait and try again, or raise max_retries / max_retry_after on server \"" +
                            server_name + "\".");
        case Verdict::Transient:
            if (reason.rfind("HTTP ", 0) == 0)
                throw Error(ErrorKind::RemoteFailure,
                            "the ContractorVerify API at " + host + " failed after " + tries + ": " + reason,
                            "The service is having trouble; try again later.");
            throw Error(ErrorKind::RemoteUnreachable,
                        "could not reach the ContractorVerify API at " + host + " after " + tries + ": " +
                            reason,
                        "Check the url option of server \"" + server_name + "\" and the network.");
        case Verdict::Answer:
            break;
    }
    throw Error(ErrorKind::Internal, "unexpected call outcome");
}

SingleLookupResult lookup_single(HttpClient& http, const ServerSettings& s,
                                 const std::string& server_name, const std::string& api_key,
                                 const LookupTarget& target, const CallHooks& hooks,
                                 RateGate* gate) {
    HttpRequest req;
    req.url = single_lookup_url(s.url, target.state, target.license_number, target.name);
    req.bearer_token = api_key;
    req.timeout = s.timeout;
    req.connect_timeout = s.connect_timeout;
    req.max_response_bytes = s.max_response_bytes;
    auto steady_now = [] {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now().time_since_epoch())
            .count();
    };

    SingleLookupResult result;
    for (int attempt = 0;; ++attempt) {
        Reservation admitted;
        if (gate != nullptr) {
            try {
                throw_if_paused_too_long(*gate, s, server_name, steady_now());
            } catch (const Error&) {
                if (attempt == 0) throw;  // nothing sent: nothing to record
                result.failure = std::current_exception();
                return result;
            }
            while (auto later = gate->try_start(steady_now(), admitted))
                hooks.sleep(std::chrono::milliseconds(std::clamp<std::int64_t>(*later - steady_now(), 1, 200)));
        }
        HttpResponse resp;
        (void)http.take_sent();  // only this call's send counts below
        try {
            resp = http.perform(req, hooks.should_abort);
        } catch (const Error& e) {
            // Cancelled mid-call: a request that went out stays counted by the
            // gate, and may have been charged.
            std::optional<std::int64_t> sent_at;
            for (const auto& [token, at] : http.take_sent()) sent_at = at;
            if (gate != nullptr) {
                if (sent_at)
                    gate->sent(admitted, *sent_at);
                else
                    gate->unsent(admitted);
            }
            if (e.kind() != ErrorKind::Aborted) throw;
            if (sent_at) {
                Observation o;
                o.state = target.state;
                o.license_number = target.license_number;
                o.name = target.name;
                o.outcome = "ABANDONED";
                o.error_message = "the call was abandoned in flight; the API may have charged it";
                o.observed_at_ms = hooks.now_ms();
                o.attempt_only = true;
                o.charged_lookups = 1;
                result.failed_attempts.push_back(std::move(o));
            }
            result.aborted = true;
            result.failure = std::current_exception();
            return result;
        }
        if (gate != nullptr) {
            if (resp.request_sent)
                gate->sent(admitted, resp.sent_at_ms);
            else
                gate->unsent(admitted);
        }
        result.attempts = attempt + 1;
        Interpretation in = interpret_single(resp, target);
        in.observation.observed_at_ms = hooks.now_ms();
        if (in.verdict == Verdict::Answer) {
            result.answer = std::move(in.observation);
            return result;
        }
        in.observation.attempt_only = true;
        if (in.verdict == Verdict::Rejected && gate != nullptr) gate->rejected();
        // A request the API may have processed though its answer never
        // arrived (or could not be read) counts against the quota.
        if (resp.request_sent && (resp.transport_failed() || resp.status == 200) &&
            resp.error != TransportError::Aborted)
            in.observation.charged_lookups = 1;
        result.failed_attempts.push_back(in.observation);
        try {
            if (in.verdict == Verdict::Rejected || in.verdict == Verdict::Malformed ||
                attempt >= s.max_retries)
                throw_call_failure(in.verdict, in.reason, s, server_name, result.attempts, resp.body);
            bool again = true;
            if (in.observation.charged_lookups > 0 && hooks.may_charge_again) {
                try {
                    again = hooks.may_charge_again(1);
                } catch (...) {
                    // Whatever ends the lookup here, its attempts are kept.
                    result.failure = std::current_exception();
                    return result;
                }
            }
            if (!again)
                throw Error(ErrorKind::QuotaExceeded,
                            "the ContractorVerify API at " + url_host(s.url) + " may have charged the lookup (" +
                                in.reason + "), and the monthly quota on server \"" + server_name +
                                "\" cannot cover charging it again",
                            "Raise monthly_lookup_quota, or wait for the quota to reset on the 1st (UTC).");
            std::chrono::milliseconds wait =
                backoff_delay(attempt, s.retry_base, s.retry_max, hooks.random01());
            if (in.verdict == Verdict::RetryAfter && in.retry_after) {
                wait = std::chrono::duration_cast<std::chrono::milliseconds>(*in.retry_after);
                // Everyone using this key stops until the Retry-After has passed.
                if (gate != nullptr) gate->pause_until(steady_now() + wait.count());
                if (wait > s.max_retry_after)
                    throw Error(ErrorKind::RemoteFailure,
                                "the ContractorVerify API at " + url_host(s.url) + " asked to wait " +
                                    std::to_string(in.retry_after->count()) + "s, more than max_retry_after",
                                "Try again later, or raise max_retry_after on server \"" + server_name + "\".");
            }
            hooks.sleep(wait);
        } catch (const Error& e) {
            // A cancel while backing off: the attempts so far (which the
            // API may have charged) are still recorded.
            result.aborted = e.kind() == ErrorKind::Aborted;
            result.failure = std::current_exception();
            return result;
        }
    }
}

}  // namespace cv::core
