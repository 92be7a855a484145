#include "conf/keys.hpp"

#include "conf/sections.hpp"

namespace vhostd::conf {

std::vector<SectionDoc> config_sections() {
    return {listen_section(), server_section(), admin_section(), acme_section(), sites_section()};
}

}  // namespace vhostd::conf
