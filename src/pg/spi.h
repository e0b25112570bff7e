// SPI helpers: run statements as the extension's owner, keep prepared plans, copy rows
// out of SPI memory.
#pragma once

#include <string>
#include <vector>

#include "pg/guard.h"
#include "pg/owner_scope.h"

extern "C" {
#include "executor/spi.h"
}

namespace cv::pg {

// SPI_connect, f, SPI_finish as the extension's owner, inside an OwnerScope
// (pinned search_path, security-restricted). When f throws, the
// transaction's abort releases the connection.
template <typename F>
void with_owner_spi(Oid owner, F&& f);

// A one-dimensional array Datum built element by element.
class ArrayBuilder {
public:
    explicit ArrayBuilder(Oid element_type);
    void push(Datum d) { values_.push_back(d); nulls_.push_back(false); }
    void push_null() { values_.push_back(0); nulls_.push_back(true); }
    void push_text(const std::string& s);            // empty string pushes NULL
    void push_text_or_null(const std::string* s);    // nullptr pushes NULL
    Datum datum() const;
    std::size_t size() const { return values_.size(); }
    void clear() { values_.clear(); nulls_.clear(); }

private:
    Oid type_;
    std::vector<Datum> values_;
    std::vector<bool> nulls_;
};

// A plan prepared once per backend and kept across transactions.
SPIPlanPtr kept_plan(SPIPlanPtr& slot, const char* sql, int nargs, Oid* types);

// Runs a plan and copies every row
// out of SPI memory: by-value columns as they are, by-reference ones into the
// caller's context. A NULL column comes back as 0.
std::vector<std::vector<Datum>> run_rows(SPIPlanPtr plan, Datum* values, const char* nulls,
                                         const std::vector<bool>& by_value);

void spi_connect();
void spi_finish();

// An error from the extension's own SQL reaches the caller without the
// statement's text (nothing the caller needs, and nothing to learn from).
void hide_internal_query(const PgError& e) noexcept;

template <typename F>
void with_owner_spi(Oid owner, F&& f) {
    OwnerScope as_owner(owner);
    try {
        spi_connect();
        f();
        spi_finish();
    } catch (const PgError& e) {
        hide_internal_query(e);
        throw;
    }
}

}  // namespace cv::pg
