// A simulator running in-process on a free loopback port, for core tests that
// need a real HTTP peer. Sleeps requested by the code under test are recorded.
#pragma once

#include "core/http_client.h"
#include "core/options.h"
#include "core/single_lookup.h"

#include "dates.h"
#include "simulator.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

class SimFixture : public ::testing::Test {
protected:
    void SetUp() override {
        cvsim::SimConfig config;
        config.today_days = cvsim::today_utc_days();
        config.rate_limit = 0;
        sim_ = std::make_unique<cvsim::Simulator>(config);
        server_.new_task_queue = [] { return new httplib::ThreadPool(16); };
        sim_->install(server_);
        server_.Get("/peer", [this](const httplib::Request& req, httplib::Response& res) {
            std::lock_guard<std::mutex> lock(mu_);
            ports_.insert(req.remote_port);
            res.set_content("{}", "application/json");
        });
        port_ = server_.bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { server_.listen_after_bind(); });
        while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        base_ = "http://127.0.0.1:" + std::to_string(port_);
        settings_ = cv::core::ServerSettings::from_options(
            {{"url", base_ + "/v1"}, {"max_retries", "2"}, {"retry_base", "100ms"}, {"retry_max", "1s"}});
        hooks_.should_abort = [] { return false; };
        hooks_.sleep = [this](std::chrono::milliseconds d) { sleeps_.push_back(d.count()); };
        hooks_.random01 = [] { return 0.5; };
        hooks_.now_ms = [] { return 1700000000000LL; };
    }
    void TearDown() override {
        http_.reset();  // close keep-alive connections so the server stops at once
        sim_->shutdown();
        server_.stop();
        thread_.join();
    }
    void control(const std::string& path, const nlohmann::json& body) {
        httplib::Client c("127.0.0.1", port_);
        auto r = c.Post(("/_sim/" + path).c_str(), body.dump(), "application/json");
        ASSERT_TRUE(r);
        ASSERT_EQ(r->status, 200);
    }
    nlohmann::json counters() {
        httplib::Client c("127.0.0.1", port_);
        return nlohmann::json::parse(c.Get("/_sim/counters")->body);
    }

    std::unique_ptr<cvsim::Simulator> sim_;
    httplib::Server server_;
    std::thread thread_;
    int port_ = 0;
    std::string base_;
    std::mutex mu_;
    std::set<int> ports_;
    std::unique_ptr<cv::core::HttpClient> http_ = std::make_unique<cv::core::HttpClient>();
    cv::core::ServerSettings settings_;
    cv::core::CallHooks hooks_;
    std::vector<long long> sleeps_;
};
