// cv_job_submit(roster text | jsonb, max_age, server, label) and
// cv_job_cancel(job_id): verification jobs, run by the database's worker.
//
// Submit reads the roster with the caller's rights (as cv_verify_batch does),
// checks the server, the user mapping and the monthly quota, and stores the
// normalized, deduplicated roster as the owner in the caller's transaction:
// the job exists once that transaction commits, and the worker is woken then.
#include "pg/core_first.h"
#include "core/cache_rules.h"
#include "core/error.h"
#include "core/quota.h"

#include <string>

#include "pg/args.h"
#include "pg/cache_table.h"
#include "pg/catalog.h"
#include "pg/guard.h"
#include "pg/job_store.h"
#include "pg/memory_scope.h"
#include "pg/quota_guard.h"
#include "pg/recorder_queue.h"
#include "pg/roster.h"
#include "pg/runtime.h"
#include "pg/server_context.h"
#include "pg/shared_state.h"
#include "pg/storage.h"

extern "C" {
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_authid.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
}

namespace cv::pg {

namespace {

// Wakes (or starts) the worker once the transaction that queued or cancelled
// a job commits; until then the worker could not see it.
bool wake_at_commit = false;
Oid wake_owner = InvalidOid;

void on_xact(XactEvent event, void*) {
    if (!wake_at_commit) return;
    if (event == XACT_EVENT_PRE_PREPARE) {
        // COMMIT PREPARED, perhaps in another session, has no callback here:
        // the job would sit queued with no worker told of it.
        wake_at_commit = false;
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("cannot PREPARE a transaction that submitted or cancelled a verification job"),
                        errhint("Submit or cancel the job in a transaction that commits directly.")));
    }
    if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT) {
        wake_at_commit = false;
        jobs_committed(wake_owner);
    } else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
               event == XACT_EVENT_PREPARE) {
        wake_at_commit = false;
    }
}

}  // namespace

void wake_job_worker_at_commit(Oid owner) {
    static bool registered = false;
    if (!registered) {
        pg_call([] { RegisterXactCallback(on_xact, nullptr); });
        registered = true;
    }
    wake_at_commit = true;
    wake_owner = owner;
}

}  // namespace cv::pg

namespace {

using cv::core::Error;
using cv::core::ErrorKind;

constexpr const char* kVisibilityHint =
    "A role sees the jobs it submitted, those of roles whose privileges it has, and every job "
    "with SELECT on contractor_verify.job_queue.";

// Lookups of the roster the cache cannot answer now: what the job expects to buy.
std::int64_t lookups_needed(const cv::pg::ExtensionCatalog& catalog, const cv::pg::ServerContext& ctx,
                            const cv::pg::Roster& roster, std::optional<std::int64_t> max_age) {
    std::int64_t needed = 0;
    cv::pg::CacheReader reader(catalog);
    cv::pg::CachedRow row;
    const std::int64_t now = cv::pg::unix_now_ms();
    const auto& lookups = roster.lookups();
    for (std::size_t i = 0; i < lookups.size(); ++i) {
        if (i % 1000 == 999) {
            cv::pg::throw_if_interrupted();
            reader.refresh();
        }
        if (lookups[i].license_number.empty()) {
            ++needed;
            continue;
        }
        reader.probe(ctx.settings.url, lookups[i].state, lookups[i].license_number, row);
        if (cv::core::classify_cached(row.head(), now, ctx.settings, max_age, std::nullopt) ==
            cv::core::CacheVerdict::Miss)
            ++needed;
    }
    return needed;
}

template <typename Load>
Datum submit(FunctionCallInfo fcinfo, Load load) {
    if (cv::pg::shared_state() == nullptr)
        throw Error(ErrorKind::Prerequisite,
                    "verification jobs need contractor_verify in shared_preload_libraries",
                    "Add it to shared_preload_libraries in postgresql.conf (with pg_cron: "
                    "'pg_cron,contractor_verify') and restart the server; cv_verify_batch works "
                    "without it.");
    cv::pg::JobSubmission job;
    job.max_age_ms = cv::pg::max_age_ms(fcinfo, 1);
    const char* server = cv::pg::server_arg(fcinfo, 2);
    if (!PG_ARGISNULL(3))
        job.label = cv::pg::to_utf8(cv::pg::pg_value([&] { return text_to_cstring(PG_GETARG_TEXT_PP(3)); }));

    const cv::pg::ServerContext ctx = cv::pg::load_server_context(server);
    cv::pg::Storage::ensure_writable();

    // The caller's part: the roster, read with the caller's rights.
    cv::pg::Roster roster;
    load(roster);

    // The owner's part.
    const cv::pg::ExtensionCatalog& catalog = cv::pg::extension_catalog();
    job.lookups_needed = lookups_needed(catalog, ctx, roster, job.max_age_ms);
    const std::int64_t quota = ctx.settings.monthly_lookup_quota;
    if (quota > 0 && job.lookups_needed > 0) {
        cv::pg::QuotaReservation account(ctx, catalog);
        const std::int64_t held = cv::pg::lookups_held_by_jobs(catalog, ctx.settings.url, ctx.api_key_id);
        cv::core::check_monthly_quota(quota, account.spent() + held, job.lookups_needed, ctx.server_name);
    }
    const std::int64_t id = cv::pg::insert_job(catalog, ctx, job, roster);
    cv::pg::wake_job_worker_at_commit(catalog.owner);
    return Int64GetDatum(id);
}

}  // namespace

extern "C" {
PG_FUNCTION_INFO_V1(cv_job_submit_query);
Datum cv_job_submit_query(PG_FUNCTION_ARGS);
PG_FUNCTION_INFO_V1(cv_job_submit_json);
Datum cv_job_submit_json(PG_FUNCTION_ARGS);
PG_FUNCTION_INFO_V1(cv_job_cancel);
Datum cv_job_cancel(PG_FUNCTION_ARGS);
PG_FUNCTION_INFO_V1(cv_cluster_id);
Datum cv_cluster_id(PG_FUNCTION_ARGS);
}

// The cluster's system identifier, as a bigint (its bits).
Datum cv_cluster_id(PG_FUNCTION_ARGS) {
    return cv::pg::guard([&] { return Int64GetDatum(static_cast<int64>(GetSystemIdentifier())); });
}

Datum cv_job_submit_query(PG_FUNCTION_ARGS) {
    return cv::pg::guard([&] {
        if (PG_ARGISNULL(0)) throw Error(ErrorKind::InvalidParameter, "the roster query must not be NULL");
        const std::string query = cv::pg::pg_value([&] { return text_to_cstring(PG_GETARG_TEXT_PP(0)); });
        return submit(fcinfo, [&](cv::pg::Roster& roster) { roster.load_query(query); });
    });
}

Datum cv_job_submit_json(PG_FUNCTION_ARGS) {
    return cv::pg::guard([&] {
        if (PG_ARGISNULL(0)) throw Error(ErrorKind::InvalidParameter, "the roster must not be NULL");
        const Datum roster = PG_GETARG_DATUM(0);
        return submit(fcinfo, [&](cv::pg::Roster& r) { r.load_json(roster); });
    });
}

Datum cv_job_cancel(PG_FUNCTION_ARGS) {
    return cv::pg::guard([&] {
        const std::int64_t id = PG_GETARG_INT64(0);
        cv::pg::Storage::ensure_writable();
        const cv::pg::ExtensionCatalog& catalog = cv::pg::extension_catalog();
        const auto job = cv::pg::job_ownership(catalog, id);
        const Oid me = cv::pg::pg_value([] { return GetUserId(); });
        Oid submitter = InvalidOid;
        bool visible = false;
        if (job) {
            cv::pg::pg_call([&] {
                submitter = job->owner;
                const Oid table = get_relname_relid("job_queue", catalog.data_schema);
                visible = (OidIsValid(submitter) && has_privs_of_role(me, submitter)) ||
                          pg_class_aclcheck(table, me, ACL_SELECT) == ACLCHECK_OK;
            });
        }
        if (!visible) throw Error(ErrorKind::MissingConfig, "job " + std::to_string(id) + " does not exist", kVisibilityHint);
        const bool may_cancel = cv::pg::pg_value([&] {
            return OidIsValid(submitter) ? has_privs_of_role(me, submitter) : superuser_arg(me);
        });
        if (!may_cancel)
            throw Error(ErrorKind::PermissionDenied, "permission denied to cancel job " + std::to_string(id),
                        "Only the role that submitted it (\"" + job->submitted_by +
                            "\"), or a role with its privileges, can cancel it.");
        if (job->status != "queued" && job->status != "processing") return BoolGetDatum(false);
        const std::string me_name = cv::pg::pg_value([&] { return GetUserNameFromId(me, false); });
        cv::pg::request_cancel(catalog, id, me_name);
        cv::pg::wake_job_worker_at_commit(catalog.owner);
        return BoolGetDatum(true);
    });
}
