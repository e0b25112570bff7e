// Contract tests: the simulator honours ../shared/API.md. Each test runs a
// simulator in-process on a free loopback port and talks HTTP to it.
#include "dataset.h"
#include "dates.h"
#include "simulator.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <future>
#include <map>
#include <set>
#include <thread>
#include <vector>

using cvsim::json;

namespace {

class SimTest : public ::testing::Test {
protected:
    void start(cvsim::SimConfig config = {}) {
        if (config.today_days == 0) config.today_days = cvsim::today_utc_days();
        sim_ = std::make_unique<cvsim::Simulator>(config);
        server_ = std::make_unique<httplib::Server>();
        server_->new_task_queue = [] { return new httplib::ThreadPool(32); };
        sim_->install(*server_);
        port_ = server_->bind_to_any_port("127.0.0.1");
        ASSERT_GT(port_, 0);
        thread_ = std::thread([this] { server_->listen_after_bind(); });
        while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    void TearDown() override {
        if (sim_) sim_->shutdown();
        if (server_) server_->stop();
        if (thread_.joinable()) thread_.join();
    }

    httplib::Client client(const char* key = "cv_test_key") {
        httplib::Client c("127.0.0.1", port_);
        if (key) c.set_bearer_token_auth(key);
        c.set_read_timeout(std::chrono::seconds(10));
        return c;
    }
    httplib::Result verify(const std::string& state, const std::string& license) {
        return client().Get("/v1/verify?state=" + state + "&license_number=" + license);
    }
    httplib::Result batch(const json& body, const char* key = "cv_test_key") {
        return client(key).Post("/v1/verify/batch", body.dump(), "application/json");
    }
    json counters() { return json::parse(client(nullptr).Get("/_sim/counters")->body); }
    void fault(const json& f) {
        auto r = client(nullptr).Post("/_sim/fault", f.dump(), "application/json");
        ASSERT_TRUE(r);
        ASSERT_EQ(r->status, 200) << r->body;
    }
    void configure(const json& c) {
        auto r = client(nullptr).Post("/_sim/config", c.dump(), "application/json");
        ASSERT_TRUE(r);
        ASSERT_EQ(r->status, 200);
    }
    static json requests(int n, const std::string& state = "CA", int first = 100000) {
        json reqs = json::array();
        for (int i = 0; i < n; ++i)
            reqs.push_back({{"id", "c" + std::to_string(i)},
                            {"state", state},
                            {"license_number", std::to_string(first + i)}});
        return {{"requests", reqs}};
    }

    std::unique_ptr<cvsim::Simulator> sim_;
    std::unique_ptr<httplib::Server> server_;
    std::thread thread_;
    int port_ = 0;
};

std::string status_of(const json& record) {
    std::string s = record.contains("status") ? record["status"].get<std::string>()
                                              : record["license_status"].get<std::string>();
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

}  // namespace

TEST_F(SimTest, RejectsMissingOrWrongKeyWith401) {
    start();
    auto none = client(nullptr).Get("/v1/verify?state=CA&license_number=1052183");
    ASSERT_TRUE(none);
    EXPECT_EQ(none->status, 401);
    EXPECT_EQ(json::parse(none->body)["error_code"], "UNAUTHORIZED");
    auto wrong = client("nope").Get("/v1/verify?state=CA&license_number=1052183");
    EXPECT_EQ(wrong->status, 401);
    EXPECT_EQ(batch(requests(1), "nope")->status, 401);
    EXPECT_EQ(counters()["unauthorized"], 3);
    EXPECT_EQ(counters()["lookups"], 0);
}

TEST_F(SimTest, SingleLookupReturnsTheFixtureRecord) {
    start();
    auto r = verify("CA", "1052183");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200);
    json rec = json::parse(r->body);
    EXPECT_EQ(rec["license_number"], "1052183");
    EXPECT_EQ(rec["business_name"], "Pacific Electric Inc");
    EXPECT_EQ(status_of(rec), "ACTIVE");
    EXPECT_EQ(rec["bond_amount"], 2500000);
}

TEST_F(SimTest, DatasetIsDeterministicAndRealistic) {
    const std::int64_t today = cvsim::today_utc_days();
    cvsim::Dataset a(today), b(today);
    std::map<std::string, int> statuses;
    int not_found = 0, expired = 0, within30 = 0, within90 = 0, later = 0, disciplined = 0,
        no_bond = 0;
    for (int i = 0; i < 5000; ++i) {
        const std::string lic = std::to_string(200000 + i * 7);
        auto x = a.by_license("CA", lic);
        auto y = b.by_license("CA", lic);
        ASSERT_EQ(x.kind, y.kind);
        ASSERT_EQ(x.record, y.record) << lic;
        if (x.kind == cvsim::OutcomeKind::NotFound) {
            ++not_found;
            continue;
        }
        ASSERT_EQ(x.kind, cvsim::OutcomeKind::Found);
        ++statuses[x.record["status"].get<std::string>()];
        const auto exp = *cvsim::parse_iso_date(x.record["expiration_date"]);
        if (exp < today) ++expired;
        else if (exp - today <= 30) ++within30;
        else if (exp - today <= 90) ++within90;
        else ++later;
        if (!x.record["disciplinary_actions"].empty()) ++disciplined;
        if (x.record["bond_amount"].is_null()) ++no_bond;
    }
    for (const char* s : {"ACTIVE", "EXPIRED", "SUSPENDED", "REVOKED", "CANCELLED", "PENDING",
                          "INACTIVE"})
        EXPECT_GT(statuses[s], 20) << s;
    EXPECT_GT(statuses["ACTIVE"], 3000);
    EXPECT_GT(not_found, 200);
    EXPECT_LT(not_found, 600);
    EXPECT_GT(expired, 300);
    EXPECT_GT(within30, 200);
    EXPECT_GT(within90, 200);
    EXPECT_GT(later, 2000);
    EXPECT_GT(disciplined, 300);
    EXPECT_GT(no_bond, 300);
}

TEST_F(SimTest, EveryStateAndDcHasAFormat) {
    const char* codes[] = {"AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA",
                           "HI", "ID", "IL", "IN", "IA", "KS", "KY", "LA", "ME", "MD", "MA",
                           "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY",
                           "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX",
                           "UT", "VT", "VA", "WA", "WV", "WI", "WY"};
    EXPECT_EQ(sizeof codes / sizeof *codes, 51u);
    for (const char* c : codes) EXPECT_TRUE(cvsim::Dataset::known_state(c)) << c;
    EXPECT_FALSE(cvsim::Dataset::known_state("XX"));
    EXPECT_FALSE(cvsim::Dataset::known_state("PR"));
}

TEST_F(SimTest, PerStateFormatsGive422) {
    start();
    EXPECT_EQ(verify("CA", "12345")->status, 422);      // CA: 6-8 digits
    EXPECT_EQ(verify("CA", "123456789")->status, 422);
    EXPECT_NE(verify("CA", "123456")->status, 422);
    EXPECT_NE(verify("CA", "12345678")->status, 422);
    auto tx = verify("TX", "1052183");                  // a CA number in TX
    EXPECT_EQ(tx->status, 422);
    EXPECT_EQ(json::parse(tx->body)["error_code"], "INVALID_STATE_FORMAT");
    auto bad_state = verify("ZZ", "123456");
    EXPECT_EQ(bad_state->status, 422);
    EXPECT_EQ(json::parse(bad_state->body)["error_code"], "INVALID_REQUEST");
    auto missing = client().Get("/v1/verify?state=CA");
    EXPECT_EQ(missing->status, 422);
    EXPECT_EQ(json::parse(missing->body)["error_code"], "INVALID_REQUEST");
}

TEST_F(SimTest, NameLookupsUniqueAndMultiple) {
    start();
    auto unique = client().Get("/v1/verify?state=CA&name=pacific%20electric%2C%20inc.");
    ASSERT_EQ(unique->status, 200);
    EXPECT_EQ(json::parse(unique->body)["license_number"], "1052183");
    auto many = client().Get("/v1/verify?state=WA&name=Pacific%20Northwest%20Roofing%20LLC");
    ASSERT_EQ(many->status, 409);
    json body = json::parse(many->body);
    EXPECT_EQ(body["error_code"], "MULTIPLE_CANDIDATES");
    EXPECT_EQ(body["candidates"].size(), 3u);
    EXPECT_EQ(client().Get("/v1/verify?state=WA&name=Nobody%20Builds")->status, 404);
}

TEST_F(SimTest, SlowBoardsTimeOutSometimes) {
    start();
    int timeouts = 0, found = 0;
    for (int i = 0; i < 60; ++i) {
        auto r = verify("LA", std::to_string(50000 + i));
        if (r->status == 504) {
            ++timeouts;
            EXPECT_EQ(json::parse(r->body)["error_code"], "STATE_TIMEOUT");
        }
        if (r->status == 200) ++found;
    }
    EXPECT_GT(timeouts, 5);
    EXPECT_GT(found, 30);
    // A fast state never times out.
    for (int i = 0; i < 60; ++i) EXPECT_NE(verify("CA", std::to_string(500000 + i))->status, 504);
}

TEST_F(SimTest, SingleResponsesUseEveryTolerance) {
    start();
    std::set<std::string> status_keys, cases;
    bool only_classification = false, only_classifications = false;
    for (int i = 0; i < 80; ++i) {
        auto r = verify("CA", std::to_string(300000 + i));
        if (r->status != 200) continue;
        json rec = json::parse(r->body);
        const std::string key = rec.contains("status") ? "status" : "license_status";
        status_keys.insert(key);
        const std::string s = rec[key];
        cases.insert(s == status_of(rec) ? "upper" : "other");
        if (rec.contains("classification") && !rec.contains("classifications")) only_classification = true;
        if (!rec.contains("classification") && rec.contains("classifications")) only_classifications = true;
        EXPECT_TRUE(rec.contains("data_source"));  // unknown extra field
    }
    EXPECT_EQ(status_keys.size(), 2u);
    EXPECT_EQ(cases.size(), 2u);
    EXPECT_TRUE(only_classification);
    EXPECT_TRUE(only_classifications);
}

TEST_F(SimTest, BatchEchoesIdsAndCountsLookups) {
    start();
    json body = {{"requests",
                  {{{"id", "contractor_001"}, {"state", "CA"}, {"license_number", "1052183"}},
                   {{"id", 42}, {"state", "WA"}, {"name", "Pacific Northwest Roofing LLC"}},
                   {{"id", "x3"}, {"state", "CA"}, {"license_number", "12"}}}}};
    auto r = batch(body);
    ASSERT_EQ(r->status, 200);
    json out = json::parse(r->body);
    EXPECT_EQ(out["processed"], 3);
    EXPECT_EQ(out["succeeded"], 1);
    EXPECT_EQ(out["failed"], 2);
    ASSERT_EQ(out["results"].size(), 3u);
    EXPECT_EQ(out["results"][0]["id"], "contractor_001");
    EXPECT_EQ(out["results"][0]["license_status"], "Active");
    EXPECT_EQ(out["results"][1]["id"], 42);
    EXPECT_EQ(out["results"][1]["error_code"], "MULTIPLE_CANDIDATES");
    EXPECT_EQ(out["results"][1]["candidates"].size(), 3u);
    EXPECT_EQ(out["results"][2]["error_code"], "INVALID_STATE_FORMAT");
    json c = counters();
    EXPECT_EQ(c["calls"]["batch"], 1);
    EXPECT_EQ(c["lookups"], 3);
    EXPECT_EQ(c["per_license"]["CA:1052183"], 1);
    EXPECT_EQ(c["batch_sizes"], json::array({3}));
}

TEST_F(SimTest, BatchAcceptsLicensesKeyAndRejectsBadBodies) {
    start();
    json lic = {{"licenses", {{{"id", "a"}, {"state", "CA"}, {"license_number", "1052183"}}}}};
    EXPECT_EQ(batch(lic)->status, 200);
    EXPECT_EQ(batch(requests(100))->status, 200);
    auto big = batch(requests(101));
    EXPECT_EQ(big->status, 400);
    EXPECT_EQ(json::parse(big->body)["error_code"], "BATCH_TOO_LARGE");
    auto empty = batch(json{{"requests", json::array()}});
    EXPECT_EQ(empty->status, 400);
    EXPECT_EQ(json::parse(empty->body)["error_code"], "INVALID_REQUEST");
    auto garbage = client().Post("/v1/verify/batch", "{not json", "application/json");
    EXPECT_EQ(garbage->status, 400);
    EXPECT_EQ(json::parse(garbage->body)["error_code"], "INVALID_REQUEST");
}

TEST_F(SimTest, FixedWindowRateLimitAnswers429AfterTheLimit) {
    cvsim::SimConfig cfg;
    cfg.rate_limit = 3;
    cfg.rate_window = std::chrono::milliseconds(2000);
    start(cfg);
    // Start just after a window boundary so all four calls share one window.
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now().time_since_epoch());
    std::this_thread::sleep_for(std::chrono::milliseconds(2000 - now.count() % 2000 + 20));
    for (int i = 0; i < 3; ++i) EXPECT_EQ(batch(requests(1))->status, 200) << i;
    auto limited = batch(requests(1));
    ASSERT_EQ(limited->status, 429);
    EXPECT_EQ(json::parse(limited->body)["error_code"], "RATE_LIMITED");
    const int retry_after = std::stoi(limited->get_header_value("Retry-After"));
    EXPECT_GE(retry_after, 1);
    EXPECT_LE(retry_after, 2);
    EXPECT_EQ(counters()["rate_limited"], 1);
    EXPECT_EQ(counters()["lookups"], 3);  // a 429 costs no lookup
    std::this_thread::sleep_for(std::chrono::seconds(retry_after));
    EXPECT_EQ(batch(requests(1))->status, 200);
    // Single lookups are not limited unless asked.
    EXPECT_EQ(verify("CA", "1052183")->status, 200);
}

TEST_F(SimTest, SlidingWindowRateLimit) {
    cvsim::SimConfig cfg;
    cfg.rate_limit = 2;
    cfg.rate_window = std::chrono::milliseconds(1500);
    cfg.rate_mode = cvsim::WindowMode::Sliding;
    start(cfg);
    EXPECT_EQ(batch(requests(1))->status, 200);
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    EXPECT_EQ(batch(requests(1))->status, 200);
    auto limited = batch(requests(1));
    ASSERT_EQ(limited->status, 429);
    EXPECT_EQ(limited->get_header_value("Retry-After"), "1");
    // The first call leaves the window ~800 ms later; the third goes through then.
    std::this_thread::sleep_for(std::chrono::milliseconds(900));
    EXPECT_EQ(batch(requests(1))->status, 200);
    EXPECT_EQ(batch(requests(1))->status, 429);
    EXPECT_EQ(counters()["max_batch_calls_in_window"], 2);
}

TEST_F(SimTest, RateLimitIsPerKey) {
    cvsim::SimConfig cfg;
    cfg.keys = {"k1", "k2"};
    cfg.rate_limit = 1;
    cfg.rate_window = std::chrono::milliseconds(60000);
    start(cfg);
    EXPECT_EQ(batch(requests(1), "k1")->status, 200);
    EXPECT_EQ(batch(requests(1), "k1")->status, 429);
    EXPECT_EQ(batch(requests(1), "k2")->status, 200);
}

TEST_F(SimTest, StatusFaultsFireForTheNextNCallsOnly) {
    start();
    fault({{"mode", "http500"}, {"count", 2}, {"endpoint", "verify"}});
    EXPECT_EQ(batch(requests(1))->status, 200);  // other endpoint unaffected
    EXPECT_EQ(verify("CA", "1052183")->status, 500);
    EXPECT_EQ(verify("CA", "1052183")->status, 500);
    EXPECT_EQ(verify("CA", "1052183")->status, 200);
    fault({{"mode", "http503"}});
    EXPECT_EQ(verify("CA", "1052183")->status, 503);
    fault({{"mode", "http429"}, {"retry_after", 7}});
    auto r = verify("CA", "1052183");
    EXPECT_EQ(r->status, 429);
    EXPECT_EQ(r->get_header_value("Retry-After"), "7");
    EXPECT_EQ(counters()["faults_fired"]["http500"], 2);
}

TEST_F(SimTest, BodyFaultsCorruptTheResponse) {
    start();
    fault({{"mode", "malformed_json"}});
    auto m = verify("CA", "1052183");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->status, 200);
    EXPECT_TRUE(json::parse(m->body, nullptr, false).is_discarded());

    fault({{"mode", "truncated"}});
    auto t = verify("CA", "1052183");
    EXPECT_FALSE(t);  // connection closed before Content-Length bytes

    fault({{"mode", "oversized"}, {"bytes", 3 << 20}});
    auto o = verify("CA", "1052183");
    ASSERT_TRUE(o);
    EXPECT_GE(o->body.size(), static_cast<std::size_t>(3 << 20));
}

TEST_F(SimTest, ConnectionFaultsResetAndHang) {
    start();
    fault({{"mode", "reset"}});
    auto r = verify("CA", "1052183");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error(), httplib::Error::Success);

    fault({{"mode", "hang"}, {"ms", 3000}});
    auto c = client();
    c.set_read_timeout(std::chrono::milliseconds(300));
    const auto t0 = std::chrono::steady_clock::now();
    auto h = c.Get("/v1/verify?state=CA&license_number=1052183");
    EXPECT_FALSE(h);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
    EXPECT_EQ(verify("CA", "1052183")->status, 200);  // back to normal
}

TEST_F(SimTest, BatchShapeFaults) {
    start();
    auto ids = [](const json& out) {
        std::vector<std::string> v;
        for (const auto& r : out["results"]) v.push_back(r["id"].get<std::string>());
        return v;
    };
    const auto in_order = ids(json::parse(batch(requests(10))->body));
    fault({{"mode", "missing_ids"}, {"drop", 2}});
    EXPECT_EQ(json::parse(batch(requests(10))->body)["results"].size(), 8u);
    fault({{"mode", "shuffled"}});
    auto shuffled = ids(json::parse(batch(requests(10))->body));
    EXPECT_NE(shuffled, in_order);
    std::sort(shuffled.begin(), shuffled.end());
    auto sorted = in_order;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(shuffled, sorted);
    fault({{"mode", "extra_id"}});
    auto extra = ids(json::parse(batch(requests(10))->body));
    EXPECT_EQ(extra.size(), 11u);
    EXPECT_EQ(extra.back(), "sim_invented_id");
}

TEST_F(SimTest, OverridesChangeALicense) {
    start();
    auto set = client(nullptr).Post(
        "/_sim/license",
        json{{"state", "CA"}, {"license_number", "1052183"}, {"set", {{"status", "SUSPENDED"}}}}.dump(),
        "application/json");
    ASSERT_EQ(set->status, 200);
    EXPECT_EQ(status_of(json::parse(verify("CA", "1052183")->body)), "SUSPENDED");
    client(nullptr).Post("/_sim/license",
                         json{{"state", "CA"}, {"license_number", "1052183"}, {"outcome", "STATE_TIMEOUT"}}.dump(),
                         "application/json");
    EXPECT_EQ(verify("CA", "1052183")->status, 504);
    client(nullptr).Post("/_sim/reset", "", "application/json");
    EXPECT_EQ(status_of(json::parse(verify("CA", "1052183")->body)), "ACTIVE");
    EXPECT_EQ(counters()["lookups"], 1);
}

TEST_F(SimTest, LatencyAndConcurrencyAreMeasured) {
    cvsim::SimConfig cfg;
    cfg.latency_ms = 300;
    start(cfg);
    std::vector<std::future<int>> calls;
    for (int i = 0; i < 4; ++i)
        calls.push_back(std::async(std::launch::async, [this] { return verify("CA", "1052183")->status; }));
    for (auto& f : calls) EXPECT_EQ(f.get(), 200);
    EXPECT_EQ(counters()["max_in_flight"], 4);
    EXPECT_EQ(counters()["calls"]["verify"], 4);
}

TEST_F(SimTest, AsyncBatchDeliversToTheWebhookWithRetries) {
    cvsim::SimConfig cfg;
    cfg.webhook_delay_ms = 50;
    cfg.webhook_backoff_ms = 50;
    start(cfg);

    httplib::Server receiver;
    std::atomic<int> hits{0};
    std::promise<json> delivered;
    receiver.Post("/hook", [&](const httplib::Request& req, httplib::Response& res) {
        if (++hits == 1) {
            res.status = 500;  // first delivery fails; the simulator must retry
            return;
        }
        delivered.set_value(json::parse(req.body));
        res.status = 200;
    });
    const int port = receiver.bind_to_any_port("127.0.0.1");
    std::thread t([&] { receiver.listen_after_bind(); });

    json body = requests(250);
    body["webhook_url"] = "http://127.0.0.1:" + std::to_string(port) + "/hook";
    auto r = batch(body);
    ASSERT_EQ(r->status, 202);
    json ack = json::parse(r->body);
    EXPECT_EQ(ack["status"], "processing");
    auto fut = delivered.get_future();
    ASSERT_EQ(fut.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    json result = fut.get();
    EXPECT_EQ(result["batch_id"], ack["batch_id"]);
    EXPECT_EQ(result["results"].size(), 250u);
    EXPECT_EQ(hits.load(), 2);
    receiver.stop();
    t.join();
    // The simulator counts the delivery once the receiver's 200 is back.
    for (int i = 0; i < 200 && counters()["webhooks"]["delivered"] != 1; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(counters()["webhooks"]["delivered"], 1);
    EXPECT_EQ(counters()["webhooks"]["attempts"], 2);
    EXPECT_EQ(counters()["calls"]["batch_async"], 1);

    json too_big = requests(1001);
    too_big["webhook_url"] = "http://127.0.0.1:1/hook";
    EXPECT_EQ(batch(too_big)->status, 400);
}

TEST_F(SimTest, ResetRestoresTheStartupConfig) {
    cvsim::SimConfig cfg;
    cfg.rate_limit = 7;
    start(cfg);
    configure({{"latency_ms", 500}, {"rate_limit", 1}});
    auto changed = json::parse(client(nullptr).Get("/_sim/config")->body);
    EXPECT_EQ(changed["latency_ms"], 500);
    client(nullptr).Post("/_sim/reset", "", "application/json");
    auto restored = json::parse(client(nullptr).Get("/_sim/config")->body);
    EXPECT_EQ(restored["latency_ms"], 0);
    EXPECT_EQ(restored["rate_limit"], 7);
}

TEST_F(SimTest, ResetEndsHangingCalls) {
    start();
    fault({{"mode", "hang"}, {"ms", 30000}});
    auto hung = std::async(std::launch::async, [this] { return verify("CA", "1052183"); });
    for (int i = 0; i < 200 && counters()["in_flight"] == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ASSERT_EQ(counters()["in_flight"], 1);
    client(nullptr).Post("/_sim/reset", "", "application/json");
    ASSERT_EQ(hung.wait_for(std::chrono::seconds(5)), std::future_status::ready);
    EXPECT_EQ(counters()["in_flight"], 0);
    EXPECT_EQ(counters()["max_in_flight"], 0);
}
