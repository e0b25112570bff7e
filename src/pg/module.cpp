// _PG_init: each subsystem registers its own GUCs and hooks.
#include "pg/module.h"

#include "pg/pg_headers.h"

extern "C" {
PG_MODULE_MAGIC;

void _PG_init(void);
}

void _PG_init(void) {
    cv::pg::settings_init();
}
