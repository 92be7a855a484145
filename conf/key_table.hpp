// A section's keys declared once, as a table of name, reader, default and meaning. The table
// reads a TOML table into the section's struct (reporting unknown keys and missing required
// ones) and describes itself for conf/keys.hpp.
//
// Where defaults live: the member initialisers of conf/config.hpp, and nowhere else. A table
// is built from a default-constructed struct (an inner table from the enclosing struct's
// default field: a singleton's restart_backoff differs from a site's) and shows each key's
// default by formatting the field the key writes, so what the docs are checked against is
// the value the loader starts from. (The loader reads into a default-constructed struct, so a key not written keeps it.)
// This keeps the structs usable on their own (tests and the supervisor construct them) and
// needs no second list of values.
#pragma once

#include "conf/keys.hpp"
#include "conf/units.hpp"
#include "conf/value_reader.hpp"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vhostd::conf {

template <typename Target>
using KeyReader = std::function<void(ValueReader& reader, const toml::key& key, const toml::node& value,
                                     const std::string& path, Target& into)>;

template <typename Target>
struct Key {
    KeyDoc doc;
    bool required = false;  // reported at the enclosing table when absent
    KeyReader<Target> read;
};

// "\"10s\"", as a default is written in TOML.
inline std::string toml_string(std::string_view text) {
    return '"' + std::string(text) + '"';
}

// `Target` is the struct a table's keys are read into; fields may belong to a base of it.
template <typename Target>
class KeyTable {
public:
    explicit KeyTable(Target defaults = Target{}) : defaults_(std::move(defaults)) {}

    const Target& defaults() const { return defaults_; }

    template <typename Owner>
    KeyTable& boolean(std::string_view name, bool Owner::*field, std::string_view meaning) {
        return add(name, "boolean", defaults_.*field ? "true" : "false", meaning,
                   [field](ValueReader& reader, const toml::key&, const toml::node& value, const std::string& path,
                           Target& into) { reader.read_bool(value, path, into.*field); });
    }

    template <typename Int, typename Owner>
    KeyTable& integer(std::string_view name, Int Owner::*field, std::int64_t min, std::int64_t max,
                      std::string_view meaning) {
        return add(name, "integer " + std::to_string(min) + "–" + std::to_string(max),
                   std::to_string(defaults_.*field), meaning,
                   [field, min, max](ValueReader& reader, const toml::key&, const toml::node& value,
                                     const std::string& path,
                                     Target& into) { reader.read_integer(value, path, min, max, into.*field); });
    }

    template <typename Owner>
    KeyTable& duration(std::string_view name, Duration Owner::*field, Zero zero, std::string_view meaning) {
        return add(name, zero == Zero::rejected ? "duration > 0" : "duration", toml_string(format_duration(defaults_.*field)),
                   meaning, [field, zero](ValueReader& reader, const toml::key&, const toml::node& value,
                                          const std::string& path,
                                          Target& into) { reader.read_duration(value, path, zero, into.*field); });
    }

    template <typename Owner>
    KeyTable& size(std::string_view name, std::uint64_t Owner::*field, std::string_view meaning) {
        return add(name, "size", toml_string(format_size(defaults_.*field)), meaning,
                   [field](ValueReader& reader, const toml::key&, const toml::node& value, const std::string& path,
                           Target& into) { reader.read_size(value, path, into.*field); });
    }

    // `minimum_text` is `minimum` as the user would write it ("64KiB").
    template <typename Owner>
    KeyTable& size_at_least(std::string_view name, std::uint64_t Owner::*field, std::uint64_t minimum,
                            std::string_view minimum_text, std::string_view meaning) {
        return add(name, "size ≥ " + std::string(minimum_text), toml_string(format_size(defaults_.*field)), meaning,
                   [field, minimum, text = std::string(minimum_text)](
                       ValueReader& reader, const toml::key&, const toml::node& value, const std::string& path,
                       Target& into) { reader.read_size_at_least(value, path, minimum, text, into.*field); });
    }

    template <typename Owner>
    KeyTable& nonempty_string(std::string_view name, std::string Owner::*field, std::string_view meaning) {
        return string_key(name, "non-empty string", field, &ValueReader::read_nonempty_string, meaning);
    }

    // A file or directory, relative to the config file; stored absolute.
    template <typename Owner>
    KeyTable& path(std::string_view name, std::string Owner::*field, std::string_view meaning) {
        return string_key(name, "string", field, &ValueReader::read_path, meaning);
    }

    template <typename Owner>
    KeyTable& env(std::string_view name, std::map<std::string, std::string> Owner::*field, std::string_view meaning) {
        // No section has default variables: an empty table is all there is to show.
        return add(name, "table of strings", "{}", meaning,
                   [field](ValueReader& reader, const toml::key&, const toml::node& value, const std::string& path,
                           Target& into) { reader.read_env_table(value, path, into.*field); });
    }

    // One of a few words, each standing for a value of `Value`.
    template <typename Value, typename Owner>
    KeyTable& choice(std::string_view name, Value Owner::*field, std::vector<std::pair<std::string, Value>> words,
                     std::string_view meaning) {
        std::string type, shown_default;
        for (const auto& [word, value] : words) {
            type += (type.empty() ? "" : " or ") + toml_string(word);
            if (value == defaults_.*field) shown_default = toml_string(word);
        }
        // A field that starts with none of the values (an unset optional) shows "none".
        add(name, type, shown_default, meaning,
            [field, words, problem = "must be " + type](ValueReader& reader, const toml::key&, const toml::node& value,
                                                        const std::string& path, Target& into) {
                std::string word;
                if (!reader.read_string(value, path, word)) return;
                const auto chosen = std::find_if(words.begin(), words.end(),
                                                 [&](const auto& choice) { return choice.first == word; });
                if (chosen == words.end()) {
                    reader.report(value, path, problem);
                } else {
                    into.*field = chosen->second;
                }
            });
        if (shown_default.empty()) default_is("none", false);
        return *this;
    }

    // "IP:port"; `address` keeps the text as written, for messages.
    template <typename Owner>
    KeyTable& endpoint(std::string_view name, std::string Owner::*address, Endpoint Owner::*field,
                       std::string_view meaning) {
        return add(name, "string", "none", meaning,
                   [address, field](ValueReader& reader, const toml::key&, const toml::node& value,
                                    const std::string& path, Target& into) {
                       reader.read_endpoint(value, path, into.*address, into.*field);
                   })
            .default_is("none", false);
    }

    // A table of its own keys, read into `field`.
    template <typename Sub, typename Owner>
    KeyTable& table(std::string_view name, Sub Owner::*field, KeyTable<Sub> keys, std::string_view meaning) {
        auto shared = std::make_shared<const KeyTable<Sub>>(std::move(keys));
        add(name, shared->type_text(), shared->default_text(), meaning,
            [field, shared](ValueReader& reader, const toml::key&, const toml::node& value, const std::string& path,
                            Target& into) {
                if (const auto* table = reader.table_at(value, path)) shared->read(reader, *table, path, into.*field);
            });
        keys_.back().doc.fields = shared->docs();
        return *this;
    }

    // A key the kinds above do not cover; `fields` describes a table value's keys.
    KeyTable& custom(std::string_view name, std::string type, std::string default_text, bool default_is_value,
                     std::string_view meaning, KeyReader<Target> read, std::vector<KeyDoc> fields = {}) {
        add(name, std::move(type), std::move(default_text), meaning, std::move(read));
        keys_.back().doc.default_is_value = default_is_value;
        keys_.back().doc.fields = std::move(fields);
        return *this;
    }

    // A rule between keys, checked once the whole table is read (after the missing keys).
    KeyTable& checked_by(std::function<void(ValueReader& reader, const toml::table& table, const std::string& path,
                                            Target& into)> check) {
        checks_.push_back(std::move(check));
        return *this;
    }

    // The last key added must be written.
    KeyTable& required() {
        keys_.back().required = true;
        return default_is("required", false);
    }

    // The last key added shows another default: a TOML value, or words ("none", "vhostd's own").
    KeyTable& default_is(std::string text, bool is_value) {
        keys_.back().doc.default_text = std::move(text);
        keys_.back().doc.default_is_value = is_value;
        return *this;
    }

    // Reads every key of `table` into `into`; reports unknown keys and missing required ones.
    void read(ValueReader& reader, const toml::table& table, const std::string& path, Target& into) const {
        for (const auto& [key, value] : table) {
            const std::string key_path = child(path, key.str());
            if (const Key<Target>* known = find(key.str())) {
                known->read(reader, key, value, key_path, into);
            } else {
                reader.report_unknown(key, key_path);
            }
        }
        for (const Key<Target>& known : keys_) {
            if (known.required && !table.contains(known.doc.name)) reader.report_missing(table, child(path, known.doc.name));
        }
        for (const auto& check : checks_) check(reader, table, path, into);
    }

    std::vector<KeyDoc> docs() const {
        std::vector<KeyDoc> docs;
        for (const Key<Target>& known : keys_) docs.push_back(known.doc);
        return docs;
    }

    // "table { count = integer 1–100000, window = duration > 0 }"
    std::string type_text() const {
        std::string text = "table {";
        for (const Key<Target>& known : keys_) {
            text += (&known == &keys_.front() ? " " : ", ") + known.doc.name + " = " + known.doc.type;
        }
        return text + " }";
    }

    // "{ count = 10, window = \"60s\" }" from the keys that have a value as default; "{}" if none.
    std::string default_text() const {
        std::string text;
        for (const Key<Target>& known : keys_) {
            if (!known.doc.default_is_value) continue;
            text += (text.empty() ? "{ " : ", ") + known.doc.name + " = " + known.doc.default_text;
        }
        return text.empty() ? "{}" : text + " }";
    }

private:
    using StringReader = bool (ValueReader::*)(const toml::node&, const std::string&, std::string&);

    // A string that is unset (empty) unless written.
    template <typename Owner>
    KeyTable& string_key(std::string_view name, std::string type, std::string Owner::*field, StringReader read,
                         std::string_view meaning) {
        return add(name, std::move(type), "none", meaning,
                   [field, read](ValueReader& reader, const toml::key&, const toml::node& value,
                                 const std::string& path, Target& into) { (reader.*read)(value, path, into.*field); })
            .default_is("none", false);
    }

    const Key<Target>* find(std::string_view name) const {
        const auto found =
            std::find_if(keys_.begin(), keys_.end(), [&](const Key<Target>& known) { return known.doc.name == name; });
        return found == keys_.end() ? nullptr : &*found;
    }

    KeyTable& add(std::string_view name, std::string type, std::string default_text, std::string_view meaning,
                  KeyReader<Target> read) {
        keys_.push_back(Key<Target>{KeyDoc{std::string(name), std::move(type), std::move(default_text), true,
                                           std::string(meaning), {}},
                                    false, std::move(read)});
        return *this;
    }

    Target defaults_;
    std::vector<Key<Target>> keys_;
    std::vector<std::function<void(ValueReader&, const toml::table&, const std::string&, Target&)>> checks_;
};

// The table `build` returns, built on first use and kept: `built_once<listener_keys>()`.
template <auto build>
const auto& built_once() {
    static const auto table = build();
    return table;
}

}  // namespace vhostd::conf
