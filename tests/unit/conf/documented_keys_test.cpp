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

const std::string reference_path = std::string(VHOSTD_SOURCE_DIR) + "/README.md";

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

// "### `[server]` — the front" opens the section "server"; "### `[[listen]]` …" opens "listen".
// Returns section -> key -> row, from the `| key | type | default | meaning |` tables.
std::map<std::string, std::map<std::string, Row>> documented_sections(std::istream& text) {
    static const std::regex heading(R"(^#{1,3} `\[{1,2}([A-Za-z.]+)\]{1,2}`.*)");
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

std::string first_code_span(const std::string& cell) {
    const auto open = cell.find('`');
    const auto close = open == std::string::npos ? open : cell.find('`', open + 1);
    return close == std::string::npos ? "" : cell.substr(open + 1, close - open - 1);
}

std::string without_backticks(std::string cell) {
    std::erase(cell, '`');
    return cell;
}

// What is wrong with the row of `key`, or "" when it agrees with the code.
std::string disagreement(const KeyDoc& key, const Row& row) {
    if (key.default_is_value ? first_code_span(row.default_cell) != key.default_text
                             : !without_backticks(row.default_cell).starts_with(key.default_text)) {
        return "default is documented as " + row.default_cell + ", the loader's is " +
               (key.default_is_value ? "`" + key.default_text + "`" : key.default_text);
    }
    for (const KeyDoc& field : key.fields) {
        if (!std::regex_search(row.type, std::regex("\\b" + field.name + "\\b"))) {
            return "type does not name the table's key " + field.name + ": " + row.type;
        }
    }
    return "";
}

std::map<std::string, std::map<std::string, Row>> read_reference() {
    std::ifstream file(reference_path);
    EXPECT_TRUE(file) << "cannot read " << reference_path;
    return documented_sections(file);
}

TEST(DocumentedKeys, EveryKeyIsDocumentedWithTheLoadersDefault) {
    const auto documented = read_reference();
    for (const SectionDoc& section : config_sections()) {
        const auto rows = documented.find(section.name);
        ASSERT_NE(rows, documented.end()) << reference_path << " has no section [" << section.name << "]";
        for (const KeyDoc& key : section.keys) {
            const auto row = rows->second.find(key.name);
            if (row == rows->second.end()) {
                ADD_FAILURE() << reference_path << ": [" << section.name << "] does not document " << key.name;
            } else if (const std::string problem = disagreement(key, row->second); !problem.empty()) {
                ADD_FAILURE() << reference_path << ": [" << section.name << "] " << key.name << ": " << problem;
            }
        }
    }
}

TEST(DocumentedKeys, NoKeyIsDocumentedThatTheLoaderDoesNotRead) {
    const auto documented = read_reference();
    std::map<std::string, const SectionDoc*> sections;
    const auto known = config_sections();
    for (const SectionDoc& section : known) sections[section.name] = &section;
    for (const auto& [name, rows] : documented) {
        const auto section = sections.find(name);
        if (section == sections.end()) continue;  // another table, such as [sites.NAME.tls] prose
        for (const auto& [key, row] : rows) {
            const auto& keys = section->second->keys;
            EXPECT_TRUE(std::any_of(keys.begin(), keys.end(), [&](const KeyDoc& doc) { return doc.name == key; }))
                << reference_path << ": [" << name << "] documents " << key << ", which the loader does not read";
        }
    }
}

// The check itself: a row with another default, or a table type missing a key, is caught.
TEST(DocumentedKeys, DisagreementsAreFound) {
    std::istringstream text("### `[server]` — the front\n\n| key | type | default | meaning |\n|---|---|---|---|\n"
                            "| `head_timeout` | duration > 0 | `\"5s\"` | … |\n"
                            "| `restart_limit` | table `{ count = 1–100000 }` | `{}` | … |\n"
                            "| `group` | non-empty string | the user's \\| primary group | … |\n");
    const auto rows = documented_sections(text).at("server");
    ASSERT_EQ(rows.size(), 3u);
    const KeyDoc head{"head_timeout", "duration > 0", "\"10s\"", true, "", {}};
    EXPECT_NE(disagreement(head, rows.at("head_timeout")), "");
    EXPECT_EQ(disagreement(KeyDoc{"head_timeout", "", "\"5s\"", true, "", {}}, rows.at("head_timeout")), "");
    const KeyDoc window{"window", "duration > 0", "\"60s\"", true, "", {}};
    EXPECT_NE(disagreement(KeyDoc{"restart_limit", "", "{}", true, "", {window}}, rows.at("restart_limit")), "");
    EXPECT_EQ(disagreement(KeyDoc{"group", "", "the user's | primary", false, "", {}}, rows.at("group")), "");
    EXPECT_NE(disagreement(KeyDoc{"group", "", "none", false, "", {}}, rows.at("group")), "");
}

TEST(DocumentedKeys, EverySectionHasKeysWithAMeaning) {
    const auto sections = config_sections();
    ASSERT_EQ(sections.size(), 4u);
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
