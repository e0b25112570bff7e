#pragma once

namespace cv::pg {

// Value of contractor_verify.server.
const char* default_server_name();

}  // namespace cv::pg
