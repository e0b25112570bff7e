#include "pg/core_first.h"

#include "pg/statement_names.h"

#include <string>
#include <unordered_map>

#include "pg/guard.h"

extern "C" {
#include "access/xact.h"
#include "utils/datum.h"
}

namespace cv::pg {

namespace {

// The client statement the answers belong to (by its start, which the
// statements of its functions, DO blocks and procedures share), and the answers
// by API and key, their datums in `context`, emptied when another statement
// comes.
MemoryContext context = nullptr;
TimestampTz statement = 0;
std::unordered_map<std::string, Datum> answers;
std::size_t kept_bytes = 0;  // what the kept answers take, at most work_mem

std::string answer_key(const std::string& api_url, const std::string& key) {
    return std::to_string(api_url.size()) + ":" + api_url + key;
}

void for_this_statement() {
    const TimestampTz now = GetCurrentStatementStartTimestamp();
    if (context != nullptr && statement == now) return;
    answers.clear();
    kept_bytes = 0;
    pg_call([&] {
        if (context == nullptr)
            context = AllocSetContextCreate(TopMemoryContext, "contractor_verify statement names",
                                            ALLOCSET_SMALL_SIZES);
        else
            MemoryContextReset(context);
    });
    statement = now;
}

}  // namespace

bool statement_name_answer(const std::string& api_url, const std::string& key, Datum* answer) {
    for_this_statement();
    const auto it = answers.find(answer_key(api_url, key));
    if (it == answers.end()) return false;
    const Datum stored = it->second;
    *answer = pg_value([&] { return datumCopy(stored, false, -1); });
    return true;
}

void remember_statement_name_answer(const std::string& api_url, const std::string& key,
                                    Datum answer) {
    for_this_statement();
    // A statement with more names than work_mem holds keeps the first ones;
    // the others may be bought again, as every name was before.
    const std::size_t size =
        pg_value([&] { return static_cast<std::size_t>(VARSIZE_ANY(DatumGetPointer(answer))); });
    if (kept_bytes + size > static_cast<std::size_t>(work_mem) * 1024) return;
    kept_bytes += size;
    const Datum copy = pg_value([&] {
        MemoryContext old = MemoryContextSwitchTo(context);
        const Datum d = datumCopy(answer, false, -1);
        MemoryContextSwitchTo(old);
        return d;
    });
    answers[answer_key(api_url, key)] = copy;
}

}  // namespace cv::pg
