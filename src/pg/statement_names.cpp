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

std::string answer_key(const std::string& api_url, const std::string& key) {
    return std::to_string(api_url.size()) + ":" + api_url + key;
}

void for_this_statement() {
    const TimestampTz now = GetCurrentStatementStartTimestamp();
    if (context != nullptr && statement == now) return;
    answers.clear();
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
    const Datum copy = pg_value([&] {
        MemoryContext old = MemoryContextSwitchTo(context);
        const Datum d = datumCopy(answer, false, -1);
        MemoryContextSwitchTo(old);
        return d;
    });
    answers[answer_key(api_url, key)] = copy;
}

}  // namespace cv::pg
