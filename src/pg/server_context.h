#pragma once

#include "core/options.h"

#include <string>

#include "pg/pg_headers.h"

namespace cv::pg {

// A contractor_verify server resolved for the current user: its typed
// options and the API key from the user's (or PUBLIC's) user mapping.
struct ServerContext {
    std::string server_name;
    Oid server_oid = InvalidOid;
    core::ServerSettings settings;
    std::string api_key;  // never logged, never in a message
};

// name: the function's server argument, or nullptr for contractor_verify.server.
ServerContext load_server_context(const char* name);

}  // namespace cv::pg
