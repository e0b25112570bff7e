// Arguments the SQL functions share.
#pragma once

#include <cstdint>
#include <optional>

#include "pg/pg_headers.h"

namespace cv::pg {

// max_age (an interval asking for data fresher than the TTL) in milliseconds:
// nullopt when NULL; throws Error(InvalidParameter) when negative or absurd.
std::optional<std::int64_t> max_age_ms(FunctionCallInfo fcinfo, int n);

// A server name argument, or nullptr for contractor_verify.server.
const char* server_arg(FunctionCallInfo fcinfo, int n);

}  // namespace cv::pg
