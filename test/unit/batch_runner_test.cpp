// The batch runner against the simulator in-process: chunking, concurrency,
// matching by id, retries, failures and the rate gate.
#include "core/batch_runner.h"
#include "core/error.h"
#include "core/rate_window.h"

#include "sim_fixture.h"

#include <atomic>
#include <limits>
#include <map>

using namespace cv::core;

namespace {

class VectorSource : public LookupSource {
public:
    explicit VectorSource(std::vector<LookupItem> items) : items_(std::move(items)) {}
    bool exhausted() const override { return pos_ >= items_.size(); }
    std::vector<LookupItem> next(std::size_t max, bool) override {
        std::vector<LookupItem> out;
        while (pos_ < items_.size() && out.size() < max) out.push_back(items_[pos_++]);
        return out;
    }

private:
    std::vector<LookupItem> items_;
    std::size_t pos_ = 0;
};

class CollectingSink : public BatchSink {
public:
    void record(std::vector<Observation>& observations) override {
        ++chunks;
        for (auto& o : observations) {
            if (o.attempt_only)
                history_only.push_back(o);
            else
                answers[o.id] = o;
        }
    }
    void progress(const BatchStats& s) override { last = s; }
    void resends_settled(std::int64_t lookups) override { settled += lookups; }

    int chunks = 0;
    std::int64_t settled = 0;
    std::map<std::string, Observation> answers;
    std::vector<Observation> history_only;
    BatchStats last;
};

// Admits every call and remembers how each admission was resolved.
class OpenGate : public RateGate {
public:
    std::optional<std::int64_t> try_start(std::int64_t now, Reservation& admitted) override {
        ++starts;
        admitted = Reservation{starts, 7};
        admitted_at[starts] = now;
        return std::nullopt;
    }
    void sent(const Reservation& r, std::int64_t at) override { sent_at[r.slot].push_back(at); }
    void unsent(const Reservation& r) override { ++unsent_count[r.slot]; }
    void pause_until(std::int64_t until) override { paused_until_ms = until; }
    std::int64_t paused_until() override { return paused_until_ms; }

    // Every admission was resolved one way: sent (reported once or more, with
    // times from its admission to `until`) or withdrawn once. Returns how many were sent.
    int expect_all_resolved(std::int64_t until) const {
        int n_sent = 0;
        for (const auto& [slot, at] : admitted_at) {
            auto s = sent_at.find(slot);
            auto u = unsent_count.find(slot);
            if (s != sent_at.end()) {
                ++n_sent;
                EXPECT_TRUE(u == unsent_count.end()) << "call " << slot << " both sent and withdrawn";
                for (std::int64_t t : s->second) {
                    EXPECT_GE(t, at) << "call " << slot;
                    EXPECT_LE(t, until) << "call " << slot;
                }
            } else {
                EXPECT_TRUE(u != unsent_count.end()) << "call " << slot << " left pending";
                if (u != unsent_count.end()) {
                    EXPECT_EQ(u->second, 1) << "call " << slot;
                }
            }
        }
        EXPECT_EQ(sent_at.size() + unsent_count.size(), admitted_at.size()) << "unknown reservations";
        return n_sent;
    }

    int starts = 0;
    std::int64_t paused_until_ms = 0;
    std::map<int, std::int64_t> admitted_at;
    std::map<int, std::vector<std::int64_t>> sent_at;
    std::map<int, int> unsent_count;
};

std::vector<LookupItem> items(int n, int first = 100000) {
    std::vector<LookupItem> v;
    for (int i = 0; i < n; ++i)
        v.push_back({"r" + std::to_string(i + 1), "CA", std::to_string(first + i), ""});
    return v;
}

class BatchTest : public SimFixture {
protected:
    void SetUp() override {
        SimFixture::SetUp();
        batch_hooks_.should_abort = hooks_.should_abort;
        batch_hooks_.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
        batch_hooks_.random01 = hooks_.random01;
        batch_hooks_.now_ms = hooks_.now_ms;
        batch_hooks_.steady_now_ms = [] {
            return std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now().time_since_epoch())
                .count();
        };
        settings_.retry_base = std::chrono::milliseconds(10);
        settings_.retry_max = std::chrono::milliseconds(50);
    }
    BatchStats run(std::vector<LookupItem> v, RateGate& gate, BatchOptions options = {}) {
        VectorSource source(std::move(v));
        return run_batch(*http_, settings_, "sim", "cv_test_key", source, gate, sink_, batch_hooks_,
                         options);
    }
    // Every answer belongs to the record it claims: the license sent under its id.
    void expect_matched(const std::vector<LookupItem>& v) {
        for (const auto& item : v) {
            auto it = sink_.answers.find(item.lookup_id);
            ASSERT_NE(it, sink_.answers.end()) << item.lookup_id;
            if (it->second.record) {
                EXPECT_EQ(it->second.record->license_number, item.license_number);
            }
        }
    }

    // Lookups the API may have charged for failed attempts, as recorded.
    std::int64_t attempts_charged() const {
        std::int64_t charged = 0;
        for (const auto& o : sink_.history_only) charged += o.charged();
        return charged;
    }
    // Two calls of 10 at once: the first meets `first_fault`, the second
    // hangs past the 300 ms timeout.
    void second_call_hangs(const nlohmann::json& first_fault) {
        settings_.max_concurrent_calls = 2;
        settings_.batch_size = 10;
        settings_.timeout = std::chrono::milliseconds(300);
        control("fault", first_fault);
        control("fault", {{"mode", "hang"}, {"ms", 2000}, {"endpoint", "batch"}});
    }

    BatchHooks batch_hooks_;
    CollectingSink sink_;
    OpenGate gate_;
};

}  // namespace

TEST_F(BatchTest, ChunksOf100AndOneAnswerPerRecord) {
    const auto v = items(250);
    BatchStats stats = run(v, gate_);
    EXPECT_EQ(gate_.expect_all_resolved(batch_hooks_.steady_now_ms()), 3);
    EXPECT_EQ(sink_.answers.size(), 250u);
    EXPECT_EQ(stats.calls, 3);
    EXPECT_EQ(stats.sent, 250);
    EXPECT_EQ(stats.done, 250);
    auto sizes = counters()["batch_sizes"].get<std::vector<int>>();
    std::sort(sizes.begin(), sizes.end());
    EXPECT_EQ(sizes, (std::vector<int>{50, 100, 100}));
    EXPECT_EQ(counters()["lookups"], 250);
    expect_matched(v);
    for (const auto& [id, o] : sink_.answers) {
        EXPECT_EQ(o.request_kind, "batch");
        EXPECT_FALSE(o.batch_id.empty());
        if (o.verified()) {
            ASSERT_TRUE(o.ttl_ms);
        }
    }
}

TEST_F(BatchTest, BatchSizeOptionIsHonoured) {
    settings_.batch_size = 30;
    run(items(100), gate_);
    auto sizes = counters()["batch_sizes"].get<std::vector<int>>();
    std::sort(sizes.begin(), sizes.end());
    EXPECT_EQ(sizes, (std::vector<int>{10, 30, 30, 30}));
}

TEST_F(BatchTest, ConcurrentCallsUpToTheLimit) {
    control("config", {{"latency_ms", 200}});
    settings_.max_concurrent_calls = 3;
    run(items(600), gate_);
    EXPECT_EQ(counters()["max_in_flight"], 3);
    EXPECT_EQ(sink_.answers.size(), 600u);
}

TEST_F(BatchTest, ShuffledResultsAreMatchedById) {
    control("fault", {{"mode", "shuffled"}});
    const auto v = items(100);
    run(v, gate_);
    expect_matched(v);
    EXPECT_EQ(counters()["faults_fired"]["shuffled"], 1);
}

TEST_F(BatchTest, MissingAndInventedIdsAreNeverMisassigned) {
    control("fault", {{"mode", "missing_ids"}, {"drop", 3}});
    control("fault", {{"mode", "extra_id"}});
    const auto v = items(200);
    BatchStats stats = run(v, gate_);
    int missing = 0;
    for (const auto& [id, o] : sink_.answers)
        if (o.outcome == "MISSING_RESULT") ++missing;
    EXPECT_EQ(missing, 3);
    EXPECT_EQ(sink_.answers.size(), 200u);
    expect_matched(v);
    ASSERT_EQ(sink_.history_only.size(), 1u);
    EXPECT_EQ(sink_.history_only[0].outcome, "UNEXPECTED_RESULT");
    EXPECT_GE(stats.failed, 3);
}

TEST_F(BatchTest, A500StormIsRetriedThenRecovered) {
    control("fault", {{"mode", "http500"}, {"count", 2}});
    BatchStats stats = run(items(50), gate_);
    EXPECT_EQ(stats.calls, 3);
    EXPECT_EQ(stats.retries, 2);
    EXPECT_EQ(sink_.answers.size(), 50u);
    EXPECT_EQ(sink_.history_only.size(), 2u);
    EXPECT_EQ(sink_.history_only[0].outcome, "HTTP_500");
    EXPECT_EQ(counters()["lookups"], 50);  // the failed calls cost nothing
}

TEST_F(BatchTest, AChunkThatFailsForGoodGivesErrorRowsOnlyForItsRecords) {
    settings_.max_concurrent_calls = 1;  // the first call is the first chunk, r1..r100
    settings_.max_retries = 0;
    control("fault", {{"mode", "http503"}});
    run(items(150), gate_);
    ASSERT_EQ(sink_.answers.size(), 150u);
    for (int i = 1; i <= 150; ++i) {
        const Observation& o = sink_.answers.at("r" + std::to_string(i));
        if (i <= 100) {
            EXPECT_EQ(o.outcome, "CALL_FAILED") << i;
            EXPECT_NE(o.error_message.find("HTTP 503"), std::string::npos) << o.error_message;
            EXPECT_FALSE(o.ttl_ms);
        } else {
            EXPECT_NE(o.outcome, "CALL_FAILED") << i;
        }
    }
    EXPECT_EQ(counters()["lookups"], 50);
}

TEST_F(BatchTest, AllOrNothingRaises) {
    settings_.max_retries = 0;
    control("fault", {{"mode", "http500"}});
    BatchOptions options;
    options.all_or_nothing = true;
    try {
        run(items(10), gate_, options);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::RemoteFailure);
    }
}

TEST_F(BatchTest, A429PausesTheGateAndRetries) {
    control("fault", {{"mode", "http429"}, {"retry_after", 1}});
    const auto before = batch_hooks_.steady_now_ms();
    BatchStats stats = run(items(10), gate_);
    EXPECT_EQ(stats.rate_limited, 1);
    EXPECT_GE(gate_.paused_until_ms, before + 1000);
    EXPECT_EQ(sink_.answers.size(), 10u);
    EXPECT_EQ(gate_.starts, 2);
}

TEST_F(BatchTest, ARejectedKeyRaises) {
    VectorSource source(items(10));
    try {
        run_batch(*http_, settings_, "sim", "wrong", source, gate_, sink_, batch_hooks_, {});
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::AuthRejected);
    }
}

TEST_F(BatchTest, TheGateSpacesCallsSoTheServerNeverSays429) {
    // 3 calls per 1 s sliding window on both sides; 8 calls must spread out.
    control("config", {{"rate_limit", 3}, {"rate_window_ms", 1000}, {"rate_mode", "sliding"}});
    auto log = std::make_unique<StartLog>();
    start_log_reset(*log);
    auto gate = make_local_rate_gate(*log, 3, 1000 + 50);
    BatchStats stats = run(items(800), *gate);
    EXPECT_EQ(stats.calls, 8);
    EXPECT_EQ(stats.rate_limited, 0);
    EXPECT_EQ(counters()["rate_limited"], 0);
    EXPECT_EQ(counters()["max_batch_calls_in_window"], 3);
    EXPECT_EQ(pending_count(*log), 0);
}

TEST_F(BatchTest, CallsThatNeverConnectAreWithdrawnFromTheGate) {
    settings_.url = "http://127.0.0.1:9/v1";  // nothing listens there
    settings_.max_retries = 1;
    BatchStats stats = run(items(10), gate_);
    EXPECT_EQ(stats.calls, 2);
    EXPECT_EQ(gate_.starts, 2);
    EXPECT_EQ(gate_.expect_all_resolved(batch_hooks_.steady_now_ms()), 0);
    EXPECT_EQ(sink_.answers.at("r1").outcome, "CALL_FAILED");
}

TEST_F(BatchTest, FailedConnectsDoNotUseTheLimit) {
    // One call a minute: if the refused attempts counted, the retries would wait.
    settings_.url = "http://127.0.0.1:9/v1";
    settings_.max_retries = 2;
    auto log = std::make_unique<StartLog>();
    start_log_reset(*log);
    auto gate = make_local_rate_gate(*log, 1, 60000);
    const auto before = batch_hooks_.steady_now_ms();
    BatchStats stats = run(items(10), *gate);
    EXPECT_EQ(stats.calls, 3);
    EXPECT_LT(batch_hooks_.steady_now_ms() - before, 10000);
    EXPECT_EQ(pending_count(*log), 0);
    EXPECT_EQ(last_start(*log), std::numeric_limits<std::int64_t>::min());
}

TEST_F(BatchTest, ASentCallStaysCountedWhenTheBatchIsCancelled) {
    control("config", {{"latency_ms", 5000}});
    settings_.max_concurrent_calls = 3;
    const auto started = batch_hooks_.steady_now_ms();
    batch_hooks_.should_abort = [&] {
        return batch_hooks_.steady_now_ms() - started > 1500;  // long after loopback sends
    };
    try {
        run(items(300), gate_);
        FAIL() << "expected an abort";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Aborted);
    }
    // The server holds all three requests: the gate must go on counting them.
    EXPECT_EQ(counters()["calls"]["batch"], 3);
    EXPECT_EQ(gate_.starts, 3);
    EXPECT_EQ(gate_.expect_all_resolved(batch_hooks_.steady_now_ms()), 3);
    // ... and the sink hears of them as abandoned calls the API may have charged.
    ASSERT_EQ(sink_.history_only.size(), 3u);
    for (const auto& o : sink_.history_only) {
        EXPECT_EQ(o.outcome, "ABANDONED");
        EXPECT_EQ(o.charged(), 100);
    }
}

TEST_F(BatchTest, AnUnreadable200IsRetried) {
    control("fault", {{"mode", "malformed_json"}, {"endpoint", "batch"}});
    BatchStats stats = run(items(20), gate_);
    EXPECT_EQ(stats.calls, 2);
    EXPECT_EQ(stats.retries, 1);
    ASSERT_EQ(sink_.answers.size(), 20u);
    for (const auto& [id, o] : sink_.answers) EXPECT_TRUE(o.verified()) << id;
    ASSERT_EQ(sink_.history_only.size(), 1u);
    EXPECT_EQ(sink_.history_only[0].outcome, "MALFORMED_RESPONSE");
    EXPECT_EQ(sink_.history_only[0].http_status, 200);
}

TEST_F(BatchTest, AnUnreadable200GivesUpAfterMaxRetries) {
    settings_.max_retries = 1;
    control("fault", {{"mode", "malformed_json"}, {"endpoint", "batch"}, {"count", 5}});
    BatchStats stats = run(items(20), gate_);
    EXPECT_EQ(stats.calls, 2);
    const Observation& o = sink_.answers.at("r1");
    EXPECT_EQ(o.outcome, "CALL_FAILED");
    EXPECT_NE(o.error_message.find("2 attempts"), std::string::npos) << o.error_message;
    EXPECT_NE(o.error_message.find("not JSON"), std::string::npos) << o.error_message;
}

TEST_F(BatchTest, AChargedCallIsSentAgainOnlyWhenTheQuotaCoversIt) {
    for (const bool covered : {false, true}) {
        sink_ = CollectingSink{};
        control("fault", {{"mode", "malformed_json"}, {"endpoint", "batch"}});
        std::vector<std::int64_t> asked;
        batch_hooks_.may_charge_again = [&](std::int64_t n) {
            asked.push_back(n);
            return covered;
        };
        BatchStats stats = run(items(20), gate_);
        EXPECT_EQ(stats.calls, covered ? 2 : 1);
        EXPECT_EQ(asked, std::vector<std::int64_t>{20});
        ASSERT_EQ(sink_.answers.size(), 20u);
        for (const auto& [id, o] : sink_.answers) {
            if (covered) {
                EXPECT_TRUE(o.verified()) << id;
                continue;
            }
            EXPECT_EQ(o.outcome, "CALL_FAILED") << id;
            EXPECT_NE(o.error_message.find("monthly lookup quota cannot cover"), std::string::npos) << o.error_message;
        }
        ASSERT_EQ(sink_.history_only.size(), 1u);
        EXPECT_EQ(sink_.history_only[0].charged(), 20);
        // What the quota took on for the resend is handed back once recorded.
        EXPECT_EQ(sink_.settled, covered ? 20 : 0);
    }
}

TEST_F(BatchTest, AQuotaCheckThatFailsKeepsTheChargedAttempt) {
    control("fault", {{"mode", "malformed_json"}, {"endpoint", "batch"}});
    batch_hooks_.may_charge_again = [](std::int64_t) -> bool { throw std::runtime_error("quota check failed"); };
    EXPECT_THROW(run(items(20), gate_), std::runtime_error);
    ASSERT_EQ(sink_.history_only.size(), 1u);
    EXPECT_EQ(sink_.history_only[0].outcome, "MALFORMED_RESPONSE");
    EXPECT_EQ(sink_.history_only[0].charged(), 20);
}

TEST_F(BatchTest, ABatchThatFailsKeepsTheAttemptsOfChunksWaitingToBeSentAgain) {
    // The first chunk's call is read as garbage (charged) and waits its
    // backoff; the second's key is rejected, which ends the batch.
    settings_.max_concurrent_calls = 1;
    settings_.batch_size = 10;
    settings_.retry_base = std::chrono::milliseconds(2000);
    settings_.retry_max = std::chrono::milliseconds(2000);
    control("fault", {{"mode", "malformed_json"}, {"endpoint", "batch"}});
    batch_hooks_.may_charge_again = [](std::int64_t) { return true; };
    VectorSource source(items(20));
    struct RejectSecond : LookupSource {
        LookupSource& inner;
        std::function<void()> before_second;
        int calls = 0;
        RejectSecond(LookupSource& i, std::function<void()> f) : inner(i), before_second(std::move(f)) {}
        std::vector<LookupItem> next(std::size_t max, bool may_wait) override {
            if (++calls == 2) before_second();
            return inner.next(max, may_wait);
        }
        bool exhausted() const override { return inner.exhausted(); }
    } rejecting(source, [this] { control("fault", {{"mode", "status"}, {"status", 401}, {"endpoint", "batch"}}); });
    try {
        run_batch(*http_, settings_, "sim", "cv_test_key", rejecting, gate_, sink_, batch_hooks_, {});
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::AuthRejected);
    }
    EXPECT_EQ(attempts_charged(), 10) << "the garbled call's attempt";
    EXPECT_EQ(sink_.settled, 10);
}

TEST_F(BatchTest, ACallThatFailsAfterTheBatchFailedKeepsItsAttempt) {
    // One call's key is rejected (the batch fails); the other call, still in
    // flight, times out afterwards: not sent again, and its attempt kept.
    second_call_hangs({{"mode", "status"}, {"status", 401}, {"endpoint", "batch"}});
    bool asked = false;
    batch_hooks_.may_charge_again = [&](std::int64_t) { return asked = true; };
    EXPECT_THROW(run(items(20), gate_), Error);
    EXPECT_EQ(attempts_charged(), 10) << "the timed-out call's attempt";
    EXPECT_FALSE(asked);
}

TEST_F(BatchTest, ACallThatFailsAfterTheBatchStoppedEndsIt) {
    // Stopped once the first chunk is in; the other call then times out: the
    // batch ends (it used to wait for a retry that never came) with the
    // attempt kept.
    second_call_hangs({{"mode", "slow"}, {"ms", 1}, {"endpoint", "batch"}});
    batch_hooks_.should_stop = [this] { return sink_.chunks >= 1; };
    const std::int64_t t0 = batch_hooks_.steady_now_ms();
    batch_hooks_.should_abort = [&] { return batch_hooks_.steady_now_ms() - t0 > 10000; };
    BatchStats stats = run(items(40), gate_);
    EXPECT_TRUE(stats.stopped);
    EXPECT_EQ(stats.calls, 2);
    EXPECT_EQ(attempts_charged(), 10) << "the timed-out call's attempt";
    EXPECT_EQ(sink_.answers.size(), 10u);
}

TEST_F(BatchTest, A5xxIsSentAgainWithoutAskingTheQuota) {
    control("fault", {{"mode", "http500"}, {"endpoint", "batch"}});
    bool asked = false;
    batch_hooks_.may_charge_again = [&](std::int64_t) { return asked = true, false; };
    BatchStats stats = run(items(20), gate_);
    EXPECT_EQ(stats.calls, 2);
    EXPECT_FALSE(asked);
    for (const auto& [id, o] : sink_.answers) EXPECT_TRUE(o.verified()) << id;
}

TEST_F(BatchTest, AbortStopsEverything) {
    control("config", {{"latency_ms", 5000}});
    std::atomic<int> polls{0};
    batch_hooks_.should_abort = [&] { return ++polls > 20; };
    try {
        run(items(300), gate_);
        FAIL() << "expected an abort";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Aborted);
    }
    EXPECT_EQ(http_->in_flight(), 0u);
    gate_.expect_all_resolved(batch_hooks_.steady_now_ms());
}

namespace {

// Hands over chunks that settle only when the runner waits for them.
class SlowSink : public CollectingSink {
public:
    void record(std::vector<Observation>& observations) override {
        CollectingSink::record(observations);
        ++pending;
    }
    std::size_t unsettled() override { return pending; }
    void wait_settled() override {
        ++waits;
        pending = 0;
    }
    std::size_t pending = 0;
    int waits = 0;
};

// Holds its lookups back until the batch has nothing in flight (as lookups
// another session is buying are).
class DeferringSource : public LookupSource {
public:
    explicit DeferringSource(std::vector<LookupItem> items) : items_(std::move(items)) {}
    bool exhausted() const override { return pos_ >= items_.size(); }
    std::vector<LookupItem> next(std::size_t max, bool may_wait) override {
        ++asked;
        if (!may_wait && pos_ > 0) return {};
        if (may_wait) ++waited;
        std::vector<LookupItem> out;
        while (pos_ < items_.size() && out.size() < max) out.push_back(items_[pos_++]);
        return out;
    }
    int asked = 0, waited = 0;

private:
    std::vector<LookupItem> items_;
    std::size_t pos_ = 0;
};

}  // namespace

TEST_F(BatchTest, AFailedCallLetsTheCallsInFlightFinishFirst) {
    // Three chunks in flight at once; one fails for good (no retries,
    // all_or_nothing): the batch raises, but the other two chunks' answers,
    // paid for, were handed over first.
    settings_.max_retries = 0;
    settings_.max_concurrent_calls = 3;
    control("config", {{"latency_ms", 200}});
    control("fault", {{"mode", "http500"}, {"count", 1}, {"endpoint", "batch"}});
    BatchOptions options;
    options.all_or_nothing = true;
    EXPECT_THROW(run(items(300), gate_, options), Error);
    EXPECT_EQ(sink_.answers.size(), 200u);
    EXPECT_EQ(counters()["lookups"], 200);  // the failed call charged nothing
}

TEST_F(BatchTest, ARetryAfterBeyondTheLimitStillKeepsTheAnswersInFlight) {
    settings_.max_concurrent_calls = 3;
    settings_.max_retry_after = std::chrono::milliseconds(5000);
    control("config", {{"latency_ms", 200}});
    control("fault", {{"mode", "http429"}, {"retry_after", 600}, {"count", 1}, {"endpoint", "batch"}});
    try {
        run(items(300), gate_);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::RemoteFailure);
        EXPECT_NE(std::string(e.what()).find("max_retry_after"), std::string::npos);
    }
    EXPECT_EQ(sink_.answers.size(), 200u);
    EXPECT_GE(gate_.paused_until_ms, batch_hooks_.steady_now_ms() + 500 * 1000);
}

TEST_F(BatchTest, UnsettledHandOversCountAgainstConcurrency) {
    settings_.batch_size = 10;
    settings_.max_concurrent_calls = 2;
    control("config", {{"latency_ms", 50}});
    SlowSink sink;
    VectorSource source(items(100));
    run_batch(*http_, settings_, "sim", "cv_test_key", source, gate_, sink, batch_hooks_, {});
    EXPECT_EQ(sink.answers.size(), 100u);
    EXPECT_GT(sink.waits, 0);
    EXPECT_EQ(sink.pending, 0u);  // settled before returning
    EXPECT_LE(counters()["max_in_flight"], 2);
}

TEST_F(BatchTest, DeferredLookupsAreAskedForAgainWhenNothingIsInFlight) {
    settings_.batch_size = 10;
    DeferringSource source(items(40));
    run_batch(*http_, settings_, "sim", "cv_test_key", source, gate_, sink_, batch_hooks_, {});
    EXPECT_EQ(sink_.answers.size(), 40u);
    EXPECT_GT(source.waited, 0);
}

TEST_F(BatchTest, ACallWhoseAnswerNeverArrivedIsCharged) {
    settings_.max_retries = 1;
    settings_.timeout = std::chrono::milliseconds(300);
    control("fault", {{"mode", "hang"}, {"ms", 2000}, {"count", 1}, {"endpoint", "batch"}});
    run(items(20), gate_);
    ASSERT_EQ(sink_.history_only.size(), 1u);
    EXPECT_EQ(sink_.history_only[0].outcome, "TRANSPORT_ERROR");
    EXPECT_EQ(sink_.history_only[0].charged(), 20);
    EXPECT_EQ(sink_.answers.size(), 20u);
    for (const auto& [id, o] : sink_.answers) EXPECT_EQ(o.charged(), 1) << id;
}

TEST_F(BatchTest, StopEndsTheBatchAfterTheCallsInFlight) {
    control("config", {{"latency_ms", 150}});
    settings_.max_concurrent_calls = 2;
    // Stop once the first chunk's answers are in: the other call in flight
    // still ends and is recorded; nothing more is sent.
    batch_hooks_.should_stop = [this] { return sink_.chunks >= 1; };
    BatchStats stats = run(items(1000), gate_);
    EXPECT_TRUE(stats.stopped);
    EXPECT_EQ(stats.calls, 2);
    EXPECT_EQ(counters()["lookups"], 200);
    EXPECT_EQ(sink_.answers.size(), 200u);
    EXPECT_EQ(stats.in_flight, 0);
    EXPECT_EQ(stats.calls_ended, 2);
    EXPECT_GE(stats.call_ms_total, 2 * 150);
    gate_.expect_all_resolved(batch_hooks_.steady_now_ms());
}
