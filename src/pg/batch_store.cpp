#include "core/error.h"
#include "core/freshness.h"

#include "pg/batch_store.h"
#include "pg/guard.h"
#include "pg/spi.h"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
}

namespace cv::pg {

namespace {

using core::Error;
using core::ErrorKind;

constexpr const char* kCreateRoster =
    "CREATE TEMP TABLE cv_batch_roster ("
    " ord bigint NOT NULL, id text, state text, license_number text, name text,"
    " n_state text, n_license_number text, n_name text, lookup_key text, input_error text)";

constexpr const char* kRosterColumns =
    "INSERT INTO pg_temp.cv_batch_roster"
    " (ord, id, state, license_number, name, n_state, n_license_number, n_name, lookup_key,"
    "  input_error) ";

constexpr const char* kLoadJson =
    "SELECT x.ord, x.e->>'id', x.e->>'state', x.e->>'license_number', x.e->>'name',"
    "       n.state, n.license_number, n.name, n.lookup_key,"
    "       CASE WHEN jsonb_typeof(x.e) <> 'object'"
    "            THEN 'roster element ' || x.ord || ' is not a JSON object'"
    "            ELSE n.error_message END"
    "  FROM jsonb_array_elements($1) WITH ORDINALITY AS x(e, ord),"
    "       LATERAL contractor_verify.normalize_input(x.e->>'state', x.e->>'license_number',"
    "                                                 x.e->>'name') AS n";

constexpr const char* kNextLookups =
    "SELECT lookup_id, state, license_number, name FROM pg_temp.cv_batch_lookups"
    " WHERE lookup_id > $1 ORDER BY lookup_id LIMIT $2";

constexpr const char* kRecordChunk =
    "INSERT INTO pg_temp.cv_batch_results (lookup_id, result)"
    " SELECT (r).id::bigint, r"
    "   FROM contractor_verify.record_observations($1, $2, $3::jsonb, $4) AS r"
    "  WHERE (r).id IS NOT NULL"
    " ON CONFLICT (lookup_id) DO NOTHING";

constexpr const char* kOutput =
    "SELECT CASE"
    "   WHEN r.input_error IS NOT NULL THEN"
    "     contractor_verify.result_of(NULL, NULL, coalesce(r.n_state, r.state),"
    "       coalesce(r.n_license_number, r.license_number), 'INVALID_INPUT', r.input_error, NULL, false)"
    "   WHEN l.lookup_id IS NOT NULL THEN"
    "     coalesce(x.result, contractor_verify.result_of(NULL, NULL, r.n_state, r.n_license_number,"
    "       'NO_RESULT', 'no answer was recorded for this record', NULL, false))"
    "   WHEN c.state IS NULL THEN"
    "     contractor_verify.result_of(NULL, NULL, r.n_state, r.n_license_number,"
    "       'NO_RESULT', 'the cache entry disappeared during the batch', NULL, false)"
    "   ELSE contractor_verify.result_of(c, NULL, r.n_state, r.n_license_number,"
    "       c.error_code, c.error_message, NULL, true)"
    " END AS result, r.id"
    " FROM pg_temp.cv_batch_roster r"
    " LEFT JOIN pg_temp.cv_batch_lookups l ON l.lookup_key = r.lookup_key"
    " LEFT JOIN pg_temp.cv_batch_results x ON x.lookup_id = l.lookup_id"
    " LEFT JOIN contractor_verify.license_cache c"
    "        ON c.state = r.n_state AND c.license_number = r.n_license_number"
    " ORDER BY r.ord";

// The roster query as a subquery: no trailing semicolons or whitespace.
std::string subquery_text(const std::string& query) {
    std::string q = query;
    while (!q.empty() && (q.back() == ';' || std::isspace(static_cast<unsigned char>(q.back()))))
        q.pop_back();
    std::size_t start = 0;
    while (start < q.size() && std::isspace(static_cast<unsigned char>(q[start]))) ++start;
    q = q.substr(start);
    if (q.empty())
        throw Error(ErrorKind::InvalidParameter, "the roster query is empty",
                    "Pass a query returning (id, state, license_number) or (id, state, "
                    "license_number, name), such as $$SELECT id::text, state, license_no FROM "
                    "contractors$$.");
    return q;
}

void create_roster() {
    execute("SELECT 1 FROM pg_class WHERE oid = to_regclass('pg_temp.cv_batch_roster')");
    bool exists = false;
    pg_call([&] { exists = SPI_processed > 0; });
    if (exists) execute("DROP TABLE pg_temp.cv_batch_roster");
    execute(kCreateRoster);
}

std::string text_of(Datum d) {
    if (d == 0) return {};
    const char* s = pg_value([&] { return text_to_cstring(DatumGetTextPP(d)); });
    return s;
}

}  // namespace

BatchStore::BatchStore(Storage& storage, const ServerContext& ctx) : storage_(storage), ctx_(ctx) {}

void BatchStore::load_query(const std::string& query) {
    const std::string q = subquery_text(query);
    with_spi(GetUserId(), [&] {
        execute("SELECT * FROM (" + q + ") AS q LIMIT 0");
        int columns = 0;
        pg_call([&] { columns = SPI_tuptable->tupdesc->natts; });
        if (columns != 3 && columns != 4)
            throw Error(ErrorKind::InvalidParameter,
                        "the roster query returns " + std::to_string(columns) + " column" +
                            (columns == 1 ? "" : "s") + "; it must return 3 or 4",
                        "Return (id, state, license_number) or (id, state, license_number, name), "
                        "in that order.");
        create_roster();
        const std::string name_column = columns == 4 ? "q.c4::text" : "NULL::text";
        const std::string aliases = columns == 4 ? "c1, c2, c3, c4" : "c1, c2, c3";
        execute(std::string(kRosterColumns) +
                "SELECT s.ord, s.id, s.state, s.license_number, s.name,"
                "       n.state, n.license_number, n.name, n.lookup_key, n.error_message"
                "  FROM (SELECT row_number() OVER () AS ord, q.c1::text AS id, q.c2::text AS state,"
                "               q.c3::text AS license_number, " + name_column + " AS name"
                "          FROM (" + q + ") AS q(" + aliases + ")) AS s,"
                "       LATERAL contractor_verify.normalize_input(s.state, s.license_number, s.name) AS n");
        execute("ANALYZE pg_temp.cv_batch_roster");
    });
}

void BatchStore::load_json(Datum roster) {
    with_spi(GetUserId(), [&] {
        Oid types[1] = {JSONBOID};
        Datum values[1] = {roster};
        execute("SELECT 1 WHERE jsonb_typeof($1) = 'array'", 1, types, values);
        bool is_array = false;
        pg_call([&] { is_array = SPI_processed > 0; });
        if (!is_array)
            throw Error(ErrorKind::InvalidParameter, "the roster must be a JSON array",
                        "Pass '[{\"id\": \"c1\", \"state\": \"CA\", \"license_number\": "
                        "\"1052183\"}, ...]'::jsonb.");
        create_roster();
        execute(std::string(kRosterColumns) + kLoadJson, 1, types, values);
        execute("ANALYZE pg_temp.cv_batch_roster");
    });
}

BatchStore::Plan BatchStore::plan(std::optional<Datum> max_age) {
    Plan p;
    with_spi(storage_.owner(), [&] {
        Oid types[1] = {INTERVALOID};
        Datum values[1] = {max_age.value_or(0)};
        const char nulls[1] = {max_age ? ' ' : 'n'};
        execute("SELECT total, invalid, cached, lookups FROM contractor_verify.batch_plan($1)", 1,
                types, values, nulls);
        pg_call([&] {
            bool isnull = false;
            HeapTuple t = SPI_tuptable->vals[0];
            TupleDesc d = SPI_tuptable->tupdesc;
            p.total = DatumGetInt64(SPI_getbinval(t, d, 1, &isnull));
            p.invalid = DatumGetInt64(SPI_getbinval(t, d, 2, &isnull));
            p.cached = DatumGetInt64(SPI_getbinval(t, d, 3, &isnull));
            p.lookups = DatumGetInt64(SPI_getbinval(t, d, 4, &isnull));
        });
    });
    return p;
}

std::vector<core::LookupItem> BatchStore::next_lookups(std::size_t max) {
    std::vector<core::LookupItem> items;
    with_spi(storage_.owner(), [&] {
        Oid types[2] = {INT8OID, INT4OID};
        Datum values[2] = {Int64GetDatum(last_lookup_id_), Int32GetDatum(static_cast<int>(max))};
        execute(kNextLookups, 2, types, values);
        std::uint64_t n = 0;
        pg_call([&] { n = SPI_processed; });
        for (std::uint64_t i = 0; i < n; ++i) {
            Datum cols[4] = {0, 0, 0, 0};
            pg_call([&] {
                for (int c = 0; c < 4; ++c) {
                    bool isnull = false;
                    Datum d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, c + 1, &isnull);
                    cols[c] = isnull ? 0 : d;
                }
            });
            const std::int64_t id = DatumGetInt64(cols[0]);
            items.push_back({std::to_string(id), text_of(cols[1]), text_of(cols[2]), text_of(cols[3])});
            last_lookup_id_ = id;
        }
    });
    return items;
}

void BatchStore::record(std::vector<core::Observation>& observations) {
    const std::string document = storage_.spooled_document(observations);
    with_spi(storage_.owner(), [&] {
        Oid types[4];
        Datum values[4];
        storage_.recording_params(document, types, values);
        execute(kRecordChunk, 4, types, values);
    });
}

void BatchStore::emit(const MaterializedResult& out) {
    with_spi(storage_.owner(), [&] {
        pg_call([&] {
            // Not read-only: the cursor must see this batch's own writes.
            Portal portal = SPI_cursor_open_with_args(nullptr, kOutput, 0, nullptr, nullptr, nullptr,
                                                      false, 0);
            MemoryContext rows = AllocSetContextCreate(CurrentMemoryContext, "cv_batch output",
                                                       ALLOCSET_DEFAULT_SIZES);
            const int natts = out.desc->natts;
            Datum* values = static_cast<Datum*>(palloc(sizeof(Datum) * natts));
            bool* nulls = static_cast<bool*>(palloc(sizeof(bool) * natts));
            for (;;) {
                SPI_cursor_fetch(portal, true, 1000);
                if (SPI_processed == 0) break;
                MemoryContext old = MemoryContextSwitchTo(rows);
                for (uint64 i = 0; i < SPI_processed; ++i) {
                    bool result_null = false, id_null = false;
                    Datum result = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &result_null);
                    Datum id = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &id_null);
                    if (result_null) elog(ERROR, "contractor_verify: a roster row has no result");
                    HeapTupleHeader header = DatumGetHeapTupleHeader(result);
                    HeapTupleData tuple;
                    tuple.t_len = HeapTupleHeaderGetDatumLength(header);
                    ItemPointerSetInvalid(&tuple.t_self);
                    tuple.t_tableOid = InvalidOid;
                    tuple.t_data = header;
                    heap_deform_tuple(&tuple, out.desc, values, nulls);
                    values[0] = id;  // the caller's id
                    nulls[0] = id_null;
                    tuplestore_putvalues(out.store, out.desc, values, nulls);
                }
                MemoryContextSwitchTo(old);
                MemoryContextReset(rows);
                SPI_freetuptable(SPI_tuptable);
            }
            SPI_cursor_close(portal);
            MemoryContextDelete(rows);
        });
    });
}

void BatchStore::drop() {
    with_spi(storage_.owner(), [&] {
        execute("DROP TABLE pg_temp.cv_batch_results, pg_temp.cv_batch_lookups, "
                "pg_temp.cv_batch_roster");
    });
}

}  // namespace cv::pg
