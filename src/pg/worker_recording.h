// What the worker does with a message: record it in a transaction of its own,
// or set it aside where a person can look at it.
#pragma once

#include <optional>
#include <string>

#include "pg/recorder_message.h"

namespace cv::pg {

// Records a message in a transaction of its own (retried on serialization
// failures, deadlocks and lock timeouts, unless the worker was told to stop
// meanwhile, pg/worker_stop.h); the error when it cannot.
std::optional<std::string> record(const RecorderMessage& m);

// Keeps `text` in contractor_verify.unrecorded_answers with the reason (and
// the message's target when known), with a WARNING; false when even that fails.
bool set_aside(const std::string& text, const RecorderMessage* m, const std::string& reason);

// A transaction of the worker's own.
void begin();
void commit();
void abort_transaction() noexcept;

}  // namespace cv::pg
