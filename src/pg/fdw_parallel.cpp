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
    if (IsA(node, RangeTblEntry)) {
        auto* rte = reinterpret_cast<RangeTblEntry*>(node);
        return rte->rtekind == RTE_RELATION && rte->relkind == RELKIND_FOREIGN_TABLE &&
               GetFdwRoutineByRelId(rte->relid)->GetForeignRelSize == fdw_get_rel_size;
    }
    return expression_tree_walker(node, walker(), context);
}

PlannedStmt* plan_query(Query* parse, const char* query_string, int options, ParamListInfo params) {
    if ((options & CURSOR_OPT_PARALLEL_OK) != 0) {
        const bool reads = guard([&] {
            bool found = false;
            pg_call([&] { found = reads_foreign_table(reinterpret_cast<Node*>(parse), nullptr); });
            return found;
        });
        if (reads) options &= ~CURSOR_OPT_PARALLEL_OK;
    }
    return previous_planner != nullptr ? previous_planner(parse, query_string, options, params)
                                       : standard_planner(parse, query_string, options, params);
}

}  // namespace

void fdw_parallel_init() {
    previous_planner = planner_hook;
    planner_hook = plan_query;
}

}  // namespace cv::pg
