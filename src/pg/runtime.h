#pragma once

#include "core/http_client.h"
#include "core/single_lookup.h"

#include <chrono>

namespace cv::pg {

// The backend's HTTP client: one per backend, kept so connections stay alive
// between calls.
core::HttpClient& backend_http_client();

// Cancel checks, an interruptible sleep, randomness and the clock of a backend.
const core::CallHooks& backend_call_hooks();

// Sleeps on the process latch; returns early and throws Error(Aborted) on
// cancel, statement_timeout or termination.
void interruptible_sleep(std::chrono::milliseconds duration);

std::int64_t unix_now_ms();

}  // namespace cv::pg
