// Where a scan's keys come from: the quals that name them, found when the
// query is planned, and their values, computed when it runs.
//
// A scan selects rows in one or more ways; each way is a set of values for
// state and a set for license_number (or for the name: lookup_name or
// business_name), and its keys are every pair of them:
//   state = $1 AND license_number = 'x'            one way, one key
//   state = 'CA' AND license_number = ANY($2)      one way, a key per element
//   (state, license_number) IN (('CA','1'), ...)   a way per pair
// Values are constants, parameters, or any expression of other relations (a
// join's outer side) without volatile functions. Only text equality with a
// deterministic collation counts: it is what the scan's rows satisfy. Every
// qual is still checked on the rows, so nothing is lost by pushing too much.
#pragma once

#include "core/key_plan.h"

#include <string>
#include <vector>

#include "pg/fdw_columns.h"
#include "pg/pg_headers.h"

extern "C" {
#include "nodes/execnodes.h"
#include "nodes/pathnodes.h"
#include "nodes/pg_list.h"
}

namespace cv::pg {

// Indexes of a way's fields in its IntList. kWayColumn: the KeyColumnBit of
// the column it looks up by.
enum KeyWayField {
    kWayState,
    kWayStateArray,
    kWayValue,
    kWayValueArray,
    kWayKind,
    kWayColumn,
    kWayFields
};

// The key columns, as bits of a mask.
enum KeyColumnBit { kStateBit = 1, kLicenseBit = 2, kLookupNameBit = 4, kBusinessNameBit = 8 };

struct KeySpec {
    List* exprs = NIL;        // the value expressions (a ForeignScan's fdw_exprs)
    List* ways = NIL;         // a List of IntLists (KeyWayField), indexes into exprs
    List* key_clauses = NIL;  // the RestrictInfos the keys came from
};

// Postgres code. Finds the keys of relation `relid` in `clauses`
// (RestrictInfos); values may use relations in `outer` and nothing else.
// False when they leave some row's key open (a scan of the whole table).
bool find_keys(PlannerInfo* root, List* clauses, Index relid, Relids outer,
               const KeyAttributes& keys, KeySpec* out);

// One equality on a key column: the value expression and whether it is an array.
struct KeyEquality {
    AttrNumber attno = 0;
    Expr* value = nullptr;
    bool is_array = false;
};
// Postgres code. Whether `clause` is `column = value` or `column = ANY(array)`
// on a key column of `relid`, with a value computed from `outer` alone.
bool match_key_equality(PlannerInfo* root, Expr* clause, Index relid, Relids outer,
                        const KeyAttributes& keys, KeyEquality* out);

// What the planner knows of the keys: how many (estimated when some come
// from parameters), and whether they are known exactly.
struct KeyCount {
    double keys = 0;
    bool exact = true;     // false: an array parameter's length is guessed
    bool constant = true;  // false: some values come from parameters
};
// Postgres code.
KeyCount count_keys(const KeySpec& spec);

// The values of each key expression: strings in UTF-8 (NULLs left out).
using KeyValues = std::vector<std::vector<std::string>>;

// The values of constant expressions (plan time); false when any is not a
// constant.
bool constant_key_values(List* exprs, KeyValues& out);

// Computes the key expressions in `econtext` (run time).
void eval_key_values(List* expr_states, ExprContext* econtext, KeyValues& out);

// Postgres code. The key columns of relation `relid` that `clause` reads (a
// mask of KeyColumnBits; 0: none), or -1 when it cannot be checked on a key
// before its rows exist: it reads another column or the whole row, or it
// has volatile functions, subplans or placeholders.
int key_columns_read(Expr* clause, Index relid, const KeyAttributes& keys);

// The key columns whose values a key's rows are known to have before it is
// looked up, for a key looking up by `column` (a KeyColumnBit): state, that
// column, and lookup_name (NULL in a license number's rows, the name in a
// name's; business_name's rows also carry it as lookup_name).
int key_columns_known(int column);

// Postgres code. The quals of `clauses` (RestrictInfos) that read key columns
// of `relid` and nothing else of it (key_columns_read > 0), but for those in
// `skip`; their masks in `masks`.
List* key_quals(List* clauses, List* skip, Index relid, const KeyAttributes& keys, List** masks);

// The quals on key columns alone, checked on each key before it is looked
// up: a key they reject can have no row that passes them, so it is not
// looked up and costs nothing. This is how a view's quals on the keys bound
// what its readers look up with the view owner's key, whatever keys they add.
class KeyFilter {
public:
    KeyFilter() = default;
    // Postgres code. `quals` are the ExprStates of key_quals (Vars of the
    // scanned relation, read from the scan tuple), `masks` their masks;
    // `slot` has the relation's descriptor; `columns` maps its attributes.
    KeyFilter(List* quals, List* masks, TupleTableSlot* slot, ExprContext* econtext,
              const int* columns, int natts);
    // Whether a key of a way looking up by `column` may have rows.
    bool admits(int column, const std::string& state, const std::string& value);

private:
    List* quals_ = NIL;
    List* masks_ = NIL;
    TupleTableSlot* slot_ = nullptr;
    ExprContext* econtext_ = nullptr;
    AttrNumber state_ = 0, license_ = 0, lookup_name_ = 0, business_name_ = 0;
};

// Adds every key of `ways` to the planner, but for those the filter (when
// given) rejects.
void add_keys(List* ways, const KeyValues& values, core::KeyPlanner& planner,
              KeyFilter* filter = nullptr);

}  // namespace cv::pg
