#include "pg/storage.h"

#include "core/error.h"
#include "core/freshness.h"

#include <nlohmann/json.hpp>

#include "pg/guard.h"

extern "C" {
#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "access/xact.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
}

namespace cv::pg {

namespace {

constexpr const char* kFreshSql =
    "SELECT f.ord, f.result FROM contractor_verify.fresh_results($1, $2, $3, $4) AS f";
constexpr const char* kRecordSql =
    "SELECT r FROM contractor_verify.record_observations($1, $2, $3::jsonb, $4) AS r";

// Runs as another user until destroyed (the caller's identity comes back even
// when an error unwinds through here).
class AsUser {
public:
    explicit AsUser(Oid user) {
        GetUserIdAndSecContext(&saved_user_, &saved_context_);
        SetUserIdAndSecContext(user, saved_context_ | SECURITY_LOCAL_USERID_CHANGE);
    }
    ~AsUser() { SetUserIdAndSecContext(saved_user_, saved_context_); }
    AsUser(const AsUser&) = delete;
    AsUser& operator=(const AsUser&) = delete;

private:
    Oid saved_user_ = InvalidOid;
    int saved_context_ = 0;
};

// SPI_connect ... SPI_finish around f. When f throws, the transaction's abort
// releases the connection.
template <typename F>
void with_spi(Oid owner, F&& f) {
    AsUser as_owner(owner);
    pg_call([] {
        if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "contractor_verify: SPI_connect failed");
    });
    f();
    pg_call([] { SPI_finish(); });
}

// A plan prepared once per backend and kept across transactions.
SPIPlanPtr kept_plan(SPIPlanPtr& slot, const char* sql, int nargs, Oid* types) {
    if (slot == nullptr) {
        pg_call([&] {
            SPIPlanPtr plan = SPI_prepare(sql, nargs, types);
            if (plan == nullptr)
                elog(ERROR, "contractor_verify: SPI_prepare failed: %s",
                     SPI_result_code_string(SPI_result));
            SPI_keepplan(plan);
            slot = plan;
        });
    }
    return slot;
}

Datum text_array(const std::vector<const std::string*>& items) {
    Datum result = 0;
    pg_call([&] {
        Datum* elems = static_cast<Datum*>(palloc(sizeof(Datum) * (items.size() + 1)));
        for (std::size_t i = 0; i < items.size(); ++i)
            elems[i] = PointerGetDatum(cstring_to_text_with_len(
                items[i]->data(), static_cast<int>(items[i]->size())));
        result = PointerGetDatum(construct_array(elems, static_cast<int>(items.size()), TEXTOID, -1,
                                                 false, TYPALIGN_INT));
    });
    return result;
}

// Runs a kept plan and copies every row out of SPI memory: by-value columns
// as they are, by-reference ones (cv_result composites) into the caller's
// context. A NULL column comes back as 0.
std::vector<std::vector<Datum>> run_rows(SPIPlanPtr plan, Datum* values, const char* nulls,
                                         const std::vector<bool>& by_value) {
    std::vector<std::vector<Datum>> rows;
    uint64 count = 0;
    pg_call([&] {
        const int rc = SPI_execute_plan(plan, values, nulls, false, 0);
        if (rc != SPI_OK_SELECT)
            elog(ERROR, "contractor_verify: storage query failed: %s", SPI_result_code_string(rc));
        count = SPI_processed;
    });
    rows.reserve(count);
    for (uint64 i = 0; i < count; ++i) {
        std::vector<Datum> row(by_value.size(), 0);
        pg_call([&] {
            for (std::size_t c = 0; c < by_value.size(); ++c) {
                bool isnull = false;
                Datum d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc,
                                        static_cast<int>(c) + 1, &isnull);
                if (!isnull) row[c] = by_value[c] ? d : SPI_datumTransfer(d, false, -1);
            }
        });
        rows.push_back(std::move(row));
    }
    return rows;
}

Oid table_owner() {
    Oid owner = InvalidOid;
    pg_call([&] {
        const Oid nsp = get_namespace_oid("contractor_verify", false);
        const Oid rel = get_relname_relid("license_cache", nsp);
        if (!OidIsValid(rel))
            ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
                            errmsg("contractor_verify.license_cache does not exist"),
                            errhint("Reinstall the extension: DROP EXTENSION contractor_verify; "
                                    "CREATE EXTENSION contractor_verify;")));
        HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(rel));
        if (!HeapTupleIsValid(tup)) elog(ERROR, "cache lookup failed for relation %u", rel);
        owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(tup))->relowner;
        ReleaseSysCache(tup);
    });
    return owner;
}

SPIPlanPtr fresh_plan = nullptr;
SPIPlanPtr record_plan = nullptr;

}  // namespace

Storage::Storage(const ServerContext& ctx) : ctx_(ctx) {
    owner_ = table_owner();
    const char* role = nullptr;
    pg_call([&] { role = GetUserNameFromId(GetUserId(), false); });
    role_ = role;
}

std::vector<std::pair<std::size_t, Datum>> Storage::fresh(const std::vector<CacheKey>& keys,
                                                          std::optional<Datum> max_age) {
    std::vector<std::pair<std::size_t, Datum>> hits;
    if (keys.empty()) return hits;
    std::vector<const std::string*> states, licenses, ids;
    for (const auto& k : keys) {
        states.push_back(&k.state);
        licenses.push_back(&k.license_number);
        ids.push_back(&k.id);
    }
    with_spi(owner_, [&] {
        Oid types[4] = {TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, INTERVALOID};
        SPIPlanPtr plan = kept_plan(fresh_plan, kFreshSql, 4, types);
        Datum values[4] = {text_array(states), text_array(licenses), text_array(ids),
                           max_age.value_or(0)};
        const char nulls[4] = {' ', ' ', ' ', max_age ? ' ' : 'n'};
        for (const auto& row : run_rows(plan, values, nulls, {true, false})) {
            const auto ord = static_cast<std::size_t>(DatumGetInt64(row[0]));  // 1-based
            if (ord >= 1 && ord <= keys.size() && row[1] != 0) hits.emplace_back(ord - 1, row[1]);
        }
    });
    return hits;
}

void Storage::ensure_writable() {
    if (XactReadOnly)
        throw core::Error(core::ErrorKind::ReadOnly,
                          "cannot verify licenses in a read-only transaction",
                          "Answers from the API are stored in the extension's tables; run the "
                          "lookup in a read-write transaction on the primary. Fresh cache entries "
                          "can still be read.");
}

std::vector<Datum> Storage::record(const std::vector<core::Observation>& observations) {
    nlohmann::json doc = nlohmann::json::array();
    for (const auto& o : observations) doc.push_back(o.to_json());
    const std::string text = doc.dump();
    std::vector<Datum> rows;
    with_spi(owner_, [&] {
        Oid types[4] = {TEXTOID, NAMEOID, TEXTOID, INT4OID};
        SPIPlanPtr plan = kept_plan(record_plan, kRecordSql, 4, types);
        Datum values[4];
        pg_call([&] {
            values[0] = CStringGetTextDatum(ctx_.server_name.c_str());
            values[1] = DirectFunctionCall1(namein, CStringGetDatum(role_.c_str()));
            values[2] = PointerGetDatum(cstring_to_text_with_len(text.data(), static_cast<int>(text.size())));
            values[3] = Int32GetDatum(core::kTimeoutsBeforeReview);
        });
        for (const auto& row : run_rows(plan, values, nullptr, {false})) rows.push_back(row[0]);
    });
    return rows;
}

}  // namespace cv::pg
