// Load generator for the simulator: how many single lookups and batch calls
// per second it sustains on loopback. Prints figures; asserts nothing.
//   cv_sim_load --port N [--seconds S] [--clients C]
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Result {
    double per_second;
    long errors;
};

template <typename Call>
Result run(int clients, double seconds, Call call) {
    std::atomic<long> done{0}, errors{0};
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < clients; ++i) {
        threads.emplace_back([&, i] {
            long n = 0;
            while (!stop.load(std::memory_order_relaxed)) {
                if (call(i, n++)) ++done;
                else ++errors;
            }
        });
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    for (auto& t : threads) t.join();
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return {static_cast<double>(done) / elapsed, errors};
}

}  // namespace

int main(int argc, char** argv) {
    int port = 0, clients = 8;
    double seconds = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string f = argv[i];
        if (f == "--port") port = std::atoi(argv[i + 1]);
        else if (f == "--seconds") seconds = std::atof(argv[i + 1]);
        else if (f == "--clients") clients = std::atoi(argv[i + 1]);
    }
    if (port <= 0) {
        std::fprintf(stderr, "usage: cv_sim_load --port N [--seconds S] [--clients C]\n");
        return 2;
    }

    std::vector<std::unique_ptr<httplib::Client>> pool;
    for (int i = 0; i < clients; ++i) {
        pool.push_back(std::make_unique<httplib::Client>("127.0.0.1", port));
        pool.back()->set_bearer_token_auth("cv_test_key");
        pool.back()->set_keep_alive(true);
    }

    auto single = run(clients, seconds, [&](int c, long n) {
        const std::string path = "/v1/verify?state=CA&license_number=" + std::to_string(100000 + (n * 13 + c) % 900000);
        auto r = pool[c]->Get(path);
        return r && (r->status == 200 || r->status == 404);
    });

    std::vector<std::string> bodies;
    for (int c = 0; c < clients; ++c) {
        nlohmann::json reqs = nlohmann::json::array();
        for (int k = 0; k < 100; ++k)
            reqs.push_back({{"id", "r" + std::to_string(k)},
                            {"state", "CA"},
                            {"license_number", std::to_string(200000 + c * 1000 + k)}});
        bodies.push_back(nlohmann::json{{"requests", reqs}}.dump());
    }
    auto batch = run(clients, seconds, [&](int c, long) {
        auto r = pool[c]->Post("/v1/verify/batch", bodies[c], "application/json");
        return r && r->status == 200;
    });

    std::printf("simulator on loopback, %d client connections, %.0f s each:\n", clients, seconds);
    std::printf("  single lookups (GET /v1/verify):        %8.0f calls/s  (%ld errors)\n",
                single.per_second, single.errors);
    std::printf("  batch calls of 100 (POST /verify/batch): %8.0f calls/s = %.0f records/s  (%ld errors)\n",
                batch.per_second, batch.per_second * 100, batch.errors);
    return single.errors + batch.errors > 0 ? 1 : 0;
}
