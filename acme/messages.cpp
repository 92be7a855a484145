#include "acme/messages.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <array>
#include <ctime>
#include <utility>

namespace vhostd::acme {

namespace {

namespace json = boost::json;

constexpr std::array<std::pair<std::string_view, Status>, 8> status_names{{
    {"pending", Status::pending},
    {"ready", Status::ready},
    {"processing", Status::processing},
    {"valid", Status::valid},
    {"invalid", Status::invalid},
    {"expired", Status::expired},
    {"deactivated", Status::deactivated},
    {"revoked", Status::revoked},
}};

// https only, with a host, no spaces or control characters.
bool is_https_url(std::string_view text) {
    constexpr std::string_view scheme = "https://";
    return text.starts_with(scheme) && text.size() > scheme.size() && text.size() <= 2048 &&
           std::all_of(text.begin(), text.end(), [](char c) { return c > ' ' && c != '\x7f'; });
}

// Reads the members of one object; the first thing wrong is kept as the error, and the
// rest of the reading is skipped by the caller checking ok().
class Reader {
public:
    Reader(std::string_view what, std::string& error) : what_(what), error_(error) {}

    bool ok() const { return error_.empty(); }
    void fail(std::string why) {
        if (error_.empty()) error_ = std::string(what_) + ": " + std::move(why);
    }

    const json::object* object(std::string_view body) {
        boost::system::error_code ec;
        json::parse_options options;
        options.max_depth = 16;
        value_ = json::parse(body, ec, {}, options);
        if (ec) {
            fail("not JSON (" + ec.message() + ")");
            return nullptr;
        }
        if (!value_.is_object()) fail("not a JSON object");
        return value_.if_object();
    }

    std::string string(const json::object& object, std::string_view name, bool required) {
        const json::value* member = object.if_contains(name);
        if (!member) {
            if (required) fail("\"" + std::string(name) + "\" is missing");
            return {};
        }
        if (!member->is_string()) {
            fail("\"" + std::string(name) + "\" is not a string");
            return {};
        }
        return std::string(member->get_string());
    }

    // A URL the client will send requests to.
    std::string url(const json::object& object, std::string_view name, bool required) {
        std::string text = string(object, name, required);
        if (!text.empty() && !is_https_url(text)) fail("\"" + std::string(name) + "\" is not an https URL");
        return text;
    }

    Status status(const json::object& object) {
        const std::string text = string(object, "status", true);
        for (const auto& [name, status] : status_names) {
            if (name == text) return status;
        }
        if (ok()) fail("\"status\" is not an ACME status: \"" + text.substr(0, 40) + "\"");
        return Status::invalid;
    }

    const json::array* array(const json::object& object, std::string_view name, bool required) {
        const json::value* member = object.if_contains(name);
        if (!member) {
            if (required) fail("\"" + std::string(name) + "\" is missing");
            return nullptr;
        }
        if (!member->is_array()) fail("\"" + std::string(name) + "\" is not an array");
        return member->if_array();
    }

    Identifier identifier(const json::value& value) {
        const json::object* object = value.if_object();
        if (!object) {
            fail("an identifier is not an object");
            return {};
        }
        return {string(*object, "type", true), string(*object, "value", true)};
    }

    std::optional<Problem> problem(const json::object& object, std::string_view name) {
        const json::value* member = object.if_contains(name);
        if (!member) return std::nullopt;
        if (!member->is_object()) {
            fail("\"" + std::string(name) + "\" is not a problem document");
            return std::nullopt;
        }
        return problem_of(member->get_object(), 0);
    }

    Problem problem_of(const json::object& object, int depth) {
        Problem problem;
        problem.type = string(object, "type", false);
        problem.detail = string(object, "detail", false);
        if (const json::value* status = object.if_contains("status"); status && status->is_int64()) {
            problem.status = static_cast<int>(std::clamp<std::int64_t>(status->get_int64(), 0, 999));
        }
        if (const json::array* subproblems = array(object, "subproblems", false); subproblems && depth < 2) {
            for (const json::value& sub : *subproblems) {
                if (const json::object* sub_object = sub.if_object()) problem.subproblems.push_back(problem_of(*sub_object, depth + 1));
            }
        }
        return problem;
    }

private:
    std::string_view what_;
    std::string& error_;
    json::value value_;
};

template <class T, class Read>
Decoded<T> decode(std::string_view what, std::string_view body, Read read) {
    Decoded<T> decoded;
    Reader reader(what, decoded.error);
    const json::object* object = reader.object(body);
    if (!object) return decoded;
    T value = read(reader, *object);
    if (reader.ok()) decoded.value = std::move(value);
    return decoded;
}

}  // namespace

std::string_view to_string(Status status) {
    for (const auto& [name, value] : status_names) {
        if (value == status) return name;
    }
    return "invalid";
}

std::string describe(const Problem& problem) {
    std::string text = problem.type.empty() ? "about:blank" : problem.type;
    if (!problem.detail.empty()) text += ": " + problem.detail;
    if (problem.status != 0) text += " (HTTP " + std::to_string(problem.status) + ")";
    for (const Problem& sub : problem.subproblems) text += "; " + describe(sub);
    return text;
}

Decoded<Directory> decode_directory(std::string_view body) {
    return decode<Directory>("the ACME directory", body, [](Reader& reader, const json::object& object) {
        Directory directory;
        directory.new_nonce = reader.url(object, "newNonce", true);
        directory.new_account = reader.url(object, "newAccount", true);
        directory.new_order = reader.url(object, "newOrder", true);
        directory.revoke_cert = reader.url(object, "revokeCert", false);
        directory.key_change = reader.url(object, "keyChange", false);
        directory.renewal_info = reader.url(object, "renewalInfo", false);
        if (const json::value* meta = object.if_contains("meta"); meta && meta->is_object()) {
            directory.terms_of_service = reader.string(meta->get_object(), "termsOfService", false);
            if (const json::value* eab = meta->get_object().if_contains("externalAccountRequired"); eab && eab->is_bool()) {
                directory.external_account_required = eab->get_bool();
            }
        }
        return directory;
    });
}

Decoded<Account> decode_account(std::string_view body) {
    return decode<Account>("the ACME account", body, [](Reader& reader, const json::object& object) {
        Account account;
        account.status = reader.status(object);
        if (const json::array* contact = reader.array(object, "contact", false)) {
            for (const json::value& entry : *contact) {
                if (entry.is_string()) account.contact.emplace_back(entry.get_string());
            }
        }
        return account;
    });
}

Decoded<Order> decode_order(std::string_view body) {
    return decode<Order>("the ACME order", body, [](Reader& reader, const json::object& object) {
        Order order;
        order.status = reader.status(object);
        if (const json::array* identifiers = reader.array(object, "identifiers", true)) {
            for (const json::value& entry : *identifiers) order.identifiers.push_back(reader.identifier(entry));
        }
        if (const json::array* authorizations = reader.array(object, "authorizations", true)) {
            for (const json::value& entry : *authorizations) {
                if (!entry.is_string() || !is_https_url(entry.get_string())) {
                    reader.fail("an authorization is not an https URL");
                    break;
                }
                order.authorizations.emplace_back(entry.get_string());
            }
        }
        order.finalize = reader.url(object, "finalize", true);
        order.certificate = reader.url(object, "certificate", false);
        if (order.status == Status::valid && order.certificate.empty()) reader.fail("valid, but has no \"certificate\"");
        order.error = reader.problem(object, "error");
        return order;
    });
}

namespace {

Challenge challenge_of(Reader& reader, const json::object& object) {
    Challenge challenge;
    challenge.type = reader.string(object, "type", true);
    challenge.url = reader.url(object, "url", true);
    challenge.status = reader.status(object);
    challenge.token = reader.string(object, "token", false);
    // RFC 8555 §8.3, §8.4: the token goes into a URL path and a key authorization, so it
    // must be base64url only, and long enough to be unguessable.
    const bool base64url = std::all_of(challenge.token.begin(), challenge.token.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    });
    if (!challenge.token.empty() && (!base64url || challenge.token.size() < 22 || challenge.token.size() > 256)) {
        reader.fail("a challenge token is not 22 to 256 base64url characters");
    }
    challenge.error = reader.problem(object, "error");
    return challenge;
}

}  // namespace

Decoded<Authorization> decode_authorization(std::string_view body) {
    return decode<Authorization>("the ACME authorization", body, [](Reader& reader, const json::object& object) {
        Authorization authorization;
        authorization.status = reader.status(object);
        if (const json::value* identifier = object.if_contains("identifier")) {
            authorization.identifier = reader.identifier(*identifier);
        } else {
            reader.fail("\"identifier\" is missing");
        }
        if (const json::array* challenges = reader.array(object, "challenges", true)) {
            for (const json::value& entry : *challenges) {
                if (const json::object* challenge = entry.if_object()) {
                    authorization.challenges.push_back(challenge_of(reader, *challenge));
                } else {
                    reader.fail("a challenge is not an object");
                }
            }
        }
        if (const json::value* wildcard = object.if_contains("wildcard"); wildcard && wildcard->is_bool()) {
            authorization.wildcard = wildcard->get_bool();
        }
        return authorization;
    });
}

Decoded<Challenge> decode_challenge(std::string_view body) {
    return decode<Challenge>("the ACME challenge", body, challenge_of);
}

Decoded<Problem> decode_problem(std::string_view body) {
    return decode<Problem>("the ACME problem document", body,
                           [](Reader& reader, const json::object& object) { return reader.problem_of(object, 0); });
}

Decoded<RenewalInfo> decode_renewal_info(std::string_view body) {
    return decode<RenewalInfo>("the ACME renewal information", body, [](Reader& reader, const json::object& object) {
        RenewalInfo info;
        const json::value* window = object.if_contains("suggestedWindow");
        if (window == nullptr || !window->is_object()) {
            reader.fail("\"suggestedWindow\" is missing or not an object");
            return info;
        }
        const auto time_of = [&](std::string_view name, std::chrono::system_clock::time_point& into) {
            const std::string text = reader.string(window->get_object(), name, true);
            if (!reader.ok()) return;
            const auto parsed = parse_rfc3339(text);
            if (!parsed) return reader.fail("\"" + std::string(name) + "\" is not an RFC 3339 time: \"" + text.substr(0, 40) + "\"");
            into = *parsed;
        };
        time_of("start", info.start);
        time_of("end", info.end);
        // RFC 9773 §4.2: a window whose end is not after its start is invalid.
        if (reader.ok() && info.end <= info.start) reader.fail("the suggested window ends before it starts");
        // Only shown and logged: a malformed one is left out, not a reason to refuse the window.
        if (const json::value* url = object.if_contains("explanationURL"); url && url->is_string() && is_https_url(url->get_string())) {
            info.explanation_url = url->get_string();
        }
        return info;
    });
}

std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text) {
    // YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)
    const auto number = [&](std::size_t at, std::size_t digits, int& into) {
        if (at + digits > text.size()) return false;
        into = 0;
        for (std::size_t i = at; i < at + digits; ++i) {
            if (text[i] < '0' || text[i] > '9') return false;  // no sign, no space
            into = into * 10 + (text[i] - '0');
        }
        return true;
    };
    const auto is = [&](std::size_t at, std::string_view any) { return at < text.size() && any.find(text[at]) != std::string_view::npos; };
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    if (!number(0, 4, year) || !is(4, "-") || !number(5, 2, month) || !is(7, "-") || !number(8, 2, day) || !is(10, "Tt ") ||
        !number(11, 2, hour) || !is(13, ":") || !number(14, 2, minute) || !is(16, ":") || !number(17, 2, second)) {
        return std::nullopt;
    }
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return std::nullopt;
    // system_clock counts nanoseconds: about 1678 to 2262. An ACME time is near now anyway.
    if (year < 1970 || year > 2200) return std::nullopt;
    constexpr int days_in[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (day > days_in[month - 1] || (month == 2 && day == 29 && !leap)) return std::nullopt;
    std::size_t at = 19;
    std::chrono::nanoseconds fraction{0};
    if (is(at, ".")) {
        long long scale = 100'000'000;
        const std::size_t first = ++at;
        for (; at < text.size() && text[at] >= '0' && text[at] <= '9'; ++at, scale /= 10) {
            fraction += std::chrono::nanoseconds((text[at] - '0') * scale);
        }
        if (at == first) return std::nullopt;
    }
    int offset_minutes = 0;
    if (is(at, "Zz")) {
        ++at;
    } else if (is(at, "+-")) {
        int offset_hours = 0, offset_rest = 0;
        if (!number(at + 1, 2, offset_hours) || !is(at + 3, ":") || !number(at + 4, 2, offset_rest) || offset_hours > 23 ||
            offset_rest > 59) {
            return std::nullopt;
        }
        offset_minutes = (offset_hours * 60 + offset_rest) * (text[at] == '-' ? -1 : 1);
        at += 6;
    } else {
        return std::nullopt;
    }
    if (at != text.size()) return std::nullopt;
    std::tm parts{};
    parts.tm_year = year - 1900;
    parts.tm_mon = month - 1;
    parts.tm_mday = day;
    parts.tm_hour = hour;
    parts.tm_min = minute;
    parts.tm_sec = std::min(second, 59);  // a leap second counts as the one before it
    const std::time_t seconds = ::timegm(&parts);
    return std::chrono::system_clock::from_time_t(seconds) - std::chrono::minutes(offset_minutes) +
           std::chrono::duration_cast<std::chrono::system_clock::duration>(fraction);
}

}  // namespace vhostd::acme
