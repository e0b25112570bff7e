// What a backend hands to the worker for one chunk: who asked and through
// which API, each observation (in the binary form of core/observation_codec,
// without its raw record) and each raw record as the jsonb the backend
// already built for its result rows, so the worker parses no record again.
#pragma once

#include "core/observation.h"

#include <string>
#include <vector>

#include "pg/pg_headers.h"
#include "pg/recorder.h"

namespace cv::pg {

struct RecorderMessage {
    RecordingTarget target;
    std::vector<core::Observation> observations;
    std::vector<Datum> raw;  // jsonb per observation, 0 for none
    RowsSeen seen = RowsSeen::Unknown;  // what the sender saw of their cache rows
};

std::string encode_message(const RecordingTarget& target,
                           const std::vector<core::Observation>& observations,
                           const std::vector<Datum>& raw, RowsSeen seen);

// The raw jsonb values are palloc'd in the current memory context. Throws
// Error(Internal) on a message that is not one (truncated or garbled).
RecorderMessage decode_message(const char* bytes, std::size_t size);

// A message as readable JSON (raw records included), for setting it aside.
std::string message_as_json(const RecorderMessage& m);

}  // namespace cv::pg
