#include "core/http_client.h"
#include "core/redact.h"

#include "core/error.h"
#include "core/version.h"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>

// CURLOPT_PREREQFUNCTION tells when a request is actually sent.
#if LIBCURL_VERSION_NUM < 0x075000
#error "libcurl 7.80.0 or later is required"
#endif

namespace cv::core {

namespace {

struct MultiDeleter {
    void operator()(CURLM* m) const { curl_multi_cleanup(m); }
};
struct EasyDeleter {
    void operator()(CURL* e) const { curl_easy_cleanup(e); }
};
struct SlistDeleter {
    void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using MultiPtr = std::unique_ptr<CURLM, MultiDeleter>;
using EasyPtr = std::unique_ptr<CURL, EasyDeleter>;
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

void global_init() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// One transfer: its easy handle, headers, request body and what came back.
struct Transfer {
    HttpClient::Token token = 0;
    EasyPtr easy;
    SlistPtr headers;
    std::string request_body;
    std::string secret;  // the bearer token, kept out of the response body
    HttpResponse response;
    std::int64_t max_bytes = 0;
    bool too_large = false;
    const HttpClient::AbortCheck* should_abort = nullptr;
    char error_buffer[CURL_ERROR_SIZE] = {0};
    bool request_sent = false;
    std::int64_t sent_at_ms = 0;
    std::int64_t reported_sent_at_ms = 0;  // what take_sent() last returned; 0: nothing
};

std::int64_t steady_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// Called once the connection is up (new or reused), right before the request
// goes out, and again if libcurl re-sends on a fresh connection. Only reads
// the clock: it runs inside libcurl.
int on_prereq(void* user, char*, char*, int, int) {
    auto* t = static_cast<Transfer*>(user);
    t->sent_at_ms = std::max(t->sent_at_ms, steady_ms());
    t->request_sent = true;
    return CURL_PREREQFUNC_OK;
}

// Whether take_sent() has news about t.
bool unreported_send(const Transfer& t) {
    return t.request_sent && t.sent_at_ms != t.reported_sent_at_ms;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const size_t n = size * count;
    if (static_cast<std::int64_t>(t->response.body.size() + n) > t->max_bytes) {
        t->too_large = true;
        return 0;  // aborts the transfer with CURLE_WRITE_ERROR
    }
    t->response.body.append(data, n);
    return n;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    auto* t = static_cast<Transfer*>(user);
    return t->should_abort != nullptr && *t->should_abort && (*t->should_abort)() ? 1 : 0;
}

TransportError classify(CURLcode code) {
    switch (code) {
        case CURLE_OK:
            return TransportError::None;
        case CURLE_OPERATION_TIMEDOUT:
            return TransportError::Timeout;
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
            return TransportError::Connect;
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
            return TransportError::Reset;
        case CURLE_FILESIZE_EXCEEDED:
            return TransportError::TooLarge;
        case CURLE_ABORTED_BY_CALLBACK:
            return TransportError::Aborted;
        default:
            return TransportError::Other;
    }
}

}  // namespace

struct HttpClient::Impl {
    MultiPtr multi;
    std::vector<EasyPtr> idle;  // reusable easy handles (keep their connection state)
    std::map<CURL*, std::unique_ptr<Transfer>> running;
    Token next_token = 1;
    // Sends of dropped transfers that take_sent() has not returned yet (bounded,
    // in case the caller never asks).
    std::vector<std::pair<Token, std::int64_t>> dropped_sent;
    // Transfers that finished in a poll() an abort ended.
    std::vector<std::pair<Token, HttpResponse>> finished;
    std::string user_agent = core::user_agent();

    EasyPtr take_easy() {
        if (!idle.empty()) {
            EasyPtr e = std::move(idle.back());
            idle.pop_back();
            curl_easy_reset(e.get());
            return e;
        }
        EasyPtr e(curl_easy_init());
        if (!e) throw Error(ErrorKind::Internal, "could not create a libcurl handle");
        return e;
    }

    void release(std::unique_ptr<Transfer> t) {
        curl_multi_remove_handle(multi.get(), t->easy.get());
        if (idle.size() < 16) idle.push_back(std::move(t->easy));
    }
};

HttpClient::HttpClient() : impl_(std::make_unique<Impl>()) {
    global_init();
    impl_->multi.reset(curl_multi_init());
    if (!impl_->multi) throw Error(ErrorKind::Internal, "could not create a libcurl multi handle");
    curl_multi_setopt(impl_->multi.get(), CURLMOPT_MAXCONNECTS, 16L);
}

HttpClient::~HttpClient() { cancel_all(); }

std::size_t HttpClient::in_flight() const { return impl_->running.size(); }

std::vector<std::pair<HttpClient::Token, HttpResponse>> HttpClient::take_finished() {
    return std::exchange(impl_->finished, {});
}

void HttpClient::cancel_all() {
    auto running = std::move(impl_->running);
    impl_->running.clear();
    for (auto& [easy, t] : running) {
        if (unreported_send(*t) && impl_->dropped_sent.size() < 1024)
            impl_->dropped_sent.emplace_back(t->token, t->sent_at_ms);
        curl_multi_remove_handle(impl_->multi.get(), easy);
        // A handle dropped mid-transfer has a half-used connection: do not reuse it.
    }
}

HttpClient::Token HttpClient::start(const HttpRequest& req) {
    auto t = std::make_unique<Transfer>();
    t->token = impl_->next_token++;
    t->easy = impl_->take_easy();
    t->max_bytes = req.max_response_bytes;
    t->request_body = req.body;
    t->secret = req.bearer_token;
    CURL* e = t->easy.get();

    curl_slist* headers = curl_slist_append(nullptr, "Accept: application/json");
    if (req.method == "POST") headers = curl_slist_append(headers, "Content-Type: application/json");
    if (!req.bearer_token.empty())
        headers = curl_slist_append(headers, ("Authorization: Bearer " + req.bearer_token).c_str());
    headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
    t->headers.reset(headers);

    curl_easy_setopt(e, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers.get());
    curl_easy_setopt(e, CURLOPT_USERAGENT, impl_->user_agent.c_str());
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(req.timeout.count()));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(req.connect_timeout.count()));
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(req.max_response_bytes));
    // gzip: cheap to produce and decode; "" would also invite brotli, which is
    // costly for the server to encode.
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "gzip");
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, t.get());
    curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, on_prereq);
    curl_easy_setopt(e, CURLOPT_PREREQDATA, t.get());
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error_buffer);
    curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
    if (req.method == "POST") {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->request_body.c_str());
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                         static_cast<curl_off_t>(t->request_body.size()));
    } else {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    }

    const CURLMcode rc = curl_multi_add_handle(impl_->multi.get(), e);
    if (rc != CURLM_OK)
        throw Error(ErrorKind::Internal,
                    std::string("could not start a transfer: ") + curl_multi_strerror(rc));
    const Token token = t->token;
    impl_->running.emplace(e, std::move(t));
    return token;
}

std::vector<std::pair<HttpClient::Token, HttpResponse>> HttpClient::poll(
    std::chrono::milliseconds wait, const AbortCheck& should_abort) {
    std::vector<std::pair<Token, HttpResponse>> done;
    for (auto& [easy, t] : impl_->running) t->should_abort = &should_abort;

    const auto deadline = std::chrono::steady_clock::now() + wait;
    for (;;) {
        if (should_abort && should_abort()) {
            cancel_all();
            throw Error(ErrorKind::Aborted, "canceling statement due to user request");
        }
        int still_running = 0;
        curl_multi_perform(impl_->multi.get(), &still_running);

        int queued = 0;
        while (CURLMsg* msg = curl_multi_info_read(impl_->multi.get(), &queued)) {
            if (msg->msg != CURLMSG_DONE) continue;
            auto it = impl_->running.find(msg->easy_handle);
            if (it == impl_->running.end()) continue;
            std::unique_ptr<Transfer> t = std::move(it->second);
            impl_->running.erase(it);
            const CURLcode code = msg->data.result;
            HttpResponse& r = t->response;
            curl_easy_getinfo(t->easy.get(), CURLINFO_RESPONSE_CODE, &r.status);
            curl_off_t retry_after = 0;
            if (curl_easy_getinfo(t->easy.get(), CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK &&
                retry_after > 0)
                r.retry_after = std::chrono::seconds(retry_after);
            r.request_sent = t->request_sent;
            r.sent_at_ms = t->sent_at_ms;
            redact(r.body, t->secret);
            r.error = t->too_large ? TransportError::TooLarge : classify(code);
            if (r.error != TransportError::None)
                r.error_text = t->error_buffer[0] ? t->error_buffer : curl_easy_strerror(code);
            const Token token = t->token;
            done.emplace_back(token, std::move(r));
            impl_->release(std::move(t));
        }
        const bool aborted = std::any_of(done.begin(), done.end(), [](const auto& entry) {
            return entry.second.error == TransportError::Aborted;
        });
        if (aborted) {
            // The aborted transfers are dropped (their sends kept for
            // take_sent()); those that finished are kept for take_finished().
            for (auto& [token, r] : done) {
                if (r.error != TransportError::Aborted)
                    impl_->finished.emplace_back(token, std::move(r));
                else if (r.request_sent)
                    impl_->dropped_sent.emplace_back(token, r.sent_at_ms);
            }
            cancel_all();
            throw Error(ErrorKind::Aborted, "canceling statement due to user request");
        }
        if (!done.empty() || impl_->running.empty()) return done;

        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) return done;
        // Wake at least every 50 ms to look at should_abort.
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
        const int timeout_ms = static_cast<int>(std::min<std::int64_t>(left.count(), 50));
        curl_multi_poll(impl_->multi.get(), nullptr, 0, timeout_ms, nullptr);
    }
}

std::vector<std::pair<HttpClient::Token, std::int64_t>> HttpClient::take_sent() {
    std::vector<std::pair<Token, std::int64_t>> out = std::move(impl_->dropped_sent);
    impl_->dropped_sent.clear();
    for (auto& [easy, t] : impl_->running) {
        if (!unreported_send(*t)) continue;
        out.emplace_back(t->token, t->sent_at_ms);
        t->reported_sent_at_ms = t->sent_at_ms;
    }
    return out;
}

HttpResponse HttpClient::perform(const HttpRequest& request, const AbortCheck& should_abort) {
    const Token token = start(request);
    for (;;) {
        for (auto& [t, response] : poll(std::chrono::milliseconds(1000), should_abort))
            if (t == token) return std::move(response);
    }
}

}  // namespace cv::core
