// The ContractorVerify API simulator: routes of ../shared/API.md plus the
// /_sim/ control surface (counters, reset, license overrides, faults, config).
#pragma once

#include "counters.h"
#include "dataset.h"
#include "faults.h"
#include "rate_limiter.h"

#include <httplib.h>

#include <atomic>
#include <condition_variable>
#include <list>
#include <mutex>
#include <set>
#include <string>
#include <thread>

namespace cvsim {

struct SimConfig {
    std::set<std::string> keys{"cv_test_key"};
    int rate_limit = 10;  // batch calls per window; 0: unlimited
    std::chrono::milliseconds rate_window{60000};
    WindowMode rate_mode = WindowMode::Fixed;
    int verify_rate_limit = 0;  // single lookups per window; 0: unlimited
    int latency_ms = 0;         // per call
    int record_latency_ms = 0;  // per record
    int slow_board_ms = 0;      // extra per record in a slow state (LA, MS)
    int webhook_delay_ms = 500;
    int webhook_timeout_ms = 10000;
    int webhook_backoff_ms = 1000;
    std::int64_t today_days = 0;
};

class Simulator {
public:
    explicit Simulator(SimConfig config);
    ~Simulator();

    void install(httplib::Server& server);
    // Wakes every sleeping handler and joins webhook deliveries.
    void shutdown();

private:
    void handle_verify(const httplib::Request& req, httplib::Response& res);
    void handle_batch(const httplib::Request& req, httplib::Response& res);
    void handle_counters(const httplib::Request& req, httplib::Response& res);
    void handle_reset(const httplib::Request& req, httplib::Response& res);
    void handle_license(const httplib::Request& req, httplib::Response& res);
    void handle_fault(const httplib::Request& req, httplib::Response& res);
    void handle_config(const httplib::Request& req, httplib::Response& res);

    bool authorized(const httplib::Request& req, std::string& key, httplib::Response& res);
    // Counts the call, checks the key and the endpoint's rate limit; answers
    // 401 or 429 itself and returns false when the call may not proceed.
    bool admit(const char* endpoint, RateLimiter& limiter, const httplib::Request& req,
               httplib::Response& res);
    // Applies a fault that replaces the whole response; true if it did.
    bool apply_call_fault(const Fault& f, const httplib::Request& req, httplib::Response& res);
    // Sends body, corrupted as the fault says (malformed, truncated, oversized).
    void send_body(const std::string& body, int status, const std::optional<Fault>& f,
                   httplib::Response& res);
    nlohmann::json process_record(const nlohmann::json& item, int& slow_records);
    void sleep_ms(int ms);
    void deliver_webhook(std::string url, std::string body, std::string batch_id);
    std::string next_batch_id();
    std::string current_month() const;

    std::mutex config_mu_;
    SimConfig config_;
    const SimConfig initial_config_;  // what /_sim/reset restores
    Dataset dataset_;
    RateLimiter batch_limiter_;
    RateLimiter verify_limiter_;
    Counters counters_;
    FaultQueue faults_;

    std::atomic<bool> stopping_{false};
    std::mutex sleep_mu_;
    std::condition_variable sleep_cv_;
    std::uint64_t sleep_generation_ = 0;  // a reset wakes every sleeping handler
    std::atomic<std::uint64_t> batch_seq_{0};

    std::mutex webhooks_mu_;
    std::list<std::thread> webhook_threads_;
};

}  // namespace cvsim
