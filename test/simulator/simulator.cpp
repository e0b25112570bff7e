#include "simulator.h"

#include "dates.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <random>

namespace cvsim {

namespace {

constexpr const char* kJson = "application/json";

std::string upper(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

std::string trim(const std::string& s) {
    const auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) return "";
    const auto e = s.find_last_not_of(" \t\r\n");
    return s.substr(b, e - b + 1);
}

json error_body(const std::string& code, const std::string& detail) {
    return {{"error_code", code}, {"detail", detail}};
}

void send_json(httplib::Response& res, int status, const json& body) {
    res.status = status;
    res.set_content(body.dump(), kJson);
}

int port_of(const sockaddr_storage& a) {
    if (a.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(a).sin_port);
    if (a.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(a).sin6_port);
    return -1;
}

// The socket of the connection a request arrived on, found by its ports.
int connection_fd(int local_port, int remote_port) {
    DIR* dir = opendir("/proc/self/fd");
    if (dir == nullptr) return -1;
    int found = -1;
    while (dirent* e = readdir(dir)) {
        const int fd = std::atoi(e->d_name);
        if (fd <= 2) continue;
        sockaddr_storage local{}, peer{};
        socklen_t ll = sizeof local, pl = sizeof peer;
        if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &ll) != 0) continue;
        if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &pl) != 0) continue;
        if (port_of(local) == local_port && port_of(peer) == remote_port) {
            found = fd;
            break;
        }
    }
    closedir(dir);
    return found;
}

// Aborts a TCP connection with RST: zero linger, then dissolve the association.
void reset_connection(int fd) {
    linger lg{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    sockaddr sa{};
    sa.sa_family = AF_UNSPEC;
    connect(fd, &sa, sizeof sa);
}

json license_arg(const json& v) {
    if (v.is_string()) return trim(v.get<std::string>());
    if (v.is_number_integer()) return std::to_string(v.get<long long>());
    return nullptr;
}

}  // namespace

bool known_fault_mode(const std::string& mode) {
    static const std::set<std::string> modes = {
        "status",    "http500",  "http503", "http429",     "malformed_json", "truncated",
        "reset",     "hang",     "oversized", "missing_ids", "shuffled",      "extra_id",
        "slow",      "echo_text"};
    return modes.count(mode) > 0;
}

Simulator::Simulator(SimConfig config)
    : config_(config), initial_config_(config), dataset_(config_.today_days) {
    batch_limiter_.configure(config_.rate_limit, config_.rate_window, config_.rate_mode);
    verify_limiter_.configure(config_.verify_rate_limit, config_.rate_window, config_.rate_mode);
}

Simulator::~Simulator() { shutdown(); }

void Simulator::shutdown() {
    stopping_ = true;
    sleep_cv_.notify_all();
    std::list<std::thread> threads;
    {
        std::lock_guard<std::mutex> lock(webhooks_mu_);
        threads.swap(webhook_threads_);
    }
    for (auto& t : threads)
        if (t.joinable()) t.join();
}

void Simulator::sleep_ms(int ms) {
    if (ms <= 0) return;
    std::unique_lock<std::mutex> lock(sleep_mu_);
    const std::uint64_t generation = sleep_generation_;
    sleep_cv_.wait_for(lock, std::chrono::milliseconds(ms), [&] {
        return stopping_.load() || sleep_generation_ != generation;
    });
}

std::string Simulator::current_month() const {
    return civil_from_days(today_utc_days()).substr(0, 7);
}

std::string Simulator::next_batch_id() {
    char buf[64];
    const std::string day = civil_from_days(today_utc_days());
    std::snprintf(buf, sizeof buf, "batch_%s%s%s_%05llx", day.substr(0, 4).c_str(),
                  day.substr(5, 2).c_str(), day.substr(8, 2).c_str(),
                  static_cast<unsigned long long>(++batch_seq_));
    return buf;
}

void Simulator::install(httplib::Server& server) {
    using namespace std::placeholders;
    server.Get("/v1/verify", [this](const auto& q, auto& r) { handle_verify(q, r); });
    server.Post("/v1/verify/batch", [this](const auto& q, auto& r) { handle_batch(q, r); });
    server.Get("/_sim/counters", [this](const auto& q, auto& r) { handle_counters(q, r); });
    server.Post("/_sim/reset", [this](const auto& q, auto& r) { handle_reset(q, r); });
    server.Post("/_sim/license", [this](const auto& q, auto& r) { handle_license(q, r); });
    server.Post("/_sim/fault", [this](const auto& q, auto& r) { handle_fault(q, r); });
    server.Get("/_sim/config", [this](const auto& q, auto& r) { handle_config(q, r); });
    server.Post("/_sim/config", [this](const auto& q, auto& r) { handle_config(q, r); });
    server.Get("/_sim/health", [](const auto&, auto& r) { send_json(r, 200, {{"ok", true}}); });
}

bool Simulator::authorized(const httplib::Request& req, std::string& key,
                           httplib::Response& res) {
    const std::string auth = req.get_header_value("Authorization");
    const std::string prefix = "Bearer ";
    if (auth.rfind(prefix, 0) == 0) key = auth.substr(prefix.size());
    bool ok;
    {
        std::lock_guard<std::mutex> lock(config_mu_);
        ok = !key.empty() && config_.keys.count(key) > 0;
    }
    if (!ok) {
        counters_.unauthorized();
        send_json(res, 401, error_body("UNAUTHORIZED", "Missing or invalid API key."));
    }
    return ok;
}

bool Simulator::admit(const char* endpoint, RateLimiter& limiter, const httplib::Request& req,
                      httplib::Response& res) {
    counters_.call(endpoint);
    std::string key;
    if (!authorized(req, key, res)) return false;
    int retry_after = 0;
    if (limiter.admit(key, RateLimiter::Clock::now(), retry_after)) return true;
    counters_.rate_limited();
    res.set_header("Retry-After", std::to_string(retry_after));
    send_json(res, 429, {{"error_code", "RATE_LIMITED"}});
    return false;
}

bool Simulator::apply_call_fault(const Fault& f, const httplib::Request& req,
                                 httplib::Response& res) {
    if (f.mode == "status" || f.mode == "http500" || f.mode == "http503") {
        const int status = f.mode == "http500" ? 500 : f.mode == "http503" ? 503 : f.status;
        res.status = status;
        res.set_content("<html><body>upstream fault " + std::to_string(status) + "</body></html>",
                        "text/html");
        return true;
    }
    if (f.mode == "http429") {
        counters_.rate_limited();
        res.set_header("Retry-After", std::to_string(f.retry_after));
        send_json(res, 429, {{"error_code", "RATE_LIMITED"}});
        return true;
    }
    if (f.mode == "hang") {
        sleep_ms(f.ms);
        res.status = 504;
        res.set_content("", "text/plain");
        return true;
    }
    if (f.mode == "reset") {
        const int fd = connection_fd(req.local_port, req.remote_port);
        if (fd >= 0) reset_connection(fd);
        res.status = 500;
        res.set_content_provider(1, "text/plain", [](size_t, size_t, httplib::DataSink&) {
            return false;
        });
        return true;
    }
    if (f.mode == "slow") sleep_ms(f.ms);
    return false;
}

void Simulator::send_body(const std::string& body, int status, const std::optional<Fault>& f,
                          httplib::Response& res) {
    res.status = status;
    if (f && f->mode == "malformed_json") {
        res.set_content(body.substr(0, body.size() / 2) + "<<not json>>", kJson);
        return;
    }
    if (f && f->mode == "truncated") {
        auto shared = std::make_shared<std::string>(body);
        res.set_content_provider(body.size(), kJson,
                                 [shared](size_t offset, size_t, httplib::DataSink& sink) {
                                     if (offset == 0) sink.write(shared->data(), shared->size() / 2);
                                     return offset == 0 ? true : false;
                                 });
        return;
    }
    if (f && f->mode == "echo_text") {
        // An API that quotes something back (the caller's key, say) in every
        // error message and in a detail of its own.
        std::string echoed = body;
        const std::string quoted = json(f->text).dump();
        const std::string inner = quoted.substr(1, quoted.size() - 2) + " ";
        bool detail = false;
        for (const std::string name : {"error_message", "detail"}) {
            const std::string field = "\"" + name + "\":\"";
            for (std::size_t pos = echoed.find(field); pos != std::string::npos;
                 pos = echoed.find(field, pos + field.size() + inner.size())) {
                echoed.insert(pos + field.size(), inner);
                detail = detail || name == "detail";
            }
        }
        if (!detail && !echoed.empty() && echoed.back() == '}')
            echoed.insert(echoed.size() - 1, ",\"detail\":" + quoted);
        res.set_content(echoed, kJson);
        return;
    }
    if (f && f->mode == "oversized") {
        const std::size_t total = std::max<std::size_t>(f->bytes, body.size() + 64);
        auto head = std::make_shared<std::string>("{\"results\":[],\"padding\":\"");
        res.set_content_provider(
            total, kJson, [head, total](size_t offset, size_t, httplib::DataSink& sink) {
                static const std::string pad(65536, 'x');
                if (offset == 0) return sink.write(head->data(), head->size());
                const std::size_t left = total - offset;
                if (left <= 2) return sink.write("\"}", left);
                return sink.write(pad.data(), std::min(pad.size(), left - 2));
            });
        return;
    }
    res.set_content(body, kJson);
}

json Simulator::process_record(const json& item, int& slow_records) {
    const json id = item.is_object() && item.contains("id") ? item["id"] : json(nullptr);
    Outcome out;
    if (!item.is_object() || !item.contains("state") || !item["state"].is_string()) {
        out.kind = OutcomeKind::InvalidRequest;
        out.detail = "Each request needs a two-letter state.";
    } else {
        const std::string state = upper(trim(item["state"].get<std::string>()));
        const json license = item.contains("license_number") ? license_arg(item["license_number"])
                                                             : json(nullptr);
        if (license.is_string() && !license.get<std::string>().empty()) {
            out = dataset_.by_license(state, upper(license.get<std::string>()));
        } else if (item.contains("name") && item["name"].is_string()) {
            out = dataset_.by_name(state, item["name"].get<std::string>());
        } else {
            out.kind = OutcomeKind::InvalidRequest;
            out.detail = "Provide license_number or name.";
        }
        if (!out.lookup_key.empty()) counters_.lookup(out.lookup_key, current_month());
        if (out.slow_board) ++slow_records;
    }
    if (out.kind == OutcomeKind::Found) return present_batch_item(id, out.record);
    json err = {{"id", id},
                {"status", "error"},
                {"error_code", error_code(out.kind)},
                {"error_message", out.detail}};
    if (out.kind == OutcomeKind::MultipleCandidates) err["candidates"] = out.candidates;
    return err;
}

void Simulator::handle_verify(const httplib::Request& req, httplib::Response& res) {
    InFlight in_flight(counters_);
    if (!admit("verify", verify_limiter_, req, res)) return;
    const std::optional<Fault> fault = faults_.take("verify");
    if (fault) counters_.fault(fault->mode);
    if (fault && apply_call_fault(*fault, req, res)) return;

    const std::string state = upper(trim(req.get_param_value("state")));
    const std::string license = upper(trim(req.get_param_value("license_number")));
    const std::string name = trim(req.get_param_value("name"));
    Outcome out;
    if (state.empty() || (license.empty() && name.empty())) {
        out.kind = OutcomeKind::InvalidRequest;
        out.detail = "Provide state and one of license_number or name.";
    } else {
        out = license.empty() ? dataset_.by_name(state, name) : dataset_.by_license(state, license);
        counters_.lookup(out.lookup_key, current_month());
    }

    int latency;
    {
        std::lock_guard<std::mutex> lock(config_mu_);
        latency = config_.latency_ms + config_.record_latency_ms +
                  (out.slow_board ? config_.slow_board_ms : 0);
    }
    sleep_ms(latency);

    json body;
    if (out.kind == OutcomeKind::Found) {
        body = present_single(out.record);
    } else {
        body = error_body(error_code(out.kind), out.detail);
        if (out.kind == OutcomeKind::MultipleCandidates) body["candidates"] = out.candidates;
    }
    send_body(body.dump(), http_status(out.kind), fault, res);
}

void Simulator::handle_batch(const httplib::Request& req, httplib::Response& res) {
    InFlight in_flight(counters_);
    if (!admit("batch", batch_limiter_, req, res)) return;

    const json body = json::parse(req.body, nullptr, false);
    const json* requests = nullptr;
    if (body.is_object()) {
        for (const char* k : {"requests", "licenses"})
            if (body.contains(k) && body[k].is_array()) requests = &body[k];
    }
    if (requests == nullptr || requests->empty()) {
        send_json(res, 400,
                  error_body("INVALID_REQUEST",
                             "Body must be a JSON object with a non-empty \"requests\" array."));
        return;
    }
    const bool async = body.contains("webhook_url") && body["webhook_url"].is_string();
    const std::size_t max = async ? 1000 : 100;
    if (requests->size() > max) {
        send_json(res, 400,
                  error_body("BATCH_TOO_LARGE", "At most " + std::to_string(max) +
                                                    " requests per " +
                                                    (async ? "asynchronous" : "synchronous") +
                                                    " batch; got " +
                                                    std::to_string(requests->size()) + "."));
        return;
    }
    if (async) counters_.call("batch_async");

    const std::optional<Fault> fault = faults_.take("batch");
    if (fault) counters_.fault(fault->mode);
    if (fault && apply_call_fault(*fault, req, res)) return;
    counters_.accepted_batch(requests->size());

    int slow_records = 0;
    json results = json::array();
    std::int64_t succeeded = 0;
    for (const auto& item : *requests) {
        results.push_back(process_record(item, slow_records));
        if (results.back()["status"] == "success") ++succeeded;
    }

    int latency, webhook_delay;
    {
        std::lock_guard<std::mutex> lock(config_mu_);
        latency = config_.latency_ms +
                  config_.record_latency_ms * static_cast<int>(requests->size()) +
                  config_.slow_board_ms * slow_records;
        webhook_delay = config_.webhook_delay_ms;
    }

    if (fault && fault->mode == "missing_ids") {
        for (int i = 0; i < fault->drop && !results.empty(); ++i)
            results.erase(results.begin() + static_cast<long>(results.size() / 2));
    }
    if (fault && fault->mode == "shuffled") {
        // A fixed permutation that always moves records (a rotation by one
        // after a reversal), so matching by position is always wrong.
        std::reverse(results.begin(), results.end());
        if (results.size() > 2) std::rotate(results.begin(), results.begin() + 1, results.end());
    }
    if (fault && fault->mode == "extra_id") {
        results.push_back({{"id", "sim_invented_id"},
                           {"status", "success"},
                           {"license_number", "999999"},
                           {"state", "CA"},
                           {"license_status", "Active"}});
    }

    const std::string batch_id = next_batch_id();
    json response = {{"batch_id", batch_id},
                     {"processed", requests->size()},
                     {"succeeded", succeeded},
                     {"failed", static_cast<std::int64_t>(requests->size()) - succeeded},
                     {"results", results}};

    if (async) {
        std::lock_guard<std::mutex> lock(webhooks_mu_);
        webhook_threads_.emplace_back(
            [this, url = body["webhook_url"].get<std::string>(), payload = response.dump(),
             batch_id, delay = webhook_delay + latency]() {
                sleep_ms(delay);
                deliver_webhook(url, payload, batch_id);
            });
        send_json(res, 202, {{"batch_id", batch_id}, {"status", "processing"}});
        return;
    }
    sleep_ms(latency);
    send_body(response.dump(), 200, fault, res);
}

void Simulator::deliver_webhook(std::string url, std::string body, std::string batch_id) {
    // scheme://host[:port]/path
    const auto scheme_end = url.find("://");
    const auto path_start =
        url.find('/', scheme_end == std::string::npos ? 0 : scheme_end + 3);
    const std::string origin = path_start == std::string::npos ? url : url.substr(0, path_start);
    const std::string path = path_start == std::string::npos ? "/" : url.substr(path_start);
    int timeout_ms, backoff_ms;
    {
        std::lock_guard<std::mutex> lock(config_mu_);
        timeout_ms = config_.webhook_timeout_ms;
        backoff_ms = config_.webhook_backoff_ms;
    }
    for (int attempt = 0; attempt <= 3 && !stopping_; ++attempt) {
        if (attempt > 0) sleep_ms(backoff_ms << (attempt - 1));
        counters_.webhook("attempts");
        httplib::Client client(origin);
        client.set_connection_timeout(std::chrono::milliseconds(timeout_ms));
        client.set_read_timeout(std::chrono::milliseconds(timeout_ms));
        httplib::Headers headers = {{"X-Batch-Id", batch_id}};
        auto result = client.Post(path, headers, body, kJson);
        if (result && result->status == 200) {
            counters_.webhook("delivered");
            return;
        }
    }
    counters_.webhook("failed");
}

void Simulator::handle_counters(const httplib::Request&, httplib::Response& res) {
    json out = counters_.to_json(batch_limiter_.window());
    out["faults_pending"] = faults_.pending();
    send_json(res, 200, out);
}

void Simulator::handle_reset(const httplib::Request& req, httplib::Response& res) {
    {
        // Hanging and slow calls from before end now, so they neither hold
        // connections nor count as in flight afterwards.
        std::lock_guard<std::mutex> lock(sleep_mu_);
        ++sleep_generation_;
    }
    sleep_cv_.notify_all();
    for (int i = 0; i < 100 && counters_.in_flight() > 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    counters_.reset();
    faults_.clear();
    {
        std::lock_guard<std::mutex> lock(config_mu_);
        config_ = initial_config_;
        batch_limiter_.configure(config_.rate_limit, config_.rate_window, config_.rate_mode);
        verify_limiter_.configure(config_.verify_rate_limit, config_.rate_window, config_.rate_mode);
    }
    if (req.get_param_value("keep") != "overrides") dataset_.clear_overrides();
    send_json(res, 200, {{"reset", true}});
}

void Simulator::handle_license(const httplib::Request& req, httplib::Response& res) {
    const json body = json::parse(req.body, nullptr, false);
    if (!body.is_object() || !body.contains("state") || !body.contains("license_number") ||
        !body["state"].is_string() || !body["license_number"].is_string()) {
        send_json(res, 400, error_body("INVALID_REQUEST",
                                       "Expected {\"state\", \"license_number\", \"set\": {...}} "
                                       "or {..., \"outcome\": \"NOT_FOUND\"}."));
        return;
    }
    json patch = body.contains("set") && body["set"].is_object() ? body["set"] : json::object();
    if (body.contains("outcome")) patch["outcome"] = body["outcome"];
    dataset_.set_override(upper(body["state"].get<std::string>()),
                          upper(body["license_number"].get<std::string>()), patch);
    send_json(res, 200, {{"override", patch}});
}

void Simulator::handle_fault(const httplib::Request& req, httplib::Response& res) {
    const json body = json::parse(req.body, nullptr, false);
    if (!body.is_object() || !body.contains("mode") || !body["mode"].is_string() ||
        !known_fault_mode(body["mode"].get<std::string>())) {
        send_json(res, 400, error_body("INVALID_REQUEST", "Unknown or missing fault mode."));
        return;
    }
    Fault f;
    f.mode = body["mode"].get<std::string>();
    f.endpoint = body.value("endpoint", "any");
    f.status = body.value("status", 500);
    f.retry_after = body.value("retry_after", 1);
    f.ms = body.value("ms", 60000);
    f.drop = body.value("drop", 1);
    f.bytes = body.value("bytes", static_cast<std::size_t>(32u << 20));
    f.text = body.value("text", std::string());
    const int count = body.value("count", 1);
    faults_.push(f, count);
    send_json(res, 200, {{"queued", count}, {"pending", faults_.pending()}});
}

void Simulator::handle_config(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(config_mu_);
    if (req.method == "POST") {
        const json body = json::parse(req.body, nullptr, false);
        if (!body.is_object()) {
            send_json(res, 400, error_body("INVALID_REQUEST", "Expected a JSON object."));
            return;
        }
        config_.rate_limit = body.value("rate_limit", config_.rate_limit);
        config_.rate_window =
            std::chrono::milliseconds(body.value("rate_window_ms", config_.rate_window.count()));
        if (body.contains("rate_mode"))
            config_.rate_mode =
                body["rate_mode"] == "sliding" ? WindowMode::Sliding : WindowMode::Fixed;
        config_.verify_rate_limit = body.value("verify_rate_limit", config_.verify_rate_limit);
        config_.latency_ms = body.value("latency_ms", config_.latency_ms);
        config_.record_latency_ms = body.value("record_latency_ms", config_.record_latency_ms);
        config_.slow_board_ms = body.value("slow_board_ms", config_.slow_board_ms);
        config_.webhook_delay_ms = body.value("webhook_delay_ms", config_.webhook_delay_ms);
        config_.webhook_timeout_ms = body.value("webhook_timeout_ms", config_.webhook_timeout_ms);
        config_.webhook_backoff_ms = body.value("webhook_backoff_ms", config_.webhook_backoff_ms);
        batch_limiter_.configure(config_.rate_limit, config_.rate_window, config_.rate_mode);
        verify_limiter_.configure(config_.verify_rate_limit, config_.rate_window,
                                  config_.rate_mode);
    }
    send_json(res, 200,
              {{"rate_limit", config_.rate_limit},
               {"rate_window_ms", config_.rate_window.count()},
               {"rate_mode", config_.rate_mode == WindowMode::Sliding ? "sliding" : "fixed"},
               {"verify_rate_limit", config_.verify_rate_limit},
               {"latency_ms", config_.latency_ms},
               {"record_latency_ms", config_.record_latency_ms},
               {"slow_board_ms", config_.slow_board_ms},
               {"webhook_delay_ms", config_.webhook_delay_ms},
               {"webhook_timeout_ms", config_.webhook_timeout_ms},
               {"webhook_backoff_ms", config_.webhook_backoff_ms},
               {"today", civil_from_days(config_.today_days)}});
}

}  // namespace cvsim
