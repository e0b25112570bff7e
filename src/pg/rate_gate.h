#pragma once

#include "core/batch_runner.h"

#include <memory>

#include "pg/server_context.h"
#include "pg/shared_state.h"

namespace cv::pg {

enum class CallKind { Batch, Single };

// The rate gate for a server's batch calls (calls_per_minute) or single
// lookups (single_calls_per_minute): cluster-wide in shared memory, shared by
// every backend calling with the same url and API key, and a 429 from either
// endpoint pauses both; per session (with a WARNING once) when the library
// was not preloaded.
std::unique_ptr<core::RateGate> make_rate_gate(const ServerContext& ctx, CallKind kind);

// Copies the account's batch-call log (what the cluster-wide limiter knows of
// recent and pending calls) for estimates; false without shared memory.
bool copy_batch_log(const ServerContext& ctx, core::StartLog& out);

// The shared slot of an API account (url and key). Call with s->lock held.
// Claims a free or idle slot; throws Error(ResourceExhausted) when every one
// of contractor_verify.max_api_keys is busy with another account.
ApiKeySlot& account_slot(SharedState* s, const ServerContext& ctx, std::int64_t now);

}  // namespace cv::pg
