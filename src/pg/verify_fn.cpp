// cv_verify(state, license_number[, max_age][, server]) and
// cv_verify_by_name(state, name[, server]): one lookup, cache first.
#include "pg/core_first.h"
#include "core/batch_protocol.h"
#include "core/cache_rules.h"
#include "core/error.h"
#include "core/options.h"

#include <nlohmann/json.hpp>
#include "core/freshness.h"
#include "core/normalize.h"
#include "core/single_lookup.h"

#include <optional>
#include <string>
#include <vector>

#include "pg/args.h"
#include "pg/cache_table.h"
#include "pg/live_lookup_budget.h"
#include "pg/result_row.h"
#include "pg/roster.h"
#include "pg/runtime.h"
#include "pg/server_context.h"
#include "pg/rate_gate.h"
#include "pg/single_flight.h"
#include "pg/storage.h"
#include "pg/usage_counter.h"

#include "pg/guard.h"

extern "C" {
#include "access/xact.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/datum.h"
}

namespace {

using cv::core::Error;
using cv::core::ErrorKind;

std::string text_arg(FunctionCallInfo fcinfo, int n, const char* what) {
    if (PG_ARGISNULL(n))
        throw Error(ErrorKind::InvalidParameter, std::string(what) + " must not be NULL",
                    std::string("Pass a ") + what + "; rows with a NULL " + what +
                        " cannot be verified.");
    const char* s = cv::pg::pg_value([&] { return text_to_cstring(PG_GETARG_TEXT_PP(n)); });
    return cv::pg::to_utf8(s);
}

TupleDesc result_desc(FunctionCallInfo fcinfo) {
    TupleDesc desc = nullptr;
    cv::pg::pg_call([&] {
        if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
            elog(ERROR, "contractor_verify: return type must be a row type");
        desc = BlessTupleDesc(desc);
    });
    return desc;
}

Datum lookup(FunctionCallInfo fcinfo, const cv::core::LookupTarget& target,
             const char* server_name, std::optional<std::int64_t> max_age) {
    const cv::pg::ServerContext ctx = cv::pg::load_server_context(server_name);
    cv::pg::Storage storage(ctx);
    cv::pg::ResultBuilder results(result_desc(fcinfo));

    if (!target.license_number.empty()) {
        // Cache first; a lookup another session is buying right now is
        // waited for, then read from the cache.
        // The reader's snapshot is fresh for the first read; later reads
        // take a new one.
        std::optional<std::int64_t> since;
        for (bool first = true;; first = false) {
            cv::pg::CachedRow row;
            if (!first) storage.reader().refresh();
            auto verdict = storage.look_up(target.state, target.license_number, row, max_age, since);
            if (verdict != cv::core::CacheVerdict::Miss) {
                cv::pg::count_cache_answers(ctx, 1);
                return results.cached(row, verdict);
            }
            since = storage.started_ms();
            if (storage.claims().claim(target.state, target.license_number) !=
                cv::pg::InflightClaims::Claim::Busy) {
                // Ours to buy, unless another session recorded it just now.
                storage.reader().refresh();
                verdict = storage.look_up(target.state, target.license_number, row, max_age, since);
                if (verdict != cv::core::CacheVerdict::Miss) return results.cached(row, verdict);
                break;
            }
            while (storage.claims().busy(target.state, target.license_number))
                storage.wait_for_other_session();
        }
    }

    cv::pg::spend_live_lookups(1, "this lookup");
    storage.prepare_to_call(1);
    std::unique_ptr<cv::core::RateGate> gate = cv::pg::make_rate_gate(ctx, cv::pg::CallKind::Single);
    cv::core::CallHooks hooks = cv::pg::backend_call_hooks();
    hooks.may_charge_again = [&storage](std::int64_t n) { return storage.reserve_again(n); };
    cv::core::SingleLookupResult result =
        cv::core::lookup_single(cv::pg::backend_http_client(), ctx.settings, ctx.server_name,
                                ctx.api_key, target, hooks, gate.get());
    std::vector<cv::core::Observation> observations;
    for (auto& failed : result.failed_attempts) {
        failed.attempt_only = true;
        observations.push_back(std::move(failed));
    }
    if (!result.failure) {
        cv::core::schedule_observation(result.answer, ctx.settings,
                                       cv::pg::backend_call_hooks().random01());
        observations.push_back(std::move(result.answer));
    }

    Datum answer = 0;
    storage.record(std::move(observations), results,
                   [&](const cv::core::Observation&, Datum d) {
                       answer = cv::pg::pg_value([&] { return datumCopy(d, false, -1); });
                   });
    if (!result.aborted) storage.settle_all();
    if (result.failure) std::rethrow_exception(result.failure);
    if (answer == 0) throw Error(ErrorKind::Internal, "the lookup's result was not recorded");
    return answer;
}

}  // namespace

extern "C" {
PG_FUNCTION_INFO_V1(cv_verify);
Datum cv_verify(PG_FUNCTION_ARGS);
PG_FUNCTION_INFO_V1(cv_verify_by_name);
Datum cv_verify_by_name(PG_FUNCTION_ARGS);
}

Datum cv_verify(PG_FUNCTION_ARGS) {
    return cv::pg::guard([&] {
        cv::core::LookupTarget target;
        target.state = cv::core::normalize_state(text_arg(fcinfo, 0, "state"));
        target.license_number =
            cv::core::normalize_license_number(text_arg(fcinfo, 1, "license_number"));
        const auto max_age = cv::pg::max_age_ms(fcinfo, 2);
        return lookup(fcinfo, target, cv::pg::server_arg(fcinfo, 3), max_age);
    });
}

Datum cv_verify_by_name(PG_FUNCTION_ARGS) {
    return cv::pg::guard([&] {
        cv::core::LookupTarget target;
        target.state = cv::core::normalize_state(text_arg(fcinfo, 0, "state"));
        target.name = cv::core::normalize_lookup_name(text_arg(fcinfo, 1, "name"));
        return lookup(fcinfo, target, cv::pg::server_arg(fcinfo, 2), std::nullopt);
    });
}
