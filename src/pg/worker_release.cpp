#include "pg/core_first.h"

#include "pg/worker_release.h"

#include "pg/shared_state.h"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "nodes/parsenodes.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/syscache.h"
}

namespace cv::pg {

namespace {

ProcessUtility_hook_type previous_hook = nullptr;

// The option's value when the list has it (CREATE DATABASE's TEMPLATE,
// ALTER DATABASE's TABLESPACE).
const char* option_value(List* options, const char* name) {
    ListCell* lc;
    foreach (lc, options) {
        DefElem* d = lfirst_node(DefElem, lc);
        if (strcmp(d->defname, name) == 0 && d->arg != nullptr) return defGetString(d);
    }
    return nullptr;
}

// The database a statement needs to itself, if any.
const char* exclusive_database(Node* stmt) {
    switch (nodeTag(stmt)) {
        case T_DropdbStmt:
            return reinterpret_cast<DropdbStmt*>(stmt)->dbname;
        case T_RenameStmt: {
            auto* r = reinterpret_cast<RenameStmt*>(stmt);
            return r->renameType == OBJECT_DATABASE ? r->subname : nullptr;
        }
        case T_CreatedbStmt: {
            const char* name = option_value(reinterpret_cast<CreatedbStmt*>(stmt)->options, "template");
            return name != nullptr ? name : "template1";
        }
        case T_AlterDatabaseStmt: {
            auto* a = reinterpret_cast<AlterDatabaseStmt*>(stmt);
            return option_value(a->options, "tablespace") != nullptr ? a->dbname : nullptr;
        }
        default:
            return nullptr;
    }
}

// CREATE DATABASE may copy it: a role that may create databases, copying a
// template or a database it owns.
bool may_copy(Oid database) {
    if (!have_createdb_privilege()) return false;
    if (pg_database_ownercheck(database, GetUserId())) return true;
    HeapTuple tuple = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(database));
    if (!HeapTupleIsValid(tuple)) return false;
    const bool is_template = reinterpret_cast<Form_pg_database>(GETSTRUCT(tuple))->datistemplate;
    ReleaseSysCache(tuple);
    return is_template;
}

// Only Postgres calls below: an error propagates as Postgres expects.
void utility_hook(PlannedStmt* pstmt, const char* query_string, bool read_only_tree,
                  ProcessUtilityContext context, ParamListInfo params, QueryEnvironment* query_env,
                  DestReceiver* dest, QueryCompletion* qc) {
    // Only for a role that may run the statement: the database's owner (or
    // a superuser), or, copying it, a role that may create databases from
    // it. Nobody else can make a worker leave early.
    if (const char* name = exclusive_database(pstmt->utilityStmt)) {
        const Oid database = get_database_oid(name, true);
        if (OidIsValid(database) &&
            (IsA(pstmt->utilityStmt, CreatedbStmt) ? may_copy(database)
                                                   : pg_database_ownercheck(database, GetUserId())))
            release_worker_of(database);
    }
    if (previous_hook != nullptr)
        previous_hook(pstmt, query_string, read_only_tree, context, params, query_env, dest, qc);
    else
        standard_ProcessUtility(pstmt, query_string, read_only_tree, context, params, query_env, dest, qc);
}

}  // namespace

void release_worker_of(Oid database) {
    SharedState* s = shared_state();
    if (s == nullptr || !OidIsValid(database)) return;
    LWLockAcquire(s->recorder_lock, LW_EXCLUSIVE);
    for (RecorderQueue& q : s->recorders) {
        if (q.database != database) continue;
        q.leave_when_idle = true;
        if (q.worker_latch != nullptr) SetLatch(q.worker_latch);
    }
    LWLockRelease(s->recorder_lock);
}

void worker_release_init() {
    previous_hook = ProcessUtility_hook;
    ProcessUtility_hook = utility_hook;
}

}  // namespace cv::pg
