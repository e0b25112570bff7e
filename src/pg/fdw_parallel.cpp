#include "pg/core_first.h"

#include "pg/fdw_parallel.h"

#include "pg/fdw_plan.h"
#include "pg/guard.h"

extern "C" {
#include "catalog/pg_class.h"
#include "foreign/fdwapi.h"
#include "nodes/nodeFuncs.h"
#include "nodes/parsenodes.h"
#include "optimizer/planner.h"
}

namespace cv::pg {

namespace {

planner_hook_type previous_planner = nullptr;

bool reads_foreign_table(Node* node, void* context);
bool is_our_foreign_table(const RangeTblEntry* rte);

// The walkers of Postgres 15 take their callback as a function of unspecified
// arguments (`bool (*)()` in C++); void (*)() is the cast that says so.
using Walker = bool (*)();
Walker walker() {
    return reinterpret_cast<Walker>(reinterpret_cast<void (*)()>(reads_foreign_table));
}

bool reads_foreign_table(Node* node, void* context) {
    if (node == nullptr) return false;
    if (IsA(node, Query))
        return query_tree_walker(reinterpret_cast<Query*>(node), walker(), context,
                                 QTW_EXAMINE_RTES_BEFORE);
    if (IsA(node, RangeTblEntry))
        return is_our_foreign_table(reinterpret_cast<RangeTblEntry*>(node));
    return expression_tree_walker(node, walker(), context);
}

bool has_function_rte(Node* node, void* context);
Walker function_walker() {
    return reinterpret_cast<Walker>(reinterpret_cast<void (*)()>(has_function_rte));
}

bool has_function_rte(Node* node, void* context) {
    if (node == nullptr) return false;
    if (IsA(node, Query))
        return query_tree_walker(reinterpret_cast<Query*>(node), function_walker(), context,
                                 QTW_EXAMINE_RTES_BEFORE);
    if (IsA(node, RangeTblEntry))
        return reinterpret_cast<RangeTblEntry*>(node)->rtekind == RTE_FUNCTION;
    return expression_tree_walker(node, function_walker(), context);
}

bool is_our_foreign_table(const RangeTblEntry* rte) {
    return rte->rtekind == RTE_RELATION && rte->relkind == RELKIND_FOREIGN_TABLE &&
           GetFdwRoutineByRelId(rte->relid)->GetForeignRelSize == fdw_get_rel_size;
}

// Whether the plan reads the foreign table: its range table holds every
// relation planned, those of inlined SQL functions included.
bool plan_reads_foreign_table(PlannedStmt* stmt) {
    ListCell* lc;
    foreach (lc, stmt->rtable)
        if (is_our_foreign_table(lfirst_node(RangeTblEntry, lc))) return true;
    return false;
}

PlannedStmt* plan_with(Query* parse, const char* query_string, int options, ParamListInfo params) {
    return previous_planner != nullptr ? previous_planner(parse, query_string, options, params)
                                       : standard_planner(parse, query_string, options, params);
}

// A set-returning SQL function in FROM may be inlined into a query that
// reads the foreign table only once planning has begun: such a query is
// planned from a copy (the planner changes its input), and planned again
// without parallel mode if it turned out to need it and to read the table.
PlannedStmt* plan_query(Query* parse, const char* query_string, int options, ParamListInfo params) {
    Query* copy = nullptr;
    if ((options & CURSOR_OPT_PARALLEL_OK) != 0) {
        const bool reads = guard([&] {
            bool found = false;
            pg_call([&] {
                found = reads_foreign_table(reinterpret_cast<Node*>(parse), nullptr);
                if (!found && has_function_rte(reinterpret_cast<Node*>(parse), nullptr))
                    copy = static_cast<Query*>(copyObjectImpl(parse));
            });
            return found;
        });
        if (reads) options &= ~CURSOR_OPT_PARALLEL_OK;
    }
    PlannedStmt* stmt = plan_with(parse, query_string, options, params);
    if (copy != nullptr && stmt->parallelModeNeeded && plan_reads_foreign_table(stmt))
        stmt = plan_with(copy, query_string, options & ~CURSOR_OPT_PARALLEL_OK, params);
    return stmt;
}

}  // namespace

void fdw_parallel_init() {
    previous_planner = planner_hook;
    planner_hook = plan_query;
}

}  // namespace cv::pg
