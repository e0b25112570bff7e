#pragma once

namespace cv::pg {

// GUCs that pick the server (pg/settings.cpp).
void settings_init();

}  // namespace cv::pg
