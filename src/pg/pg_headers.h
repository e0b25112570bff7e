// The one place the pg zone includes Postgres headers from. Include it after
// every C++ standard and core header (Postgres's port.h redefines snprintf,
// bind, ...).
#pragma once

extern "C" {
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/elog.h"
#include "utils/memutils.h"
}
