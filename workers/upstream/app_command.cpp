#include "workers/upstream/app_command.hpp"

#include <cctype>

namespace vhostd::upstream {
namespace {

bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

std::string expand(const std::string& argument, const std::map<std::string, std::string>& values) {
    std::string out;
    for (std::size_t i = 0; i < argument.size();) {
        if (argument[i] == '$') {
            const bool braced = i + 1 < argument.size() && argument[i + 1] == '{';
            const std::size_t start = i + (braced ? 2 : 1);
            std::size_t end = start;
            while (end < argument.size() && is_name_char(argument[end])) ++end;
            const bool closed = !braced || (end < argument.size() && argument[end] == '}');
            const auto value = values.find(argument.substr(start, end - start));
            if (end > start && closed && value != values.end()) {
                out += value->second;
                i = end + (braced ? 1 : 0);
                continue;
            }
        }
        out += argument[i++];
    }
    return out;
}

}  // namespace

std::vector<std::string> expand_placeholders(const std::vector<std::string>& arguments,
                                             const std::map<std::string, std::string>& values) {
    std::vector<std::string> expanded;
    expanded.reserve(arguments.size());
    for (const std::string& argument : arguments) expanded.push_back(expand(argument, values));
    return expanded;
}

}  // namespace vhostd::upstream
