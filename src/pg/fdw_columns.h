// The columns of a contractor_verify foreign table: each is one of
// cv_result's, matched by name and type, or lookup_name (the business name a
// row was looked up by). IMPORT FOREIGN SCHEMA creates every one of them; a
// hand-written table may have any of them, in any order.
#pragma once

#include "pg/result_row.h"

#include "pg/pg_headers.h"

extern "C" {
#include "access/attnum.h"
#include "utils/relcache.h"
}

namespace cv::pg {

// The column beyond cv_result's: the name a row was looked up by.
inline constexpr int kLookupNameColumn = kResultColumnCount;
inline constexpr int kTableColumnCount = kResultColumnCount + 1;

struct TableColumn {
    const char* name;
    Oid type;
    const char* sql_type;  // schema-qualified, as CREATE FOREIGN TABLE spells it
};
// In cv_result's order, then lookup_name.
extern const TableColumn kTableColumns[kTableColumnCount];

// The attributes of the foreign table that carry the keys (0: the table has none).
struct KeyAttributes {
    AttrNumber state = 0;
    AttrNumber license_number = 0;
    AttrNumber lookup_name = 0;
    AttrNumber business_name = 0;
};

// For each attribute of the table (index attno - 1): the column it shows, or
// -1 for a dropped one. Postgres code: ereports (42703, 42804) for a column
// that is not a contractor_verify column or has another type, and for a table
// without state and a column to look licenses up by.
int* map_table_columns(Relation rel, KeyAttributes* keys);

}  // namespace cv::pg
