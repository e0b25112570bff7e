// Running as the extension's owner, safely.
#pragma once

#include "pg/pg_headers.h"

namespace cv::pg {

// For its lifetime, the current user is `owner`, in a security-restricted
// operation (no temporary objects, no SET ROLE, nothing deferred to the
// caller's transaction end), with search_path pinned to "pg_catalog, pg_temp"
// so no name in the owner's SQL can resolve to an object the caller created.
// The caller's identity, security context and search_path come back when it
// ends, also when an error unwinds through it.
class OwnerScope {
public:
    explicit OwnerScope(Oid owner);
    ~OwnerScope();
    OwnerScope(const OwnerScope&) = delete;
    OwnerScope& operator=(const OwnerScope&) = delete;

private:
    Oid saved_user_ = InvalidOid;
    int saved_context_ = 0;
    int guc_level_ = 0;
};

// The search_path every piece of the extension's own SQL runs with.
inline constexpr const char* kPinnedSearchPath = "pg_catalog, pg_temp";

}  // namespace cv::pg
