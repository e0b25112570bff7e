#pragma once

#include "core/batch_runner.h"

#include <memory>

#include "pg/server_context.h"

namespace cv::pg {

// The rate gate for a server: cluster-wide in shared memory, shared by every
// backend calling with the same url and API key; per session (with a WARNING
// once) when the library was not preloaded.
std::unique_ptr<core::RateGate> make_rate_gate(const ServerContext& ctx);

}  // namespace cv::pg
