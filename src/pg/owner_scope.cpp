#include "pg/core_first.h"
#include "pg/guard.h"
#include "pg/owner_scope.h"

extern "C" {
#include "utils/guc.h"
}

namespace cv::pg {

OwnerScope::OwnerScope(Oid owner) {
    pg_call([&] {
        GetUserIdAndSecContext(&saved_user_, &saved_context_);
        guc_level_ = NewGUCNestLevel();
        (void)set_config_option("search_path", kPinnedSearchPath, PGC_USERSET, PGC_S_SESSION,
                                GUC_ACTION_SAVE, true, 0, false);
        SetUserIdAndSecContext(owner, saved_context_ | SECURITY_LOCAL_USERID_CHANGE |
                                          SECURITY_RESTRICTED_OPERATION);
    });
}

OwnerScope::~OwnerScope() {
    SetUserIdAndSecContext(saved_user_, saved_context_);
    AtEOXact_GUC(true, guc_level_);
}

}  // namespace cv::pg
