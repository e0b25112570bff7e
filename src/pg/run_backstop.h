// The backstop for the C++ side of a running scan: a scan state keeps it as
// `run` (a pointer whose `rows` may hold a temporary file) and registers
// this as a reset callback of the query's memory. When an error ends the
// query before the end callback deletes the run, the reset deletes it (fd.c
// has closed the file already, so the rows are abandoned, not closed).
#pragma once

namespace cv::pg {

template <typename State>
void drop_run_on_reset(void* arg) {
    auto* state = static_cast<State*>(arg);
    if (state->run == nullptr) return;
    if (state->run->rows) state->run->rows->abandon();
    delete state->run;
    state->run = nullptr;
}

}  // namespace cv::pg
