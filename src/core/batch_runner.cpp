#include "core/batch_runner.h"

#include "core/backoff.h"
#include "core/error.h"
#include "core/freshness.h"
#include "core/url.h"

#include <algorithm>
#include <deque>
#include <exception>
#include <limits>
#include <map>
#include <utility>

namespace cv::core {

namespace {

struct Chunk {
    std::vector<LookupItem> items;
    int attempt = 0;              // calls made so far
    std::int64_t ready_at = 0;    // steady ms; retries wait for their backoff
    std::vector<Observation> failed_attempts;
    // The current call's admission, and whether the gate has heard it was sent.
    Reservation reservation;
    bool request_sent = false;
    std::int64_t started_at = 0;  // steady ms of the current call's start
    // Lookups the quota took on so that a call the API may have charged
    // could be sent again (BatchHooks::may_charge_again); the sink hears of
    // them once the chunk's attempts are recorded.
    std::int64_t held_for_resends = 0;
};

class Runner {
public:
    Runner(HttpClient& http, const ServerSettings& s, const std::string& server_name,
           const std::string& api_key, LookupSource& source, RateGate& gate, BatchSink& sink,
           const BatchHooks& hooks, const BatchOptions& options)
        : http_(http), s_(s), server_name_(server_name), source_(source), gate_(gate),
          sink_(sink), hooks_(hooks), options_(options) {
        request_.method = "POST";
        request_.url = batch_url(s.url);
        request_.bearer_token = api_key;
        request_.timeout = s.timeout;
        request_.connect_timeout = s.connect_timeout;
        request_.max_response_bytes = s.max_response_bytes;
    }

    BatchStats run() {
        try {
            loop();
            settle();
        } catch (...) {
            deliver_finished();
            withdraw_in_flight();
            record_abandoned();
            http_.cancel_all();
            throw;
        }
        if (fatal_) std::rethrow_exception(fatal_);
        stats_.waiting_for_limiter = false;
        stats_.next_call_at_ms = 0;
        sink_.progress(stats_);
        return stats_;
    }

private:
    void loop() {
        for (;;) {
            if (hooks_.should_abort()) throw Error(ErrorKind::Aborted, "canceling statement");
            sink_.poll();
            std::int64_t wake = start_calls();
            if (in_flight_.empty() && (fatal_ || (retries_.empty() && source_done_))) return;

            const std::int64_t now = hooks_.steady_now_ms();
            std::int64_t wait = wake == kNever ? 100 : std::clamp<std::int64_t>(wake - now, 0, 100);
            if (in_flight_.empty()) {
                if (backlogged_)
                    sink_.wait_settled();
                else if (wait > 0)
                    hooks_.sleep(std::chrono::milliseconds(wait));
                continue;
            }
            for (auto& [token, response] : http_.poll(std::chrono::milliseconds(wait), hooks_.should_abort))
                finish(token, response);
            report_sent();
        }
    }

    // Every answer handed over is recorded before the batch returns.
    void settle() {
        while (sink_.unsettled() > 0) {
            if (hooks_.should_abort()) throw Error(ErrorKind::Aborted, "canceling statement");
            sink_.poll();
            if (sink_.unsettled() > 0) sink_.wait_settled();
        }
    }

    // A call failed for good in a way that fails the batch: no new call
    // starts, the calls in flight finish (their answers are paid for), then
    // the error is raised.
    void fail(std::exception_ptr e) {
        if (!fatal_) fatal_ = std::move(e);
        drop_waiting();
    }

    // No more calls: chunks waiting to be sent again give up their attempts
    // (the API may have charged them) to be recorded; chunks not sent are dropped.
    void drop_waiting() {
        const std::int64_t observed = hooks_.now_ms();
        std::deque<Chunk> waiting;
        waiting.swap(retries_);
        pending_.clear();
        for (auto& c : waiting) deliver(c, no_answers_, {}, observed);
    }

    // The gate learns of each send as soon as possible: until then the call
    // holds a place in every window.
    void report_sent() {
        for (const auto& [token, sent_at] : http_.take_sent()) {
            auto it = in_flight_.find(token);
            if (it == in_flight_.end()) continue;
            gate_.sent(it->second.reservation, sent_at);
            it->second.request_sent = true;
        }
    }

    // On the way out with an error or cancel: calls that had finished when the
    // abort struck are answered as usual (their answers arrived and are paid
    // for); only the calls still running are abandoned. Never throws over the
    // error being raised.
    void deliver_finished() noexcept {
        try {
            for (auto& [token, response] : http_.take_finished()) finish(token, response);
        } catch (...) {
            // What could not be delivered stays in flight: recorded as abandoned.
        }
    }

    // On the way out with an error: calls whose request went out stay counted,
    // the others are withdrawn. Never throws over the error being raised.
    void withdraw_in_flight() noexcept {
        try {
            report_sent();
            for (auto& [token, chunk] : in_flight_)
                if (!chunk.request_sent) gate_.unsent(chunk.reservation);
        } catch (...) {
            // The gate's own destructor withdraws what is left.
        }
    }

    // On the way out with an error or cancel: a call whose request went out
    // may have been charged though its answer will never arrive, and the
    // failed attempts of chunks not yet delivered are history too. Handed to
    // the sink as attempts (never throws over the error being raised).
    void record_abandoned() noexcept {
        try {
            std::vector<Observation> all;
            const std::int64_t observed = hooks_.now_ms();
            auto keep_attempts = [&](Chunk& c) {
                for (auto& a : c.failed_attempts) all.push_back(std::move(a));
                c.failed_attempts.clear();
            };
            for (auto& [token, chunk] : in_flight_) {
                keep_attempts(chunk);
                if (!chunk.request_sent) continue;
                Observation o;
                const LookupItem& first = chunk.items.front();
                o.state = first.state;
                o.license_number = first.license_number;
                o.name = first.name;
                o.outcome = "ABANDONED";
                o.error_message = "the call was abandoned in flight (a cancel or an error); the API may "
                                  "have charged its " + std::to_string(chunk.items.size()) + " records";
                o.observed_at_ms = observed;
                o.request_kind = "batch";
                o.attempt_only = true;
                o.charged_lookups = static_cast<std::int32_t>(chunk.items.size());
                all.push_back(std::move(o));
            }
            for (auto& c : retries_) keep_attempts(c);
            if (!all.empty()) sink_.record(all);
            std::int64_t held = 0;
            for (auto& [token, chunk] : in_flight_) held += std::exchange(chunk.held_for_resends, 0);
            for (auto& c : retries_) held += std::exchange(c.held_for_resends, 0);
            if (held > 0) sink_.resends_settled(held);
        } catch (...) {
        }
    }

    // Starts as many calls as concurrency, retries' backoff and the rate gate
    // allow; returns when to look again (kNever: only completions matter).
    std::int64_t start_calls() {
        std::int64_t wake = kNever;
        stats_.waiting_for_limiter = false;
        backlogged_ = false;
        if (fatal_) return wake;
        if (!source_done_ && hooks_.should_stop && hooks_.should_stop()) {
            // No new call: what was not sent stays unanswered.
            source_done_ = true;
            stats_.stopped = true;
            drop_waiting();
            sink_.progress(stats_);
        }
        if (stats_.stopped) return wake;
        for (;;) {
            if (in_flight_.size() + sink_.unsettled() >= static_cast<std::size_t>(s_.max_concurrent_calls)) {
                backlogged_ = in_flight_.size() < static_cast<std::size_t>(s_.max_concurrent_calls);
                break;
            }
            const std::int64_t now = hooks_.steady_now_ms();
            Chunk chunk;
            auto ready = std::find_if(retries_.begin(), retries_.end(),
                                      [&](const Chunk& c) { return c.ready_at <= now; });
            bool from_retries = false;
            if (ready != retries_.end()) {
                from_retries = true;
            } else if (!source_done_ && pending_.empty()) {
                const bool may_wait = in_flight_.empty() && retries_.empty();
                std::vector<LookupItem> items =
                    source_.next(static_cast<std::size_t>(s_.batch_size), may_wait);
                if (items.empty()) {
                    if (source_.exhausted())
                        source_done_ = true;
                    else
                        wake = std::min(wake, now + 50);  // deferred lookups: look again soon
                } else {
                    Chunk c;
                    c.items = std::move(items);
                    pending_.push_back(std::move(c));
                }
            }
            if (!from_retries && pending_.empty()) {
                for (const Chunk& c : retries_) wake = std::min(wake, c.ready_at);
                break;
            }

            try {
                throw_if_paused_too_long(gate_, s_, server_name_, now);
            } catch (const Error&) {
                fail(std::current_exception());
                return wake;
            }
            Reservation admitted;
            if (auto later = gate_.try_start(now, admitted)) {
                wake = std::min(wake, *later);
                stats_.waiting_for_limiter = true;
                stats_.next_call_at_ms = *later;
                sink_.progress(stats_);
                break;
            }
            if (from_retries) {
                chunk = std::move(*ready);
                retries_.erase(ready);
                ++stats_.retries;
            } else {
                chunk = std::move(pending_.front());
                pending_.pop_front();
                stats_.sent += static_cast<std::int64_t>(chunk.items.size());
            }
            chunk.reservation = admitted;
            chunk.request_sent = false;
            HttpClient::Token token = 0;
            try {
                request_.body = batch_request_body(chunk.items);
                token = http_.start(request_);
            } catch (...) {
                gate_.unsent(admitted);
                // Where the batch's end finds its earlier attempts.
                retries_.push_front(std::move(chunk));
                throw;
            }
            ++chunk.attempt;
            ++stats_.calls;
            stats_.next_call_at_ms = 0;
            chunk.started_at = now;
            in_flight_.emplace(token, std::move(chunk));
            stats_.in_flight = static_cast<std::int64_t>(in_flight_.size());
            sink_.progress(stats_);
        }
        return wake;
    }

    void finish(HttpClient::Token token, const HttpResponse& response) {
        auto it = in_flight_.find(token);
        if (it == in_flight_.end()) return;
        Chunk chunk = std::move(it->second);
        in_flight_.erase(it);
        stats_.in_flight = static_cast<std::int64_t>(in_flight_.size());
        stats_.call_ms_total += std::max<std::int64_t>(0, hooks_.steady_now_ms() - chunk.started_at);
        ++stats_.calls_ended;
        if (response.request_sent)
            gate_.sent(chunk.reservation, response.sent_at_ms);
        else if (!chunk.request_sent)
            gate_.unsent(chunk.reservation);

        BatchInterpretation in = interpret_batch(response, chunk.items);
        const std::int64_t observed = hooks_.now_ms();
        switch (in.verdict) {
            case Verdict::Answer:
                for (auto& a : in.answers) {
                    a.observed_at_ms = observed;
                    schedule_observation(a, s_, hooks_.random01());
                    if (!a.verified()) ++stats_.failed;
                }
                stats_.done += static_cast<std::int64_t>(in.answers.size());
                deliver(chunk, in.answers, in.anomalies, observed);
                return;
            case Verdict::Rejected:
                gate_.rejected();
                note_attempt(chunk, response, in, observed);
                fail_batch(chunk, in, response, observed);
                return;
            case Verdict::Malformed:
                note_attempt(chunk, response, in, observed);
                give_up(chunk, in, response, observed);
                return;
            case Verdict::RetryAfter:
            case Verdict::Transient:
                note_attempt(chunk, response, in, observed);
                if (fatal_ || stats_.stopped) {
                    // The batch is ending (failed or stopped): nothing is sent
                    // again, and the attempt, which the API may have charged,
                    // is recorded now.
                    deliver(chunk, no_answers_, {}, observed);
                    return;
                }
                if (chunk.attempt > s_.max_retries) {
                    give_up(chunk, in, response, observed);
                    return;
                }
                bool again = false;
                try {
                    again = may_charge_again(chunk);
                } catch (...) {
                    // The batch ends (with the calls in flight); the chunk's
                    // attempts, which the API may have charged, are kept.
                    deliver(chunk, no_answers_, {}, observed);
                    throw;
                }
                if (!again) {
                    BatchInterpretation refused = in;
                    refused.reason += "; not sent again: the API may have charged this call, and the "
                                      "monthly lookup quota cannot cover charging it once more";
                    give_up(chunk, refused, response, observed);
                    return;
                }
                retry(std::move(chunk), in, observed);
                return;
        }
    }

    // A chunk whose last attempt the API may have charged is sent again only
    // when the quota covers another charge.
    bool may_charge_again(Chunk& chunk) {
        const Observation& last = chunk.failed_attempts.back();
        if (last.charged_lookups <= 0 || !hooks_.may_charge_again) return true;
        const auto n = static_cast<std::int64_t>(chunk.items.size());
        if (!hooks_.may_charge_again(n)) return false;
        chunk.held_for_resends += n;
        return true;
    }

    void retry(Chunk chunk, const BatchInterpretation& in, std::int64_t observed) {
        const std::int64_t now = hooks_.steady_now_ms();
        std::int64_t wait =
            backoff_delay(chunk.attempt - 1, s_.retry_base, s_.retry_max, hooks_.random01()).count();
        if (in.verdict == Verdict::RetryAfter) {
            ++stats_.rate_limited;
            if (in.retry_after) {
                const std::int64_t after = std::chrono::duration_cast<std::chrono::milliseconds>(*in.retry_after).count();
                if (after > s_.max_retry_after.count()) {
                    gate_.pause_until(now + after);
                    deliver(chunk, no_answers_, {}, observed);
                    fail(std::make_exception_ptr(Error(
                        ErrorKind::RemoteFailure,
                        "the ContractorVerify API at " + url_host(s_.url) + " asked to wait " +
                            std::to_string(in.retry_after->count()) + "s, more than max_retry_after",
                        "Try again later, or raise max_retry_after on server \"" + server_name_ + "\".")));
                    return;
                }
                wait = std::max(wait, after);
            }
            // Everyone using this key stops until the Retry-After has passed.
            gate_.pause_until(now + wait);
        }
        chunk.ready_at = now + wait;
        retries_.push_back(std::move(chunk));
        sink_.progress(stats_);
    }

    void note_attempt(Chunk& chunk, const HttpResponse& response, const BatchInterpretation& in,
                      std::int64_t observed) {
        // One history row per failed call, standing for the chunk.
        Observation o;
        const LookupItem& first = chunk.items.front();
        o.state = first.state;
        o.license_number = first.license_number;
        o.name = first.name;
        o.outcome = attempt_outcome(response, in.verdict);
        o.http_status = static_cast<int>(response.status);
        o.error_message = in.reason + " (a call of " + std::to_string(chunk.items.size()) + " records)";
        o.raw = response.transport_failed() ? nlohmann::json(nullptr) : raw_body(response.body);
        o.observed_at_ms = observed;
        o.request_kind = "batch";
        o.attempt_only = true;
        // The API may have processed a call whose request went out but whose
        // answer never arrived or could not be read: count it against the
        // quota (the quota guard errs on the side of the plan).
        if (response.request_sent && (response.transport_failed() || response.status == 200) &&
            response.error != TransportError::Aborted)
            o.charged_lookups = static_cast<std::int32_t>(chunk.items.size());
        chunk.failed_attempts.push_back(std::move(o));
    }

    // The batch ends with the chunk's call failure; the chunk's attempts are
    // delivered first.
    void fail_batch(Chunk& chunk, const BatchInterpretation& in, const HttpResponse& response,
                    std::int64_t observed) {
        deliver(chunk, no_answers_, {}, observed);
        try {
            throw_call_failure(in.verdict, in.reason, s_, server_name_, chunk.attempt, response.body);
        } catch (const Error&) {
            fail(std::current_exception());
        }
    }

    void give_up(Chunk& chunk, const BatchInterpretation& in, const HttpResponse& response,
                 std::int64_t observed) {
        if (options_.all_or_nothing) {
            fail_batch(chunk, in, response, observed);
            return;
        }
        const std::string reason = "the call failed after " + std::to_string(chunk.attempt) +
                                   (chunk.attempt == 1 ? " attempt: " : " attempts: ") + in.reason;
        std::vector<Observation> answers;
        for (const auto& item : chunk.items) {
            answers.push_back(call_failed_observation(item, reason));
            answers.back().observed_at_ms = observed;
        }
        stats_.done += static_cast<std::int64_t>(answers.size());
        stats_.failed += static_cast<std::int64_t>(answers.size());
        deliver(chunk, answers, {}, observed);
    }

    void deliver(Chunk& chunk, std::vector<Observation>& answers,
                 std::vector<Observation> anomalies, std::int64_t observed) {
        std::vector<Observation> all = std::move(chunk.failed_attempts);
        chunk.failed_attempts.clear();
        const std::int64_t held = std::exchange(chunk.held_for_resends, 0);
        if (all.empty() && anomalies.empty() && answers.empty()) return;
        for (auto& a : anomalies) {
            a.observed_at_ms = observed;
            all.push_back(std::move(a));
        }
        for (auto& a : answers) all.push_back(std::move(a));
        sink_.record(all);
        if (held > 0) sink_.resends_settled(held);
        sink_.progress(stats_);
    }

    static constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

    HttpClient& http_;
    const ServerSettings& s_;
    const std::string& server_name_;
    LookupSource& source_;
    RateGate& gate_;
    BatchSink& sink_;
    const BatchHooks& hooks_;
    const BatchOptions& options_;
    HttpRequest request_;
    BatchStats stats_;
    bool source_done_ = false;
    bool backlogged_ = false;       // calls held back only by unsettled hand-overs
    std::exception_ptr fatal_;      // raised once the calls in flight are done
    std::vector<Observation> no_answers_;
    std::deque<Chunk> pending_;  // read from the source, not yet admitted
    std::deque<Chunk> retries_;
    std::map<HttpClient::Token, Chunk> in_flight_;
};

}  // namespace

BatchStats run_batch(HttpClient& http, const ServerSettings& settings,
                     const std::string& server_name, const std::string& api_key,
                     LookupSource& source, RateGate& gate, BatchSink& sink,
                     const BatchHooks& hooks, const BatchOptions& options) {
    return Runner(http, settings, server_name, api_key, source, gate, sink, hooks, options).run();
}

}  // namespace cv::core
