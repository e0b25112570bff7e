#include "pg/core_first.h"

#include "pg/subtransaction.h"

#include "pg/guard.h"

extern "C" {
#include "access/xact.h"
#include "utils/resowner.h"
}

namespace cv::pg {

bool succeeds_unless(int expected, const std::function<void()>& f) {
    // A subtransaction's end leaves its starter's memory and resource owner
    // to be restored by the starter.
    const MemoryContext context = CurrentMemoryContext;
    const ResourceOwner owner = CurrentResourceOwner;
    const auto restore = [&] {
        MemoryContextSwitchTo(context);
        CurrentResourceOwner = owner;
    };
    pg_call([] { BeginInternalSubTransaction(nullptr); });
    // f allocates where its caller does (a caught error's data outlives the
    // subtransaction), but its resources (relations, plans, snapshots) belong
    // to the subtransaction's owner: its end releases them.
    MemoryContextSwitchTo(context);
    std::exception_ptr failure;
    try {
        f();
    } catch (...) {
        failure = std::current_exception();
    }
    if (!failure) {
        pg_call([] { ReleaseCurrentSubTransaction(); });
        restore();
        return true;
    }
    pg_call([] { RollbackAndReleaseCurrentSubTransaction(); });
    restore();
    try {
        std::rethrow_exception(failure);
    } catch (const PgError& e) {
        if (e.edata() != nullptr && e.edata()->sqlerrcode == expected) return false;
        throw;
    }
}

}  // namespace cv::pg
