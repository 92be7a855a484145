#include "conf/dev_mode.hpp"

namespace vhostd::conf {

void apply_dev_mode(Config& config) {
    for (Site& site : config.sites) {
        site.min_workers = 1;
        site.max_workers = 1;
        if (site.watch.empty()) site.watch.push_back(site.cwd);
    }
}

}  // namespace vhostd::conf
