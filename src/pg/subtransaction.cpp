#include "pg/core_first.h"

#include "pg/subtransaction.h"

#include "pg/guard.h"

extern "C" {
#include "access/xact.h"
#include "utils/resowner.h"
}

namespace cv::pg {

namespace {

// Back in the outer transaction's memory and resource owner, as a
// subtransaction's end leaves them to its starter.
class Restore {
public:
    Restore() : context_(CurrentMemoryContext), owner_(CurrentResourceOwner) {}
    MemoryContext context() const { return context_; }
    void operator()() const {
        MemoryContextSwitchTo(context_);
        CurrentResourceOwner = owner_;
    }

private:
    MemoryContext context_;
    ResourceOwner owner_;
};

}  // namespace

bool succeeds_unless(int expected, const std::function<void()>& f) {
    const Restore restore;
    pg_call([] { BeginInternalSubTransaction(nullptr); });
    // f allocates where its caller does (a caught error's data outlives the
    // subtransaction), but its resources (relations, plans, snapshots) belong
    // to the subtransaction's owner: its end releases them.
    MemoryContextSwitchTo(restore.context());
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
