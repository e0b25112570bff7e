// jsonb values built straight from parsed JSON (no text printed and parsed
// again), and members read out of a jsonb without parsing.
#pragma once

#include <nlohmann/json.hpp>

#include "pg/pg_headers.h"

namespace cv::pg {

// A jsonb Datum holding j (strings are UTF-8; the database is UTF8).
Datum json_to_jsonb(const nlohmann::json& j);

enum class JsonKind { Any, Array, Object };

// The member `key` of a jsonb object as a jsonb Datum, or 0 when absent, not
// an object, or not of the wanted kind.
Datum jsonb_member(Datum object, const char* key, JsonKind wanted);

}  // namespace cv::pg
