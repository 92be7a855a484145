// The configuration reference must list every key the loader reads, with the default the
// loader applies, and no key it does not read. The keys come from conf/keys.hpp, which the
// loader's own tables produce.
#include "conf/keys.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace vhostd::conf {
namespace {

const std::string reference_path = std::string(VHOSTD_SOURCE_DIR) + "/docs/configuration.md";

struct Row {
    std::string type;
    std::string default_cell;
};

// The cells of a Markdown table row; "\|" stays inside a cell.
std::vector<std::string> cells_of(const std::string& line) {
    std::vector<std::string> cells;
    std::string cell;
    for (std::size_t index = 1; index < line.size(); ++index) {
        if (line[index] == '\\' && index + 1 < line.size() && line[index + 1] == '|') {
            cell += '|';
            ++index;
        } else if (line[index] == '|') {
            const auto first = cell.find_first_not_of(' ');
            const auto last = cell.find_last_not_of(' ');
            cells.push_back(first == std::string::npos ? "" : cell.substr(first, last - first + 1));
            cell.clear();
        } else {
            cell += line[index];
        }
    }
    return cells;
}

// "### `[server]` — the front" opens the section "server"; "### `[[listen]]` …" opens "listen",
// "### `[sites.NAME.restart_limit]` …" the site's inner table.
// Returns section -> key -> row, from the `| key | type | default | meaning |` tables.
std::map<std::string, std::map<std::string, Row>> documented_sections(std::istream& text) {
    static const std::regex heading(R"(^#{1,3} `\[{1,2}([A-Za-z._]+)\]{1,2}`.*)");
    static const std::regex other_heading(R"(^#{1,3} .*)");
    static const std::regex key_cell(R"(^`([a-z_]+)`$)");
    std::map<std::string, std::map<std::string, Row>> sections;
    std::string section;
    std::string line;
    std::smatch match;
    while (std::getline(text, line)) {
        if (std::regex_match(line, match, heading)) {
            section = match[1];
        } else if (std::regex_match(line, other_heading)) {
            section.clear();
        } else if (!section.empty() && line.starts_with("| `")) {
            const auto cells = cells_of(line);
            if (cells.size() == 4 && std::regex_match(cells[0], match, key_cell)) {
                sections[section][match[1]] = Row{cells[1], cells[2]};
            }
        }
    }
    return sections;
}

std::string without_backticks(std::string cell) {
    std::erase(cell, '`');
    return cell;
}

using Documented = std::map<std::string, std::map<std::string, Row>>;

// What is wrong with the row of `key`, or "" when it agrees with the code. A value default is
// written as TOML in a code span; words ("required unless `default = true`") may mark code.
std::string disagreement(const KeyDoc& key, const Row& row) {
    const std::string expected = key.default_is_value ? "`" + key.default_text + "`" : key.default_text;
    const std::string documented = key.default_is_value ? row.default_cell : without_backticks(row.default_cell);
    if (documented != expected) {
        return "default is documented as " + row.default_cell + ", the loader's is " + expected;
    }
    return "";
}

// Every problem of section `name` (and of the sections of its table-valued keys) in the docs.
// A table whose keys have no section of their own must name them in its type.
void check_section(const Documented& documented, const std::string& name, const std::vector<KeyDoc>& keys,
                   std::vector<std::string>& problems) {
    const auto rows = documented.find(name);
    if (rows == documented.end()) {
        problems.push_back("no section [" + name + "]");
        return;
    }
    for (const KeyDoc& key : keys) {
        const auto row = rows->second.find(key.name);
        if (row == rows->second.end()) {
            problems.push_back("[" + name + "] does not document " + key.name);
            continue;
        }
        if (const std::string problem = disagreement(key, row->second); !problem.empty()) {
            problems.push_back("[" + name + "] " + key.name + ": " + problem);
        }
        if (key.fields.empty()) continue;
        const std::string inner = name + "." + key.name;
        if (documented.contains(inner)) {
            check_section(documented, inner, key.fields, problems);
            continue;
        }
        for (const KeyDoc& field : key.fields) {
            if (!std::regex_search(row->second.type, std::regex("\\b" + field.name + "\\b"))) {
                problems.push_back("[" + name + "] " + key.name + ": no section [" + inner +
                                   "], and the type does not name its key " + field.name);
            }
        }
    }
}

// Section name -> its keys, the inner tables' included.
void collect_sections(const std::string& name, const std::vector<KeyDoc>& keys,
                      std::map<std::string, std::vector<KeyDoc>>& into) {
    into[name] = keys;
    for (const KeyDoc& key : keys) {
        if (!key.fields.empty()) collect_sections(name + "." + key.name, key.fields, into);
    }
}

std::map<std::string, std::map<std::string, Row>> read_reference() {
    std::ifstream file(reference_path);
    EXPECT_TRUE(file) << "cannot read " << reference_path;
    return documented_sections(file);
}

TEST(DocumentedKeys, EveryKeyIsDocumentedWithTheLoadersDefault) {
    const auto documented = read_reference();
    std::vector<std::string> problems;
    for (const SectionDoc& section : config_sections()) check_section(documented, section.name, section.keys, problems);
    for (const std::string& problem : problems) ADD_FAILURE() << reference_path << ": " << problem;
}

TEST(DocumentedKeys, NoKeyIsDocumentedThatTheLoaderDoesNotRead) {
    std::map<std::string, std::vector<KeyDoc>> sections;
    for (const SectionDoc& section : config_sections()) collect_sections(section.name, section.keys, sections);
    for (const auto& [name, rows] : read_reference()) {
        const auto section = sections.find(name);
        ASSERT_NE(section, sections.end()) << reference_path << " documents a section [" << name
                                           << "] the loader does not read";
        for (const auto& [key, row] : rows) {
            const auto& keys = section->second;
            EXPECT_TRUE(std::any_of(keys.begin(), keys.end(), [&](const KeyDoc& doc) { return doc.name == key; }))
                << reference_path << ": [" << name << "] documents " << key << ", which the loader does not read";
        }
    }
}

// The check itself: a missing key, another default, or an inner table neither documented
// in a section of its own nor named in the type, is caught.
TEST(DocumentedKeys, DisagreementsAreFound) {
    std::istringstream text("### `[server]` — the front\n\n| key | type | default | meaning |\n|---|---|---|---|\n"
                            "| `head_timeout` | duration > 0 | `\"5s\"` | … |\n"
                            "| `restart_limit` | table `{ count \\| window }` | `{}` | … |\n"
                            "| `group` | non-empty string | the `user`'s group | … |\n"
                            "## Elsewhere\n| `ignored` | x | y | z |\n");
    const Documented documented = documented_sections(text);
    ASSERT_EQ(documented.size(), 1u);
    ASSERT_EQ(documented.at("server").size(), 3u);
    EXPECT_EQ(documented.at("server").at("restart_limit").type, "table `{ count | window }`");

    const KeyDoc count{"count", "integer", "10", true, "", {}};
    const KeyDoc window{"window", "duration", "\"60s\"", true, "", {}};
    const KeyDoc cooldown{"cooldown", "duration", "\"60s\"", true, "", {}};
    auto problems_with = [&](std::vector<KeyDoc> keys) {
        std::vector<std::string> problems;
        check_section(documented, "server", keys, problems);
        return problems.size();
    };
    EXPECT_EQ(problems_with({{"head_timeout", "", "\"5s\"", true, "", {}},
                             {"restart_limit", "", "{}", true, "", {count, window}},
                             {"group", "", "the user's group", false, "", {}}}),
              0u);
    EXPECT_EQ(problems_with({{"head_timeout", "", "\"10s\"", true, "", {}}}), 1u);
    EXPECT_EQ(problems_with({{"group", "", "none", false, "", {}}}), 1u);
    EXPECT_EQ(problems_with({{"threads", "", "1", true, "", {}}}), 1u);
    EXPECT_EQ(problems_with({{"restart_limit", "", "{}", true, "", {count, window, cooldown}}}), 1u);
    std::vector<std::string> problems;
    check_section(documented, "admin", {}, problems);
    EXPECT_EQ(problems, (std::vector<std::string>{"no section [admin]"}));
}

TEST(DocumentedKeys, EverySectionHasKeysWithAMeaning) {
    const auto sections = config_sections();
    ASSERT_EQ(sections.size(), 5u);
    for (const SectionDoc& section : sections) {
        EXPECT_FALSE(section.keys.empty()) << section.name;
        for (const KeyDoc& key : section.keys) {
            EXPECT_FALSE(key.meaning.empty()) << section.name << "." << key.name;
            EXPECT_FALSE(key.type.empty()) << section.name << "." << key.name;
            EXPECT_FALSE(key.default_text.empty()) << section.name << "." << key.name;
        }
    }
}

}  // namespace
}  // namespace vhostd::conf
