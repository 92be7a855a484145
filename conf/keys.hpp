// The config file's keys as the loader reads them: per section each key's type, default and
// meaning, from the same tables that drive the loader, so documentation can be checked
// against the code (tests/unit/conf/documented_keys_test.cpp does).
#pragma once

#include <string>
#include <vector>

namespace vhostd::conf {

struct KeyDoc {
    std::string name;
    std::string type;          // "duration > 0", "integer 1–64", "table { … }"
    // When `default_is_value`: the default as written in TOML ("\"10s\"", "100", "false",
    // "{ count = 10, window = \"60s\", cooldown = \"60s\" }"). Else "required", "none", or
    // what decides it ("the config file's directory"), as the docs write it without code spans.
    std::string default_text;
    bool default_is_value = false;
    std::string meaning;       // one line
    std::vector<KeyDoc> fields;  // the keys of a table value (restart_limit, a task, ...)
};

struct SectionDoc {
    std::string name;  // "listen", "server", "admin", "sites.NAME"
    std::vector<KeyDoc> keys;
};

// The top-level sections in the order the docs present them; a table-valued key's own keys
// are its `fields` (the docs' "sites.NAME.restart_limit").
std::vector<SectionDoc> config_sections();

}  // namespace vhostd::conf
