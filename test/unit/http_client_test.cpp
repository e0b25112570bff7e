// The libcurl client and the retrying single lookup, against the simulator
// running in-process on a loopback port. Sleeps are recorded, not slept.
#include "core/error.h"
#include "core/http_client.h"
#include "core/rate_window.h"
#include "core/rate_gate.h"
#include "core/single_lookup.h"

#include "sim_fixture.h"

#include <atomic>
#include <map>
#include <set>
#include <thread>

using namespace cv::core;
using nlohmann::json;

namespace {

class HttpTest : public SimFixture {
protected:
    HttpRequest get(const std::string& path) {
        HttpRequest r;
        r.url = base_ + path;
        r.bearer_token = "cv_test_key";
        return r;
    }
    SingleLookupResult lookup(const std::string& key = "cv_test_key", RateGate* gate = nullptr) {
        SingleLookupResult r = lookup_single(*http_, settings_, "sim", key, {"CA", "1052183", ""}, hooks_, gate);
        if (r.failure) std::rethrow_exception(r.failure);
        return r;
    }
};

const HttpClient::AbortCheck kNever = [] { return false; };

std::int64_t steady_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

}  // namespace

TEST_F(HttpTest, GetWithBearerToken) {
    HttpResponse r = http_->perform(get("/v1/verify?state=CA&license_number=1052183"), kNever);
    EXPECT_EQ(r.error, TransportError::None);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(json::parse(r.body)["license_number"], "1052183");
    HttpRequest no_key = get("/v1/verify?state=CA&license_number=1052183");
    no_key.bearer_token.clear();
    EXPECT_EQ(http_->perform(no_key, kNever).status, 401);
}

TEST_F(HttpTest, AnEchoedKeyIsRedacted) {
    control("fault", {{"mode", "echo_text"}, {"text", "key cv_test_key rejected?"}});
    HttpResponse r = http_->perform(get("/v1/verify?state=CA&license_number=1052183"), kNever);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body.find("cv_test_key"), std::string::npos) << r.body;
    EXPECT_EQ(json::parse(r.body)["detail"], "key [redacted] rejected?");
    // Text that is not the whole key stays as it came.
    control("fault", {{"mode", "echo_text"}, {"text", "cv_test_ke y"}});
    HttpResponse r2 = http_->perform(get("/v1/verify?state=CA&license_number=1052183"), kNever);
    EXPECT_EQ(json::parse(r2.body)["detail"], "cv_test_ke y");
}

TEST_F(HttpTest, ConnectionsAreReused) {
    for (int i = 0; i < 5; ++i) EXPECT_EQ(http_->perform(get("/peer"), kNever).status, 200);
    EXPECT_EQ(ports_.size(), 1u) << "five calls should share one keep-alive connection";
}

TEST_F(HttpTest, ConcurrentTransfers) {
    control("config", {{"latency_ms", 300}});
    for (int i = 0; i < 4; ++i) http_->start(get("/v1/verify?state=CA&license_number=1052183"));
    std::size_t done = 0;
    while (done < 4) done += http_->poll(std::chrono::milliseconds(1000), kNever).size();
    EXPECT_EQ(counters()["max_in_flight"], 4);
    EXPECT_EQ(http_->in_flight(), 0u);
}

TEST_F(HttpTest, AbortStopsAHangingTransfer) {
    control("fault", {{"mode", "hang"}, {"ms", 20000}});
    // Abort once the simulator holds the request (the fault is taken).
    const auto started = std::chrono::steady_clock::now();
    HttpClient::AbortCheck abort_soon = [&] {
        return std::chrono::steady_clock::now() - started > std::chrono::milliseconds(300) &&
               counters()["faults_pending"] == 0;
    };
    try {
        http_->perform(get("/v1/verify?state=CA&license_number=1052183"), abort_soon);
        FAIL() << "expected an abort";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Aborted);
    }
    EXPECT_EQ(http_->in_flight(), 0u);
    EXPECT_EQ(counters()["faults_fired"]["hang"], 1);
    // The client still works afterwards.
    EXPECT_EQ(http_->perform(get("/v1/verify?state=CA&license_number=1052183"), kNever).status, 200);
}

// An abort drops the transfers still running, but one that had finished in
// the same pass (its answer arrived) is kept for take_finished(). Whether a
// transfer finishes or is aborted in that pass depends on when the abort
// check says yes (it is asked at the top of poll() and by each transfer's
// progress callback): it says yes from its n-th question on, for n in turn.
// Whatever n, the fast transfer's answer is returned, kept, or was never
// read; for some n it finishes in the pass that aborts.
TEST_F(HttpTest, AnAbortKeepsWhatFinished) {
    int kept = 0;
    for (int n = 1; n <= 16; ++n) {
        SCOPED_TRACE(n);
        const std::string license = "1052183";
        control("config", {{"latency_ms", 100}});
        const HttpClient::Token fast = http_->start(get("/v1/verify?state=CA&license_number=" + license));
        // The request goes out; its answer, 100 ms later, waits in the socket.
        bool sent = false;
        for (int i = 0; i < 400 && !sent; ++i) {
            EXPECT_TRUE(http_->poll(std::chrono::milliseconds(0), kNever).empty());
            for (const auto& [token, at] : http_->take_sent()) sent = sent || token == fast;
            if (!sent) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        ASSERT_TRUE(sent);
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        control("fault", {{"mode", "hang"}, {"ms", 300}});
        (void)http_->start(get("/v1/verify?state=CA&license_number=1052183"));
        int questions = 0;
        HttpClient::AbortCheck abort_from_n = [&] { return ++questions >= n; };
        std::vector<std::pair<HttpClient::Token, HttpResponse>> answered;
        try {
            answered = http_->poll(std::chrono::milliseconds(2000), abort_from_n);
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::Aborted);
            answered = http_->take_finished();
            kept += answered.empty() ? 0 : 1;
        }
        http_->cancel_all();
        EXPECT_TRUE(http_->take_finished().empty());
        ASSERT_LE(answered.size(), 1u);
        if (!answered.empty()) {
            EXPECT_EQ(answered[0].first, fast);
            EXPECT_EQ(answered[0].second.status, 200);
            EXPECT_EQ(json::parse(answered[0].second.body)["license_number"], license);
        }
        control("reset", json::object());  // a fault not taken (the call aborted first) goes too
    }
    EXPECT_GT(kept, 0) << "no abort struck after the fast transfer had finished in the same pass";
}

TEST_F(HttpTest, OversizedBodyIsCutOff) {
    control("fault", {{"mode", "oversized"}, {"bytes", 4 << 20}});
    HttpRequest r = get("/v1/verify?state=CA&license_number=1052183");
    r.max_response_bytes = 64 * 1024;
    HttpResponse resp = http_->perform(r, kNever);
    EXPECT_EQ(resp.error, TransportError::TooLarge);
    EXPECT_LE(resp.body.size(), 64u * 1024);
}

TEST_F(HttpTest, RetryAfterHeaderIsRead) {
    control("fault", {{"mode", "http429"}, {"retry_after", 9}});
    HttpResponse r = http_->perform(get("/v1/verify?state=CA&license_number=1052183"), kNever);
    EXPECT_EQ(r.status, 429);
    EXPECT_EQ(r.retry_after, std::chrono::seconds(9));
}

TEST_F(HttpTest, ConnectionRefusedIsATransportError) {
    HttpRequest r;
    r.url = "http://127.0.0.1:9/v1/verify";
    HttpResponse resp = http_->perform(r, kNever);
    EXPECT_EQ(resp.error, TransportError::Connect);
    EXPECT_FALSE(resp.error_text.empty());
    EXPECT_FALSE(resp.request_sent);  // the server never saw it
    EXPECT_TRUE(http_->take_sent().empty());
}

TEST_F(HttpTest, ACompletedTransferSaysWhenItsRequestWasSent) {
    control("config", {{"latency_ms", 200}});
    const std::int64_t before = steady_ms();
    HttpResponse r = http_->perform(get("/v1/verify?state=CA&license_number=1052183"), kNever);
    const std::int64_t after = steady_ms();
    EXPECT_EQ(r.status, 200);
    ASSERT_TRUE(r.request_sent);
    EXPECT_GE(r.sent_at_ms, before);
    EXPECT_LE(r.sent_at_ms, after - 200);  // before the server's 200 ms of latency
    // On a reused connection too.
    const std::int64_t again = steady_ms();
    HttpResponse r2 = http_->perform(get("/v1/verify?state=CA&license_number=1052183"), kNever);
    ASSERT_TRUE(r2.request_sent);
    EXPECT_GE(r2.sent_at_ms, again);
    EXPECT_LE(r2.sent_at_ms, steady_ms() - 200);
}

TEST_F(HttpTest, TakeSentReportsEachRunningTransferOnce) {
    control("config", {{"latency_ms", 400}});
    std::map<HttpClient::Token, int> reported;
    std::map<HttpClient::Token, std::int64_t> reported_at;
    std::set<HttpClient::Token> tokens;
    for (int i = 0; i < 3; ++i) tokens.insert(http_->start(get("/v1/verify?state=CA&license_number=1052183")));
    std::size_t done = 0;
    while (done < tokens.size()) {
        for (auto& [token, response] : http_->poll(std::chrono::milliseconds(50), kNever)) {
            ++done;
            ASSERT_TRUE(response.request_sent);
            EXPECT_EQ(response.sent_at_ms, reported_at[token]) << "the same send, the same time";
        }
        for (auto& [token, at] : http_->take_sent()) {
            EXPECT_EQ(tokens.count(token), 1u);
            ++reported[token];
            reported_at[token] = at;
        }
    }
    ASSERT_EQ(reported.size(), tokens.size());
    for (auto& [token, n] : reported) EXPECT_EQ(n, 1) << token;
    EXPECT_TRUE(http_->take_sent().empty());
}

TEST_F(HttpTest, TakeSentStillReportsTransfersDroppedByCancel) {
    control("config", {{"latency_ms", 2000}});
    const HttpClient::Token token = http_->start(get("/v1/verify?state=CA&license_number=1052183"));
    const std::int64_t before = steady_ms();
    while (counters()["in_flight"] != 1 && steady_ms() - before < 5000)
        http_->poll(std::chrono::milliseconds(20), kNever);
    http_->cancel_all();
    auto sent = http_->take_sent();
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].first, token);
    EXPECT_GE(sent[0].second, before);
    EXPECT_TRUE(http_->take_sent().empty());
}

TEST_F(HttpTest, LookupRetries5xxWithBackoff) {
    control("fault", {{"mode", "http500"}, {"count", 2}});
    SingleLookupResult r = lookup();
    EXPECT_TRUE(r.answer.verified());
    EXPECT_EQ(r.attempts, 3);
    EXPECT_EQ(r.failed_attempts.size(), 2u);
    EXPECT_EQ(r.failed_attempts[0].outcome, "HTTP_500");
    // Backoff from 100ms doubling, at jitter 0.5: 75ms then 150ms.
    EXPECT_EQ(sleeps_, (std::vector<long long>{75, 150}));
    EXPECT_EQ(counters()["calls"]["verify"], 3);
}

TEST_F(HttpTest, LookupHonoursRetryAfter) {
    control("fault", {{"mode", "http429"}, {"retry_after", 3}});
    SingleLookupResult r = lookup();
    EXPECT_TRUE(r.answer.verified());
    EXPECT_EQ(sleeps_, (std::vector<long long>{3000}));
    EXPECT_EQ(r.failed_attempts.front().outcome, "RATE_LIMITED");
}

TEST_F(HttpTest, LookupGivesUpAfterMaxRetries) {
    control("fault", {{"mode", "http503"}, {"count", 10}});
    try {
        lookup();
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::RemoteFailure);
        EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(port_)), std::string::npos);
        EXPECT_NE(std::string(e.what()).find("3 attempts"), std::string::npos) << e.what();
    }
    EXPECT_EQ(counters()["calls"]["verify"], 3);
}

TEST_F(HttpTest, RejectedKeyIsNeverShown) {
    try {
        lookup("cv_live_TOPSECRET");
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::AuthRejected);
        const std::string all = std::string(e.what()) + e.hint() + e.detail();
        EXPECT_EQ(all.find("TOPSECRET"), std::string::npos) << all;
    }
    EXPECT_EQ(counters()["calls"]["verify"], 1);  // a rejected key is not retried
}

TEST_F(HttpTest, AnUnreadable200IsRetried) {
    control("fault", {{"mode", "malformed_json"}});
    SingleLookupResult r = lookup();
    EXPECT_TRUE(r.answer.verified());
    EXPECT_EQ(r.attempts, 2);
    ASSERT_EQ(r.failed_attempts.size(), 1u);
    EXPECT_EQ(r.failed_attempts[0].outcome, "MALFORMED_RESPONSE");
    EXPECT_EQ(counters()["calls"]["verify"], 2);
}

TEST_F(HttpTest, AnUnreadable200FailsAfterMaxRetries) {
    control("fault", {{"mode", "malformed_json"}, {"count", 5}});
    try {
        lookup();
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::RemoteFailure);
        EXPECT_NE(std::string(e.what()).find("not JSON"), std::string::npos) << e.what();
    }
    EXPECT_EQ(counters()["calls"]["verify"], 3);
}

TEST_F(HttpTest, AChargedLookupIsSentAgainOnlyWhenTheQuotaCoversIt) {
    control("fault", {{"mode", "malformed_json"}});
    std::vector<std::int64_t> asked;
    hooks_.may_charge_again = [&](std::int64_t n) {
        asked.push_back(n);
        return false;
    };
    SingleLookupResult r = lookup_single(*http_, settings_, "sim", "cv_test_key", {"CA", "1052183", ""}, hooks_);
    ASSERT_TRUE(r.failure);
    try {
        std::rethrow_exception(r.failure);
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::QuotaExceeded);
        EXPECT_NE(std::string(e.what()).find("cannot cover charging it again"), std::string::npos) << e.what();
    }
    EXPECT_EQ(asked, std::vector<std::int64_t>{1});
    ASSERT_EQ(r.failed_attempts.size(), 1u);
    EXPECT_EQ(r.failed_attempts[0].charged(), 1);
    EXPECT_EQ(counters()["calls"]["verify"], 1);

    // Covered: sent again, and answered.
    asked.clear();
    hooks_.may_charge_again = [&](std::int64_t n) {
        asked.push_back(n);
        return true;
    };
    control("fault", {{"mode", "malformed_json"}});
    EXPECT_TRUE(lookup().answer.verified());
    EXPECT_EQ(asked, std::vector<std::int64_t>{1});
}

TEST_F(HttpTest, ACancelWhileBackingOffKeepsTheChargedAttempt) {
    control("fault", {{"mode", "malformed_json"}});
    hooks_.sleep = [](std::chrono::milliseconds) { throw Error(ErrorKind::Aborted, "canceling statement"); };
    SingleLookupResult r = lookup_single(*http_, settings_, "sim", "cv_test_key", {"CA", "1052183", ""}, hooks_);
    EXPECT_TRUE(r.aborted);
    ASSERT_TRUE(r.failure);
    ASSERT_EQ(r.failed_attempts.size(), 1u);
    EXPECT_EQ(r.failed_attempts[0].charged(), 1);
    EXPECT_EQ(counters()["calls"]["verify"], 1);
}

TEST_F(HttpTest, An5xxIsSentAgainWithoutAskingTheQuota) {
    control("fault", {{"mode", "http503"}});
    bool asked = false;
    hooks_.may_charge_again = [&](std::int64_t) { return asked = true, false; };
    EXPECT_TRUE(lookup().answer.verified());
    EXPECT_FALSE(asked);
}

TEST_F(HttpTest, AnOversizedBodyIsNotRetried) {
    control("fault", {{"mode", "oversized"}, {"bytes", 1 << 20}});
    settings_.max_response_bytes = 64 * 1024;
    try {
        lookup();
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::RemoteProtocol);
    }
    EXPECT_EQ(counters()["calls"]["verify"], 1);
}

TEST_F(HttpTest, PerRecordErrorsAreAnswersNotRetries) {
    control("license", {{"state", "CA"}, {"license_number", "1052183"}, {"outcome", "STATE_TIMEOUT"}});
    SingleLookupResult r = lookup();
    EXPECT_EQ(r.answer.outcome, "STATE_TIMEOUT");
    EXPECT_EQ(r.attempts, 1);
    EXPECT_TRUE(sleeps_.empty());
}

TEST_F(HttpTest, SingleLookupsGoThroughTheGate) {
    // 2 single lookups per second: the third waits; a 429 pauses the gate.
    auto log = std::make_unique<StartLog>();
    start_log_reset(*log);
    auto gate = make_local_rate_gate(*log, 2, 1000);
    const auto t0 = steady_ms();
    for (int i = 0; i < 3; ++i) lookup("cv_test_key", gate.get());
    EXPECT_GE(steady_ms() - t0, 900);
    EXPECT_EQ(pending_count(*log), 0);
    control("fault", {{"mode", "http429"}, {"retry_after", 1}, {"endpoint", "verify"}});
    settings_.max_retries = 1;
    lookup("cv_test_key", gate.get());
    EXPECT_GE(log->paused_until, steady_ms() - 200);
}

TEST_F(HttpTest, ACancelledSingleLookupIsChargedAndStaysCounted) {
    control("config", {{"latency_ms", 3000}});
    auto log = std::make_unique<StartLog>();
    start_log_reset(*log);
    auto gate = make_local_rate_gate(*log, 1, 60000);
    const auto started = steady_ms();
    hooks_.should_abort = [&] { return steady_ms() - started > 500; };
    SingleLookupResult r = lookup_single(*http_, settings_, "sim", "cv_test_key", {"CA", "1052183", ""}, hooks_, gate.get());
    EXPECT_TRUE(r.aborted);
    ASSERT_TRUE(r.failure);
    ASSERT_EQ(r.failed_attempts.size(), 1u);
    EXPECT_EQ(r.failed_attempts[0].outcome, "ABANDONED");
    EXPECT_EQ(r.failed_attempts[0].charged(), 1);
    // The request went out: the gate goes on counting it (limit 1: nothing more now).
    EXPECT_EQ(pending_count(*log), 0);
    Reservation next;
    EXPECT_TRUE(gate->try_start(steady_ms(), next).has_value());
}

TEST_F(HttpTest, AFailedSingleLookupKeepsItsAttempts) {
    settings_.max_retries = 1;
    settings_.retry_base = std::chrono::milliseconds(1);
    control("fault", {{"mode", "http500"}, {"count", 5}});
    SingleLookupResult r = lookup_single(*http_, settings_, "sim", "cv_test_key", {"CA", "1052183", ""}, hooks_);
    ASSERT_TRUE(r.failure);
    EXPECT_EQ(r.failed_attempts.size(), 2u);
    EXPECT_EQ(r.failed_attempts[0].charged(), 0);  // a 5xx was not processed
}
