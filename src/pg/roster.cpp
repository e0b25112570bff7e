#include "pg/core_first.h"
#include "core/error.h"
#include "core/normalize.h"
#include "core/cache_rules.h"
#include "core/batch_protocol.h"

#include <cctype>

#include <nlohmann/json.hpp>

#include "pg/result_row.h"
#include "pg/roster.h"

#include <cctype>

#include "pg/guard.h"
#include "pg/memory_scope.h"
#include "pg/spi.h"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
}

namespace cv::pg {

namespace {

using core::Error;
using core::ErrorKind;

constexpr int kFetch = 1000;

// Columns of the roster tuplestore.
enum { kId, kState, kLicense, kLookup, kError, kColumns };

// A JSON value as the text `->>` would give; NULL for JSON null or absent.
// With `scalar_only`, an object, array or boolean sets *wrong_type instead:
// a state, license number or name is a string or a number.
char* json_text(JsonbContainer* obj, const char* key, bool scalar_only, bool* wrong_type) {
    JsonbValue* v = getKeyJsonValueFromContainer(obj, key, static_cast<int>(strlen(key)), nullptr);
    if (v == nullptr) return nullptr;
    if (scalar_only && v->type != jbvString && v->type != jbvNumeric && v->type != jbvNull) {
        *wrong_type = true;
        return nullptr;
    }
    switch (v->type) {
        case jbvNull:
            return nullptr;
        case jbvString:
            return pnstrdup(v->val.string.val, v->val.string.len);
        case jbvNumeric:
            return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
        case jbvBool:
            return pstrdup(v->val.boolean ? "true" : "false");
        case jbvBinary:
            return JsonbToCString(nullptr, v->val.binary.data, v->val.binary.len);
        default:
            return nullptr;
    }
}

}  // namespace

std::string to_utf8(const char* s) {
    if (s == nullptr) return {};
    const char* converted = pg_value([&] {
        return pg_server_to_any(s, static_cast<int>(strlen(s)), PG_UTF8);
    });
    return converted;
}

std::string roster_query_text(const std::string& query) {
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

Roster::Roster() {
    pg_call([&] {
        context_ = AllocSetContextCreate(CurrentMemoryContext, "contractor_verify roster",
                                         ALLOCSET_DEFAULT_SIZES);
        MemoryContext old = MemoryContextSwitchTo(context_);
        desc_ = CreateTemplateTupleDesc(kColumns);
        TupleDescInitEntry(desc_, kId + 1, "id", TEXTOID, -1, 0);
        TupleDescInitEntry(desc_, kState + 1, "state", TEXTOID, -1, 0);
        TupleDescInitEntry(desc_, kLicense + 1, "license_number", TEXTOID, -1, 0);
        TupleDescInitEntry(desc_, kLookup + 1, "lookup", INT8OID, -1, 0);
        TupleDescInitEntry(desc_, kError + 1, "error", TEXTOID, -1, 0);
        store_ = tuplestore_begin_heap(false, false, work_mem);
        scratch_ = AllocSetContextCreate(context_, "contractor_verify roster row", ALLOCSET_SMALL_SIZES);
        slot_ = MakeSingleTupleTableSlot(desc_, &TTSOpsMinimalTuple);
        MemoryContextSwitchTo(old);
    });
}

Roster::~Roster() {
    if (slot_ != nullptr) ExecDropSingleTupleTableSlot(slot_);
    if (store_ != nullptr) tuplestore_end(store_);
    if (context_ != nullptr) MemoryContextDelete(context_);
}

void Roster::add(const char* id, const char* state, const char* license, const char* name,
                 const char* element_error) {
    pg_call([&] { MemoryContextReset(scratch_); });
    MemoryScope scratch(scratch_);
    auto opt = [](const char* s) { return s ? std::optional<std::string>(to_utf8(s)) : std::nullopt; };
    core::NormalizedInput n;
    if (element_error != nullptr)
        n.error = element_error;
    else
        n = core::normalize_input(opt(id), opt(state), opt(license), opt(name));
    ++rows_;
    std::int64_t lookup = -1;
    if (n.error.empty()) {
        auto [it, inserted] = index_.emplace(n.key, static_cast<std::int64_t>(lookups_.size()));
        if (inserted) {
            lookups_.push_back({std::to_string(lookups_.size() + 1), n.state, n.license_number, n.name});
            rows_per_lookup_.push_back(0);
        }
        lookup = it->second;
        ++rows_per_lookup_[lookup];
    } else {
        ++invalid_;
    }
    // Invalid rows keep what they can show: the normalized value, else the raw one.
    const std::string shown_state = n.error.empty() ? "" : !n.state.empty() ? n.state : opt(state).value_or("");
    const std::string shown_license =
        n.error.empty() ? "" : !n.license_number.empty() ? n.license_number : opt(license).value_or("");
    Datum values[kColumns];
    bool nulls[kColumns] = {true, true, true, false, true};
    const std::string& error = n.error;
    if (id != nullptr) {
        values[kId] = pg_value([&] { return CStringGetTextDatum(id); });  // as given
        nulls[kId] = false;
    }
    if (!shown_state.empty()) {
        values[kState] = utf8_text(shown_state);
        nulls[kState] = false;
    }
    if (!shown_license.empty()) {
        values[kLicense] = utf8_text(shown_license);
        nulls[kLicense] = false;
    }
    values[kLookup] = Int64GetDatum(lookup);
    if (!error.empty()) {
        values[kError] = utf8_text(error);
        nulls[kError] = false;
    }
    pg_call([&] { tuplestore_putvalues(store_, desc_, values, nulls); });
}

void Roster::load_query(const std::string& query) {
    const std::string q = roster_query_text(query);
    spi_connect();
    Portal portal = nullptr;
    int columns = 0;
    pg_call([&] {
        portal = SPI_cursor_open_with_args(nullptr, q.c_str(), 0, nullptr, nullptr, nullptr, false, 0);
        columns = portal->tupDesc ? portal->tupDesc->natts : 0;
    });
    if (columns != 3 && columns != 4)
        throw Error(ErrorKind::InvalidParameter,
                    "the roster query returns " + std::to_string(columns) + " column" +
                        (columns == 1 ? "" : "s") + "; it must return 3 or 4",
                    "Return (id, state, license_number) or (id, state, license_number, name), "
                    "in that order.");
    MemoryContext batch = nullptr;
    pg_call([&] {
        batch = AllocSetContextCreate(CurrentMemoryContext, "contractor_verify roster fetch",
                                      ALLOCSET_DEFAULT_SIZES);
    });
    for (;;) {
        std::uint64_t n = 0;
        char** cells = nullptr;
        pg_call([&] {
            MemoryContextReset(batch);
            SPI_cursor_fetch(portal, true, kFetch);
            n = SPI_processed;
            MemoryContext old = MemoryContextSwitchTo(batch);
            cells = static_cast<char**>(palloc0(sizeof(char*) * 4 * (n + 1)));
            for (uint64 i = 0; i < n; ++i)
                for (int c = 0; c < columns; ++c)
                    cells[i * 4 + c] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, c + 1);
            MemoryContextSwitchTo(old);
            SPI_freetuptable(SPI_tuptable);
        });
        if (n == 0) break;
        for (std::uint64_t i = 0; i < n; ++i) {
            throw_if_interrupted();
            add(cells[i * 4], cells[i * 4 + 1], cells[i * 4 + 2], cells[i * 4 + 3], nullptr);
        }
    }
    pg_call([&] {
        SPI_cursor_close(portal);
        MemoryContextDelete(batch);
    });
    spi_finish();
}

void Roster::load_json(Datum roster) {
    Jsonb* jb = nullptr;
    bool is_array = false;
    pg_call([&] {
        jb = DatumGetJsonbP(roster);
        is_array = JB_ROOT_IS_ARRAY(jb) && !JB_ROOT_IS_SCALAR(jb);
    });
    if (!is_array)
        throw Error(ErrorKind::InvalidParameter, "the roster must be a JSON array",
                    "Pass '[{\"id\": \"c1\", \"state\": \"CA\", \"license_number\": "
                    "\"1052183\"}, ...]'::jsonb.");
    JsonbIterator* it = nullptr;
    MemoryContext batch = nullptr;
    pg_call([&] {
        it = JsonbIteratorInit(&jb->root);
        batch = AllocSetContextCreate(CurrentMemoryContext, "contractor_verify roster elements",
                                      ALLOCSET_DEFAULT_SIZES);
    });
    std::int64_t ordinal = 0;
    for (;;) {
        // A few elements at a time: their fields as C strings, read in Postgres code.
        struct Element {
            char* fields[4];
            bool object;
            int wrong_field;  // -1: none
        };
        Element* elements = nullptr;
        int n = 0;
        bool done = false;
        pg_call([&] {
            MemoryContextReset(batch);
            MemoryContext old = MemoryContextSwitchTo(batch);
            elements = static_cast<Element*>(palloc0(sizeof(Element) * kFetch));
            JsonbValue v;
            while (n < kFetch) {
                const JsonbIteratorToken t = JsonbIteratorNext(&it, &v, true);
                if (t == WJB_DONE) {
                    done = true;
                    break;
                }
                if (t != WJB_ELEM) continue;
                Element& e = elements[n++];
                e.object = v.type == jbvBinary && JsonContainerIsObject(v.val.binary.data);
                if (!e.object) continue;
                const char* keys[4] = {"id", "state", "license_number", "name"};
                e.wrong_field = -1;
                for (int k = 0; k < 4; ++k) {
                    bool wrong = false;
                    e.fields[k] = json_text(v.val.binary.data, keys[k], k > 0, &wrong);
                    if (wrong && e.wrong_field < 0) e.wrong_field = k;
                }
            }
            MemoryContextSwitchTo(old);
        });
        for (int i = 0; i < n; ++i) {
            throw_if_interrupted();
            ++ordinal;
            const Element& e = elements[i];
            static const char* const kNames[4] = {"id", "state", "license_number", "name"};
            std::string error;
            if (!e.object)
                error = "roster element " + std::to_string(ordinal) + " is not a JSON object";
            else if (e.wrong_field >= 0)
                error = std::string(kNames[e.wrong_field]) + " must be a JSON string or number";
            add(e.fields[0], e.fields[1], e.fields[2], e.fields[3], error.empty() ? nullptr : error.c_str());
        }
        if (done) break;
    }
    pg_call([&] { MemoryContextDelete(batch); });
}

bool Roster::next(Row& row) {
    bool found = false;
    Datum values[kColumns];
    bool nulls[kColumns];
    pg_call([&] {
        found = tuplestore_gettupleslot(store_, true, false, slot_);
        if (!found) return;
        slot_getallattrs(slot_);
        for (int c = 0; c < kColumns; ++c) {
            values[c] = slot_->tts_values[c];
            nulls[c] = slot_->tts_isnull[c];
        }
    });
    if (!found) return false;
    row.id = values[kId];
    row.id_null = nulls[kId];
    row.lookup = DatumGetInt64(values[kLookup]);
    row.state.clear();
    row.license_number.clear();
    row.error.clear();
    if (row.lookup < 0) {
        auto column = [&](int c) {
            if (nulls[c]) return std::string();
            const char* s = pg_value([&] { return text_to_cstring(DatumGetTextPP(values[c])); });
            return to_utf8(s);
        };
        row.state = column(kState);
        row.license_number = column(kLicense);
        row.error = column(kError);
    }
    return true;
}

}  // namespace cv::pg
