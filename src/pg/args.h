// Arguments the SQL functions share.
#pragma once

#include "pg/pg_headers.h"

namespace cv::pg {

// A server name argument, or nullptr for contractor_verify.server.
const char* server_arg(FunctionCallInfo fcinfo, int n);

}  // namespace cv::pg
