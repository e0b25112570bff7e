#pragma once

#include "core/options.h"

#include <string>

#include "pg/pg_headers.h"

namespace cv::pg {

// A contractor_verify server resolved for the current user, checked as
// postgres_fdw checks it: USAGE on the server, and the user's own user
// mapping or else PUBLIC's.
struct ServerContext {
    std::string server_name;
    Oid server_oid = InvalidOid;
    core::ServerSettings settings;  // settings.url is the canonical API base URL
    std::string api_key;            // never logged, never in a message or a table
    std::string api_key_id;         // first 12 hex digits of the key's SHA-256: tells keys apart
    std::string role_name;          // who asks (recorded in the history)
    Oid role_oid = InvalidOid;      // that role
};

// A server's settings, for reading its policy: no USAGE or user mapping
// needed (server options are visible to every role, as in pg_foreign_server).
// name nullptr: contractor_verify.server. Throws Error(MissingConfig) for no
// such server, Error(InvalidParameter) for one of another wrapper.
core::ServerSettings server_settings(const char* name, std::string& resolved_name);

// name: the function's server argument, or nullptr for contractor_verify.server.
// role: whose USAGE and user mapping count (InvalidOid: the current user; a
// job's worker passes the role that submitted it).
// Throws Error(MissingConfig) for no such server or no user mapping,
// Error(PermissionDenied) without USAGE on the server.
ServerContext load_server_context(const char* name, Oid role = InvalidOid);

// A server's settings alone (no USAGE check, no user mapping): what planning
// needs to know of it.
core::ServerSettings server_settings(Oid server);

}  // namespace cv::pg
