// A compact binary form of an Observation (with its LicenseRecord) for
// handing it to another process of the same server: no JSON text to print
// and parse again. JSON-valued fields (candidates, disciplinary actions,
// address) travel as CBOR. The raw record is not part of it: the message
// carries it beside, as the jsonb already built from it.
#pragma once
#include "core/no_postgres.h"

#include "core/byte_codec.h"
#include "core/observation.h"

namespace cv::core {

// raw_beside: the message carries the observation's raw record beside it,
// which holds the record's address, so the address is left out (it reads
// back as null: the reader takes it from the raw record).
void encode_observation(const Observation& o, ByteWriter& out, bool raw_beside = false);

// Reads what encode_observation wrote (raw left null). Throws Error(Internal)
// on a truncated or garbled encoding, including a date that is not
// YYYY-MM-DD.
Observation decode_observation(ByteReader& in);

}  // namespace cv::core
