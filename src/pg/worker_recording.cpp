// The worker's transactions: recording a message, setting one aside.
#include "pg/core_first.h"

#include "pg/cache_table.h"
#include "pg/catalog.h"
#include "pg/guard.h"
#include "pg/recorder.h"
#include "pg/result_row.h"
#include "pg/spi.h"
#include "pg/worker_recording.h"
#include "pg/worker_stop.h"

extern "C" {
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "pgstat.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"
}

namespace cv::pg {

namespace {

constexpr const char* kSetAsideSql =
    "INSERT INTO contractor_verify.unrecorded_answers"
    " (reason, server_name, role_name, api_url, answers, payload)"
    " VALUES ($1, $2, $3, $4, $5, $6)";
SPIPlanPtr set_aside_plan = nullptr;

// Errors that another attempt may not meet again.
bool transient(int sqlerrcode) {
    return sqlerrcode == ERRCODE_T_R_SERIALIZATION_FAILURE ||
           sqlerrcode == ERRCODE_T_R_DEADLOCK_DETECTED || sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE;
}

}  // namespace

void begin() {
    pg_call([] {
        SetCurrentStatementStartTimestamp();
        StartTransactionCommand();
        PushActiveSnapshot(GetTransactionSnapshot());
        pgstat_report_activity(STATE_RUNNING, "recording answers");
    });
}

void commit() {
    pg_call([] {
        PopActiveSnapshot();
        CommitTransactionCommand();
        // What the transaction did reaches the statistics (and so
        // autovacuum) about once a second, not only when the worker leaves.
        (void)pgstat_report_stat(false);
        pgstat_report_activity(STATE_IDLE, nullptr);
    });
}

void abort_transaction() noexcept {
    AbortCurrentTransaction();
    pgstat_report_activity(STATE_IDLE, nullptr);
}

namespace {

std::string describe(std::exception_ptr ep, int& sqlerrcode) {
    sqlerrcode = 0;
    try {
        std::rethrow_exception(ep);
    } catch (const PgError& e) {
        sqlerrcode = e.edata()->sqlerrcode;
        return e.what();
    } catch (const std::exception& e) {
        return e.what();
    }
    return "unknown error";
}

}  // namespace

std::optional<std::string> record(const RecorderMessage& m) {
    for (int attempt = 1;; ++attempt) {
        std::exception_ptr failure;
        try {
            begin();
            {
                const ExtensionCatalog& catalog = extension_catalog();
                CacheReader reader(catalog);
                ChunkRecording recording(reader, m.target.api_url, m.observations, m.raw);
                recording.write(catalog, m.target, m.seen);
            }
            commit();
            return std::nullopt;
        } catch (...) {
            failure = std::current_exception();
        }
        // A Postgres error's text lives in the transaction's memory: read it first.
        int code = 0;
        std::string error = describe(failure, code);
        abort_transaction();
        if (!transient(code) || attempt >= 3 || worker_stop_noted()) return error;
        pg_usleep(100000L * attempt);
    }
}

bool set_aside(const std::string& text, const RecorderMessage* m, const std::string& reason) {
    try {
        begin();
        const ExtensionCatalog& catalog = extension_catalog();
        with_owner_spi(catalog.owner, [&] {
            Oid types[6] = {TEXTOID, TEXTOID, NAMEOID, TEXTOID, INT4OID, BYTEAOID};
            SPIPlanPtr plan = kept_plan(set_aside_plan, kSetAsideSql, 6, types);
            Datum values[6];
            char nulls[6] = {' ', 'n', 'n', 'n', ' ', ' '};
            values[0] = utf8_text(reason);
            int answers = 0;
            if (m != nullptr) {
                values[1] = utf8_text(m->target.server_name);
                values[2] = pg_value([&] {
                    return DirectFunctionCall1(namein, CStringGetDatum(m->target.role_name.c_str()));
                });
                values[3] = utf8_text(m->target.api_url);
                nulls[1] = nulls[2] = nulls[3] = ' ';
                for (const auto& o : m->observations) answers += o.attempt_only ? 0 : 1;
            }
            values[4] = Int32GetDatum(answers);
            values[5] = pg_value([&] {
                bytea* b = static_cast<bytea*>(palloc(VARHDRSZ + text.size()));
                SET_VARSIZE(b, VARHDRSZ + text.size());
                std::memcpy(VARDATA(b), text.data(), text.size());
                return PointerGetDatum(b);
            });
            pg_call([&] {
                if (SPI_execute_plan(plan, values, nulls, false, 0) != SPI_OK_INSERT)
                    elog(ERROR, "contractor_verify: could not set answers aside");
            });
        });
        commit();
        pg_call([&] {
            if (m != nullptr)
                ereport(WARNING, (errmsg("contractor_verify could not record %d answers and set them aside "
                                         "in contractor_verify.unrecorded_answers: %s",
                                         static_cast<int>(m->observations.size()), reason.c_str())));
            else
                ereport(WARNING, (errmsg("contractor_verify set aside what it could not read in "
                                         "contractor_verify.unrecorded_answers: %s",
                                         reason.c_str())));
        });
        return true;
    } catch (...) {
        abort_transaction();
        return false;
    }
}

}  // namespace cv::pg
