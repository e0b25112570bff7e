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

// Indexes of a way's fields in its IntList.
enum KeyWayField { kWayState, kWayStateArray, kWayValue, kWayValueArray, kWayKind, kWayFields };

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

// Adds every key of `ways` to the planner.
void add_keys(List* ways, const KeyValues& values, core::KeyPlanner& planner);

}  // namespace cv::pg
