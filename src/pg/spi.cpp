#include "pg/core_first.h"
#include "core/error.h"
#include "pg/result_row.h"
#include "pg/spi.h"

#include "pg/guard.h"

extern "C" {
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
}

namespace cv::pg {

void hide_internal_query(const PgError& e) noexcept {
    ErrorData* d = e.edata();
    if (d == nullptr) return;
    d->context = nullptr;
    d->internalquery = nullptr;
    d->internalpos = 0;
    d->cursorpos = 0;
}

ArrayBuilder::ArrayBuilder(Oid element_type) : type_(element_type) {}

void ArrayBuilder::push_text(const std::string& s) {
    if (s.empty())
        push_null();
    else
        push(utf8_text(s));
}

void ArrayBuilder::push_text_or_null(const std::string* s) {
    if (s == nullptr)
        push_null();
    else
        push(utf8_text(*s));
}

Datum ArrayBuilder::datum() const {
    return pg_value([&] {
        int16 len;
        bool byval;
        char align;
        get_typlenbyvalalign(type_, &len, &byval, &align);
        const int n = static_cast<int>(values_.size());
        bool* nulls = static_cast<bool*>(palloc(sizeof(bool) * (n + 1)));
        for (int i = 0; i < n; ++i) nulls[i] = nulls_[i];
        int dims[1] = {n};
        int lbs[1] = {1};
        return PointerGetDatum(construct_md_array(const_cast<Datum*>(values_.data()), nulls, 1, dims,
                                                  lbs, type_, len, byval, align));
    });
}

void spi_connect() {
    pg_call([] {
        if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "contractor_verify: SPI_connect failed");
    });
}

void spi_finish() {
    pg_call([] { SPI_finish(); });
}

SPIPlanPtr kept_plan(SPIPlanPtr& slot, const char* sql, int nargs, Oid* types) {
    if (slot == nullptr) {
        pg_call([&] {
            SPIPlanPtr plan = SPI_prepare(sql, nargs, types);
            if (plan == nullptr)
                elog(ERROR, "contractor_verify: SPI_prepare failed: %s",
                     SPI_result_code_string(SPI_result));
            SPI_keepplan(plan);
            slot = plan;
        });
    }
    return slot;
}

std::vector<std::vector<Datum>> run_rows(SPIPlanPtr plan, Datum* values, const char* nulls,
                                         const std::vector<bool>& by_value) {
    std::vector<std::vector<Datum>> rows;
    uint64 count = 0;
    pg_call([&] {
        const int rc = SPI_execute_plan(plan, values, nulls, false, 0);
        if (rc != SPI_OK_SELECT && rc != SPI_OK_INSERT_RETURNING && rc != SPI_OK_UPDATE_RETURNING &&
            rc != SPI_OK_DELETE_RETURNING)
            elog(ERROR, "contractor_verify: storage query failed: %s", SPI_result_code_string(rc));
        count = SPI_processed;
    });
    rows.reserve(count);
    for (uint64 i = 0; i < count; ++i) {
        std::vector<Datum> row(by_value.size(), 0);
        pg_call([&] {
            for (std::size_t c = 0; c < by_value.size(); ++c) {
                bool isnull = false;
                Datum d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc,
                                        static_cast<int>(c) + 1, &isnull);
                if (!isnull) row[c] = by_value[c] ? d : SPI_datumTransfer(d, false, -1);
            }
        });
        rows.push_back(std::move(row));
    }
    return rows;
}

}  // namespace cv::pg
