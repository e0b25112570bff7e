#pragma once
#include "core/no_postgres.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace cv::core {

struct HttpRequest {
    std::string method = "GET";  // GET or POST
    std::string url;
    std::string body;                  // POST body (JSON)
    std::string bearer_token;          // sent as Authorization; never logged
    std::chrono::milliseconds timeout{30000};
    std::chrono::milliseconds connect_timeout{10000};
    std::int64_t max_response_bytes = 16 << 20;
};

enum class TransportError { None, Timeout, Connect, Reset, TooLarge, Aborted, Other };

struct HttpResponse {
    long status = 0;
    std::string body;  // every occurrence of the request's bearer token replaced (core/redact.h)
    std::optional<std::chrono::seconds> retry_after;
    TransportError error = TransportError::None;
    std::string error_text;  // libcurl's description; never contains headers
    // Whether the request went out (the connection was up and libcurl began
    // sending), and when: steady_clock milliseconds since its epoch, the latest
    // time if libcurl re-sent it on a fresh connection. The API server counts
    // a call against the rate limit from then, not from start().
    bool request_sent = false;
    std::int64_t sent_at_ms = 0;

    bool transport_failed() const { return error != TransportError::None; }
};

// A libcurl multi handle with pooled easy handles: connections stay alive
// between calls, several transfers run at once, and every transfer stops as
// soon as should_abort() returns true (checked from libcurl's progress
// callback and between waits).
class HttpClient {
public:
    using Token = std::uint64_t;
    using AbortCheck = std::function<bool()>;

    HttpClient();
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    // Queues a transfer; it runs during poll().
    Token start(const HttpRequest& request);

    // Drives transfers for up to `wait`, returning those that finished. When
    // should_abort() is true, every transfer is dropped and Error(Aborted)
    // thrown; transfers that had finished by then are kept for take_finished().
    std::vector<std::pair<Token, HttpResponse>> poll(std::chrono::milliseconds wait,
                                                     const AbortCheck& should_abort);

    // The transfers that finished in the poll() an abort ended (their answers
    // arrived, so the caller still owes them a look).
    std::vector<std::pair<Token, HttpResponse>> take_finished();

    std::size_t in_flight() const;

    // The transfers whose request was sent (or re-sent) since the last call,
    // with the time as in HttpResponse::sent_at_ms, so a caller can account
    // for a call while it still runs. Covers running transfers and those
    // dropped by cancel_all() or an abort; a transfer poll() already returned
    // reports its sending in its HttpResponse instead.
    std::vector<std::pair<Token, std::int64_t>> take_sent();

    // Drops every transfer in flight.
    void cancel_all();

    // One transfer, start to finish.
    HttpResponse perform(const HttpRequest& request, const AbortCheck& should_abort);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace cv::core
