// Compliance operations' SQL-callable helpers: a server's re-verification
// policy, taking a license off the review queue, and the accounts' usage
// counters in shared memory.
#include "pg/core_first.h"
#include "core/error.h"
#include "core/normalize.h"
#include "core/quota.h"

#include <ctime>
#include <string>
#include <vector>

#include "pg/args.h"
#include "pg/catalog.h"
#include "pg/guard.h"
#include "pg/result_row.h"
#include "pg/roster.h"
#include "pg/server_context.h"
#include "pg/shared_state.h"
#include "pg/spi.h"
#include "pg/srf.h"
#include "pg/storage.h"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/lsyscache.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"
}

namespace {

using cv::core::Error;
using cv::core::ErrorKind;

std::string text_arg(FunctionCallInfo fcinfo, int n) {
    if (PG_ARGISNULL(n)) return {};
    return cv::pg::to_utf8(cv::pg::pg_value([&] { return text_to_cstring(PG_GETARG_TEXT_PP(n)); }));
}

// Every name is schema-qualified; run as the owner with the pinned search_path.
constexpr const char* kResolveLicenseSql =
    "UPDATE contractor_verify.license_cache c SET needs_review = false, review_reason = NULL,"
    "  consecutive_timeouts = CASE WHEN c.consecutive_timeouts OPERATOR(pg_catalog.>=) 3 THEN 0"
    "                              ELSE c.consecutive_timeouts END"
    " WHERE c.api_url OPERATOR(pg_catalog.=) $1 AND c.state OPERATOR(pg_catalog.=) $2"
    "   AND c.license_number OPERATOR(pg_catalog.=) $3 AND c.needs_review";

constexpr const char* kNameInReviewSql =
    "SELECT EXISTS (SELECT FROM contractor_verify.review_queue q"
    "  WHERE q.api_url OPERATOR(pg_catalog.=) $1 AND q.state OPERATOR(pg_catalog.=) $2"
    "    AND q.lookup_name OPERATOR(pg_catalog.=) $3)";

constexpr const char* kResolvedSql =
    "INSERT INTO contractor_verify.verification_history"
    " (observed_at, role_name, server_name, request_kind, state, license_number, lookup_name, outcome,"
    "  error_message, billable, api_url, api_key_id, charged)"
    " VALUES (pg_catalog.now(), $1, $2, 'review', $3, $4, $5, 'REVIEW_RESOLVED', $6, false, $7, $8, 0)";

// Whether this database has charged lookups to an account (the accounts of
// other databases of the cluster are theirs to see).
constexpr const char* kKnownAccountSql =
    "SELECT EXISTS (SELECT FROM contractor_verify.verification_history h"
    "  WHERE h.charged OPERATOR(pg_catalog.>) 0 AND h.api_url OPERATOR(pg_catalog.=) $1"
    "    AND h.api_key_id OPERATOR(pg_catalog.=) $2)";

SPIPlanPtr resolve_license_plan, name_in_review_plan, resolved_plan, known_account_plan;

}  // namespace

extern "C" {
PG_FUNCTION_INFO_V1(cv_reverify_policy);
Datum cv_reverify_policy(PG_FUNCTION_ARGS);
PG_FUNCTION_INFO_V1(cv_review_resolve);
Datum cv_review_resolve(PG_FUNCTION_ARGS);
PG_FUNCTION_INFO_V1(cv_account_counters);
Datum cv_account_counters(PG_FUNCTION_ARGS);
}

Datum cv_reverify_policy(PG_FUNCTION_ARGS) {
    return cv::pg::guard([&] {
        std::string name;
        const cv::core::ServerSettings s = cv::pg::server_settings(cv::pg::server_arg(fcinfo, 0), name);
        TupleDesc desc = nullptr;
        cv::pg::pg_call([&] {
            if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
                elog(ERROR, "contractor_verify: return type must be a row type");
            desc = BlessTupleDesc(desc);
        });
        Datum values[7] = {cv::pg::utf8_text(name), cv::pg::utf8_text(s.url), cv::pg::interval_datum(s.reverify.within_30d.count()),
                           cv::pg::interval_datum(s.reverify.within_90d.count()), cv::pg::interval_datum(s.reverify.not_active.count()),
                           cv::pg::interval_datum(s.reverify.not_found.count()), cv::pg::interval_datum(s.reverify.otherwise.count())};
        bool nulls[7] = {};
        return cv::pg::pg_value([&] { return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)); });
    });
}

Datum cv_review_resolve(PG_FUNCTION_ARGS) {
    return cv::pg::guard([&] {
        if (PG_ARGISNULL(0)) throw Error(ErrorKind::InvalidParameter, "state must not be NULL");
        const std::string state = cv::core::normalize_state(text_arg(fcinfo, 0));
        const bool by_number = !PG_ARGISNULL(1);
        if (by_number == !PG_ARGISNULL(2))
            throw Error(ErrorKind::InvalidParameter, "give either license_number or lookup_name",
                        "A license in review is named by its number; a name lookup with several "
                        "candidates by the name it was looked up with.");
        const std::string number = by_number ? cv::core::normalize_license_number(text_arg(fcinfo, 1)) : "";
        const std::string name = by_number ? "" : cv::core::normalize_lookup_name(text_arg(fcinfo, 2));
        const std::string note = text_arg(fcinfo, 3);
        const cv::pg::ServerContext ctx = cv::pg::load_server_context(cv::pg::server_arg(fcinfo, 4));
        cv::pg::Storage::ensure_writable();
        const cv::pg::ExtensionCatalog& catalog = cv::pg::extension_catalog();
        bool resolved = false;
        cv::pg::with_owner_spi(catalog.owner, [&] {
            const Datum url = cv::pg::utf8_text(ctx.settings.url);
            const Datum st = cv::pg::utf8_text(state);
            if (by_number) {
                Oid types[3] = {TEXTOID, TEXTOID, TEXTOID};
                SPIPlanPtr plan = cv::pg::kept_plan(resolve_license_plan, kResolveLicenseSql, 3, types);
                Datum values[3] = {url, st, cv::pg::utf8_text(number)};
                cv::pg::pg_call([&] {
                    if (SPI_execute_plan(plan, values, nullptr, false, 0) != SPI_OK_UPDATE)
                        elog(ERROR, "contractor_verify: could not resolve the review");
                    resolved = SPI_processed > 0;
                });
            } else {
                Oid types[3] = {TEXTOID, TEXTOID, TEXTOID};
                SPIPlanPtr plan = cv::pg::kept_plan(name_in_review_plan, kNameInReviewSql, 3, types);
                Datum values[3] = {url, st, cv::pg::utf8_text(name)};
                resolved = DatumGetBool(cv::pg::run_rows(plan, values, nullptr, {true}).at(0)[0]);
            }
            if (!resolved) return;
            // The resolution is part of the audit trail.
            Oid types[8] = {NAMEOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
            SPIPlanPtr plan = cv::pg::kept_plan(resolved_plan, kResolvedSql, 8, types);
            Datum values[8] = {cv::pg::pg_value([&] {
                                   return DirectFunctionCall1(namein, CStringGetDatum(ctx.role_name.c_str()));
                               }),
                               cv::pg::utf8_text(ctx.server_name), st,
                               by_number ? cv::pg::utf8_text(number) : 0, by_number ? 0 : cv::pg::utf8_text(name),
                               note.empty() ? 0 : cv::pg::utf8_text(note), url, cv::pg::utf8_text(ctx.api_key_id)};
            char nulls[9] = "        ";
            if (!by_number) nulls[3] = 'n';
            if (by_number) nulls[4] = 'n';
            if (note.empty()) nulls[5] = 'n';
            cv::pg::pg_call([&] {
                if (SPI_execute_plan(plan, values, nulls, false, 0) != SPI_OK_INSERT)
                    elog(ERROR, "contractor_verify: could not record the resolution");
            });
        });
        return BoolGetDatum(resolved);
    });
}

Datum cv_account_counters(PG_FUNCTION_ARGS) {
    return cv::pg::guard([&] {
        // The accounts (URLs, key fingerprints) and their counts are what the
        // usage view and the history show: only to roles that may read one
        // of them (every role has USAGE on the schema, so EXECUTE alone would
        // show them to all).
        const cv::pg::ExtensionCatalog& catalog = cv::pg::extension_catalog();
        const bool may_read = cv::pg::pg_value([&] {
            const Oid me = GetUserId();
            const Oid usage = get_relname_relid("usage", catalog.data_schema);
            return pg_class_aclcheck(catalog.history, me, ACL_SELECT) == ACLCHECK_OK ||
                   (OidIsValid(usage) && get_rel_relkind(usage) == RELKIND_VIEW &&
                    pg_class_aclcheck(usage, me, ACL_SELECT) == ACLCHECK_OK);
        });
        if (!may_read)
            throw Error(ErrorKind::PermissionDenied, "permission denied for function account_counters",
                        "It shows what contractor_verify.usage shows: GRANT SELECT ON contractor_verify.usage "
                        "to the roles that may read the usage.");
        cv::pg::MaterializedResult out = cv::pg::begin_materialized(fcinfo);
        cv::pg::SharedState* s = cv::pg::shared_state();
        if (s == nullptr) return (Datum)0;
        struct Row {
            std::string url, key_id;
            std::int32_t month;
            std::int64_t cache_answers, counted, quota;
        };
        std::vector<Row> rows;
        {
            cv::pg::SharedLock lock(s);
            for (int i = 0; i < s->key_slot_count; ++i) {
                const cv::pg::ApiKeySlot& slot = s->key_slots[i];
                if (slot.key_hash == 0 || slot.api_url[0] == '\0') continue;
                const std::int32_t month = slot.quota_month != 0 ? slot.quota_month : slot.cache_month;
                if (month == 0) continue;
                rows.push_back({slot.api_url, slot.api_key_id, month,
                                slot.cache_month == month ? slot.cache_answers : 0,
                                slot.quota_month == month ? slot.quota_used + slot.quota_reserved : 0,
                                slot.quota_limit});
            }
        }
        std::vector<bool> known(rows.size(), false);
        cv::pg::with_owner_spi(catalog.owner, [&] {
            Oid types[2] = {TEXTOID, TEXTOID};
            SPIPlanPtr plan = cv::pg::kept_plan(known_account_plan, kKnownAccountSql, 2, types);
            for (std::size_t i = 0; i < rows.size(); ++i) {
                Datum values[2] = {cv::pg::utf8_text(rows[i].url), cv::pg::utf8_text(rows[i].key_id)};
                known[i] = DatumGetBool(cv::pg::run_rows(plan, values, nullptr, {true}).at(0)[0]);
            }
        });
        for (std::size_t i = 0; i < rows.size(); ++i) {
            if (!known[i]) continue;
            const Row& r = rows[i];
            const int y = (r.month - 1) / 12, m = (r.month - 1) % 12 + 1;
            Datum values[6] = {cv::pg::utf8_text(r.url), cv::pg::utf8_text(r.key_id),
                               DateADTGetDatum(date2j(y, m, 1) - POSTGRES_EPOCH_JDATE), Int64GetDatum(r.cache_answers),
                               Int64GetDatum(r.counted), Int64GetDatum(r.quota)};
            bool nulls[6] = {};
            cv::pg::pg_call([&] { tuplestore_putvalues(out.store, out.desc, values, nulls); });
        }
        return (Datum)0;
    });
}
