// cv_simulator: a local implementation of the ContractorVerify API contract
// (../shared/API.md) for tests, the demo and benchmarks.
#include "dates.h"
#include "simulator.h"

#include <httplib.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <pthread.h>
#include <string>
#include <thread>

namespace {

const char* kUsage = R"(usage: cv_simulator [options]

A local ContractorVerify API: GET /v1/verify, POST /v1/verify/batch (sync up to
100 records, async with webhook_url up to 1,000), bearer-key auth, per-key rate
limiting, a deterministic dataset for all 50 states and DC, and a /_sim/ control
surface (counters, reset, license overrides, fault injection, config).

options:
  --host ADDR              address to listen on (default 127.0.0.1)
  --port N                 port; 0 picks a free one (default 8089)
  --port-file PATH         write the bound port to PATH once listening
  --key KEY                accepted API key; repeat for several (default cv_test_key)
  --rate-limit N           batch calls per window per key; 0 = unlimited (default 10)
  --rate-window MS         window length in milliseconds (default 60000)
  --rate-mode fixed|sliding  clock-aligned fixed window or sliding window (default fixed)
  --verify-rate-limit N    single lookups per window per key; 0 = unlimited (default 0)
  --latency-ms N           added to every call (default 0)
  --record-latency-ms N    added per record in a call (default 0)
  --slow-board-ms N        added per record in a slow state, LA or MS (default 0)
  --webhook-delay-ms N     delay before an async batch is delivered (default 500)
  --webhook-timeout-ms N   a delivery not answered 200 within N ms is retried (default 10000)
  --webhook-backoff-ms N   first retry delay, doubling, 3 retries (default 1000)
  --today YYYY-MM-DD       the dataset's today (default: the current UTC date)
  --threads N              server worker threads (default 64)
  --quiet                  no start-up line
  --help                   this text

control surface:
  GET  /_sim/counters      calls per endpoint, lookups (per license, per month), 429s sent,
                           401s, faults fired, max concurrent calls, batch sizes,
                           max accepted batch calls in any rate window, webhook deliveries
  POST /_sim/reset         zero the counters, clear faults, rate windows and license
                           overrides (?keep=overrides keeps the overrides), and restore
                           the configuration given on the command line
  POST /_sim/license       {"state","license_number","set":{...fields}} or {...,"outcome":
                           "NOT_FOUND"|"STATE_TIMEOUT"|"INVALID_STATE_FORMAT"}
  POST /_sim/fault         {"mode", "count":1, "endpoint":"any"|"verify"|"batch", ...}; modes:
                           http500 http503 status(+"status") http429(+"retry_after")
                           malformed_json truncated reset hang(+"ms") oversized(+"bytes")
                           missing_ids(+"drop") shuffled extra_id slow(+"ms")
                           echo_text(+"text": quoted in every error message and a detail)
  GET|POST /_sim/config    read or change rate_limit, rate_window_ms, rate_mode,
                           verify_rate_limit, latency_ms, record_latency_ms, slow_board_ms,
                           webhook_delay_ms, webhook_timeout_ms, webhook_backoff_ms
)";

[[noreturn]] void usage_error(const std::string& message) {
    std::fprintf(stderr, "cv_simulator: %s\nTry --help.\n", message.c_str());
    std::exit(2);
}

int to_int(const std::string& flag, const char* value) {
    char* end = nullptr;
    const long v = std::strtol(value, &end, 10);
    if (end == value || *end != '\0' || v < 0 || v > 100000000)
        usage_error("invalid value for " + flag + ": " + value);
    return static_cast<int>(v);
}

}  // namespace

int main(int argc, char** argv) {
    cvsim::SimConfig config;
    config.today_days = cvsim::today_utc_days();
    std::string host = "127.0.0.1", port_file;
    int port = 8089, threads = 64;
    bool quiet = false, keys_given = false;

    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        auto value = [&]() -> const char* {
            if (i + 1 >= argc) usage_error(flag + " needs a value");
            return argv[++i];
        };
        if (flag == "--help" || flag == "-h") {
            std::fputs(kUsage, stdout);
            return 0;
        } else if (flag == "--host") {
            host = value();
        } else if (flag == "--port") {
            port = to_int(flag, value());
        } else if (flag == "--port-file") {
            port_file = value();
        } else if (flag == "--key") {
            if (!keys_given) config.keys.clear();
            keys_given = true;
            config.keys.insert(value());
        } else if (flag == "--rate-limit") {
            config.rate_limit = to_int(flag, value());
        } else if (flag == "--rate-window") {
            config.rate_window = std::chrono::milliseconds(to_int(flag, value()));
            if (config.rate_window.count() == 0) usage_error("--rate-window must be positive");
        } else if (flag == "--rate-mode") {
            const std::string m = value();
            if (m != "fixed" && m != "sliding") usage_error("--rate-mode is fixed or sliding");
            config.rate_mode = m == "sliding" ? cvsim::WindowMode::Sliding : cvsim::WindowMode::Fixed;
        } else if (flag == "--verify-rate-limit") {
            config.verify_rate_limit = to_int(flag, value());
        } else if (flag == "--latency-ms") {
            config.latency_ms = to_int(flag, value());
        } else if (flag == "--record-latency-ms") {
            config.record_latency_ms = to_int(flag, value());
        } else if (flag == "--slow-board-ms") {
            config.slow_board_ms = to_int(flag, value());
        } else if (flag == "--webhook-delay-ms") {
            config.webhook_delay_ms = to_int(flag, value());
        } else if (flag == "--webhook-timeout-ms") {
            config.webhook_timeout_ms = to_int(flag, value());
        } else if (flag == "--webhook-backoff-ms") {
            config.webhook_backoff_ms = to_int(flag, value());
        } else if (flag == "--today") {
            const auto d = cvsim::parse_iso_date(value());
            if (!d) usage_error("--today takes YYYY-MM-DD");
            config.today_days = *d;
        } else if (flag == "--threads") {
            threads = to_int(flag, value());
            if (threads < 1) usage_error("--threads must be at least 1");
        } else if (flag == "--quiet") {
            quiet = true;
        } else {
            usage_error("unknown option " + flag);
        }
    }

    // Handle termination on a dedicated thread; block the signals everywhere else.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    cvsim::Simulator sim(config);
    httplib::Server server;
    server.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
    server.set_keep_alive_max_count(100000);
    server.set_keep_alive_timeout(30);
    server.set_tcp_nodelay(true);
    server.set_payload_max_length(64u << 20);
    sim.install(server);

    const int bound = port == 0 ? server.bind_to_any_port(host)
                                : (server.bind_to_port(host, port) ? port : -1);
    if (bound <= 0) {
        std::fprintf(stderr, "cv_simulator: cannot listen on %s:%d\n", host.c_str(), port);
        return 1;
    }
    if (!port_file.empty()) {
        const std::string tmp = port_file + ".tmp";
        std::ofstream(tmp) << bound << "\n";
        std::rename(tmp.c_str(), port_file.c_str());
    }
    if (!quiet)
        std::fprintf(stderr, "cv_simulator listening on http://%s:%d/v1\n", host.c_str(), bound);

    std::thread waiter([&] {
        int sig = 0;
        sigwait(&signals, &sig);
        sim.shutdown();
        server.stop();
        // Idle keep-alive connections would hold the workers until they time
        // out; a stopped simulator has nothing left to finish.
        std::this_thread::sleep_for(std::chrono::seconds(1));
        std::_Exit(0);
    });
    if (!server.listen_after_bind()) {
        std::fprintf(stderr, "cv_simulator: the server stopped on an error\n");
        std::_Exit(1);
    }
    waiter.join();  // the waiter ends the process
    return 0;
}
