// Every core header and the C++ standard headers the pg zone uses, included
// first by every pg-zone source file: they must come before postgres.h (whose
// port.h redefines snprintf and friends), and with this one include the order
// of the pg headers that follow no longer matters.
#pragma once

#include "core/api_response.h"
#include "core/backoff.h"
#include "core/batch_protocol.h"
#include "core/batch_runner.h"
#include "core/byte_codec.h"
#include "core/cache_rules.h"
#include "core/duration.h"
#include "core/error.h"
#include "core/freshness.h"
#include "core/http_client.h"
#include "core/absent_keys.h"
#include "core/json_tape.h"
#include "core/json_view.h"
#include "core/key_plan.h"
#include "core/key_set.h"
#include "core/license_record.h"
#include "core/normalize.h"
#include "core/observation.h"
#include "core/observation_codec.h"
#include "core/options.h"
#include "core/quota.h"
#include "core/quota_file.h"
#include "core/rate_gate.h"
#include "core/rate_window.h"
#include "core/single_lookup.h"
#include "core/url.h"
#include "core/version.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>
