// `vhostd --dev`: what development changes in a configuration. Pure.
#pragma once

#include "conf/config.hpp"

namespace vhostd::conf {

// Every site runs one worker, and a site without `watch` watches its working directory, so
// that saving a file rolls that worker once the changes settle.
void apply_dev_mode(Config& config);

}  // namespace vhostd::conf
