// jsonb values built straight from parsed JSON (no text printed and parsed
// again), and members read out of a jsonb without parsing.
#pragma once

#include "core/json_tape.h"
#include "core/json_view.h"
#include "core/observation.h"

#include <nlohmann/json.hpp>

#include "pg/pg_headers.h"

namespace cv::pg {

// A jsonb Datum holding j (strings are UTF-8; the database is UTF8).
Datum json_to_jsonb(const nlohmann::json& j);
// The same for node `node` of a tape.
Datum tape_to_jsonb(const core::JsonTape& tape, std::uint32_t node);
// An observation's raw record as jsonb, 0 when it has none.
Datum raw_to_jsonb(const core::Observation& o);

enum class JsonKind { Any, Array, Object };

// The member `key` of a jsonb object as a jsonb Datum, or 0 when absent, not
// an object, or not of the wanted kind.
Datum jsonb_member(Datum object, const char* key, JsonKind wanted);

}  // namespace cv::pg
