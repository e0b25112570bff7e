// A batch's roster, held where the caller cannot reach it: rows in a
// tuplestore of this backend (spilling to a temporary file past work_mem),
// distinct lookups in memory. No table, so nothing the caller's roster query
// does (it runs with the caller's rights) can change what the owner-rights
// code reads later.
#pragma once

#include "core/batch_protocol.h"

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "pg/pg_headers.h"

extern "C" {
#include "access/tupdesc.h"
#include "executor/tuptable.h"
#include "utils/tuplestore.h"
}

namespace cv::pg {

class Roster {
public:
    Roster();
    ~Roster();
    Roster(const Roster&) = delete;
    Roster& operator=(const Roster&) = delete;

    // Rows of (id, state, license_number[, name]) from the caller's query,
    // run with the caller's rights and search_path.
    void load_query(const std::string& query);
    // A JSON array of {"id", "state", "license_number" | "name"}.
    void load_json(Datum roster);

    // Distinct lookups in order of first appearance; lookup i has lookup_id i + 1.
    const std::vector<core::LookupItem>& lookups() const { return lookups_; }
    std::int64_t rows() const { return rows_; }
    std::int64_t invalid() const { return invalid_; }
    // Roster rows that share lookup i.
    std::int64_t rows_of(std::size_t i) const { return rows_per_lookup_[i]; }

    // Every row in input order.
    struct Row {
        Datum id;             // text, or 0 when NULL
        bool id_null;
        std::int64_t lookup;  // index into lookups(), or -1 for an invalid row
        std::string state, license_number, error;  // invalid rows only
    };
    template <typename F>
    void for_each(F&& f);

private:
    // One raw row (UTF-8 strings; nullptr for NULL); `where` names it in errors.
    void add(const char* id, const char* state, const char* license, const char* name,
             const char* element_error);
    bool next(Row& row);

    MemoryContext context_ = nullptr;
    MemoryContext scratch_ = nullptr;  // one row's values, reset per row
    TupleDesc desc_ = nullptr;
    Tuplestorestate* store_ = nullptr;
    TupleTableSlot* slot_ = nullptr;
    std::unordered_map<std::string, std::int64_t> index_;
    std::vector<core::LookupItem> lookups_;
    std::vector<std::uint32_t> rows_per_lookup_;
    std::int64_t rows_ = 0, invalid_ = 0;
};

template <typename F>
void Roster::for_each(F&& f) {
    Row row;
    while (next(row)) f(row);
}

// The roster query as a subquery: no trailing semicolons or whitespace;
// throws Error(InvalidParameter) when empty.
std::string roster_query_text(const std::string& query);

// A string in the database encoding as UTF-8 (the core's encoding).
std::string to_utf8(const char* s);

}  // namespace cv::pg
