// vhostctl: a command line over vhostd's admin endpoint. Wiring only: options -> address and
// token -> one request (or one per second for `top`) -> text.
#include "apps/build_info.hpp"
#include "apps/vhostctl/admin_client.hpp"
#include "apps/vhostctl/status_table.hpp"
#include "conf/loader.hpp"

#include <boost/json.hpp>

#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace ctl = vhostd::ctl;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* usage_text =
    "usage: vhostctl [-c FILE | --admin HOST:PORT] [--token-file FILE] COMMAND\n"
    "commands:\n"
    "  status [--json]        sites and workers as a table, or the raw JSON\n"
    "  certs                  the certificates of tls = \"auto\" sites: state, expiry, next attempt, last error\n"
    "  top [--iterations N]   the status table redrawn every second, until Ctrl-C (or N redraws)\n"
    "  reload                 reload vhostd's configuration file\n"
    "  upgrade                start vhostd's binary anew and hand it the sockets and waiting\n"
    "                         connections; waits until the new process serves (or failed)\n"
    "  health                 exit 0 when vhostd's /healthz answers, 1 otherwise (Docker HEALTHCHECK)\n"
    "  restart SITE           restart the site's workers\n"
    "  stop SITE              stop the site's workers\n"
    "  start SITE             start the site's workers again\n"
    "options:\n"
    "  -c, --config FILE      the vhostd configuration naming the admin endpoint and its token\n"
    "                         (default /etc/vhostd/vhostd.toml when it exists)\n"
    "  --admin HOST:PORT      this admin endpoint instead of the configuration's\n"
    "  --token-file FILE      the bearer token, instead of the configuration's [admin] token_file\n"
    "  --version              print the version and build information\n";

constexpr const char* default_config = "/etc/vhostd/vhostd.toml";

// Exit 2: the command line itself is wrong.
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Exit 1: the command was understood but did not succeed.
struct Failure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct Options {
    std::string config_path;
    std::string admin;
    std::string token_file;
    std::vector<std::string> words;  // the command and its argument
    bool json = false;
    std::optional<unsigned> iterations;
    bool help = false;
    bool version = false;
};

Options parse_options(int argc, char** argv) {
    Options options;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        const auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw UsageError(std::string(arg) + " needs a value");
            return argv[++i];
        };
        if (arg == "-c" || arg == "--config") {
            options.config_path = value();
        } else if (arg == "--admin") {
            options.admin = value();
        } else if (arg == "--token-file") {
            options.token_file = value();
        } else if (arg == "--json") {
            options.json = true;
        } else if (arg == "--iterations") {
            const std::string text = value();
            unsigned n = 0;
            const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), n);
            if (error != std::errc() || end != text.data() + text.size() || n == 0) {
                throw UsageError("--iterations wants a positive number, not \"" + text + "\"");
            }
            options.iterations = n;
        } else if (arg == "-h" || arg == "--help") {
            options.help = true;
        } else if (arg == "--version") {
            options.version = true;
        } else if (arg.starts_with('-') && arg.size() > 1) {
            throw UsageError("unknown option " + std::string(arg));
        } else {
            options.words.emplace_back(arg);
        }
    }
    if (options.help || options.version) return options;

    if (options.words.empty()) throw UsageError("no command");
    const std::string& command = options.words[0];
    const bool site_command = command == "restart" || command == "stop" || command == "start";
    if (command != "status" && command != "certs" && command != "top" && command != "reload" && command != "upgrade" && command != "health" && !site_command) {
        throw UsageError("unknown command \"" + command + "\"");
    }
    const std::size_t wanted = site_command ? 2 : 1;
    if (options.words.size() < wanted) throw UsageError(command + " needs a SITE");
    if (options.words.size() > wanted) throw UsageError("unexpected \"" + options.words[wanted] + "\"");
    if (options.json && command != "status") throw UsageError("--json goes with status");
    if (options.iterations && command != "top") throw UsageError("--iterations goes with top");
    return options;
}

vhostd::conf::Config load_config(const std::string& path) {
    auto loaded = vhostd::conf::load_config_file(path);
    if (auto* errors = std::get_if<std::vector<vhostd::conf::ConfigError>>(&loaded)) {
        for (const auto& error : *errors) std::cerr << error.to_string() << "\n";
        throw Failure(std::to_string(errors->size()) + (errors->size() == 1 ? " error" : " errors") + " in " + path);
    }
    return std::get<vhostd::conf::Config>(std::move(loaded));
}

// The token is the file's content; a trailing newline from an editor or `echo` is not part of it.
std::string read_token(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Failure("cannot read the token file " + path + ": " + std::strerror(errno));
    std::ostringstream content;
    content << in.rdbuf();
    std::string token = content.str();
    while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
    if (token.empty()) throw Failure("the token file " + path + " is empty");
    return token;
}

// A listener on "every address" is reached through loopback from this machine.
ctl::AdminAddress connectable(const vhostd::conf::Endpoint& endpoint) {
    if (endpoint.host == "0.0.0.0") return {"127.0.0.1", endpoint.port};
    if (endpoint.host == "::") return {"::1", endpoint.port};
    return {endpoint.host, endpoint.port};
}

// --admin wins; else the configuration (-c, or the default file when it exists) names it.
ctl::AdminClient make_client(const Options& options) {
    std::optional<ctl::AdminAddress> address;
    if (!options.admin.empty()) {
        address = ctl::parse_admin_address(options.admin);
        if (!address) throw UsageError("--admin wants HOST:PORT (IPv6 as [::1]:9180), not \"" + options.admin + "\"");
    }
    std::string config_path = options.config_path;
    if (config_path.empty() && options.admin.empty()) {
        if (!std::filesystem::exists(default_config)) {
            throw UsageError(std::string("no admin endpoint: give --admin HOST:PORT or -c FILE (") + default_config +
                             " does not exist)");
        }
        config_path = default_config;
    }
    std::optional<vhostd::conf::Config> config;
    if (!config_path.empty()) config = load_config(config_path);

    if (!address) {
        if (!config->admin) throw Failure(config_path + " has no [admin] section");
        address = connectable(config->admin->endpoint);
    }

    std::string token_file = options.token_file;
    if (token_file.empty() && config && config->admin) token_file = config->admin->token_file;
    return ctl::AdminClient(*address, token_file.empty() ? std::string() : read_token(token_file));
}

bool ok(const ctl::AdminResponse& response) { return response.status >= 200 && response.status < 300; }

// Admin answers are JSON objects; an error page from something else may not be.
std::optional<json::object> json_object(const std::string& body) {
    boost::system::error_code error;
    json::value value = json::parse(body, error);
    if (error || !value.is_object()) return std::nullopt;
    return std::move(value.get_object());
}

std::string with_newline(std::string text) {
    if (!text.empty() && text.back() != '\n') text += '\n';
    return text;
}

// Says why a non-2xx answer failed: the `error`/`errors` of a JSON answer, else the body.
int refused(const ctl::AdminClient& client, const ctl::AdminResponse& response) {
    if (response.status == 401) {
        std::cerr << (client.has_token() ? "vhostctl: the admin endpoint refused the token (--token-file)\n"
                                         : "vhostctl: the admin endpoint wants a token (--token-file)\n");
        return 1;
    }
    if (const auto answer = json_object(response.body)) {
        bool said = false;
        if (const auto* error = answer->if_contains("error"); error && error->is_string()) {
            std::cerr << "vhostctl: " << std::string_view(error->get_string()) << "\n";
            said = true;
        }
        if (const auto* errors = answer->if_contains("errors"); errors && errors->is_array()) {
            for (const auto& error : errors->get_array()) {
                std::cerr << (error.is_string() ? std::string(error.get_string()) : json::serialize(error)) << "\n";
                said = true;
            }
        }
        if (said) return 1;
    }
    std::cerr << "vhostctl: the admin endpoint answered " << response.status << "\n" << with_newline(response.body);
    return 1;
}

std::string table_from(const std::string& body) {
    boost::system::error_code error;
    const json::value status = json::parse(body, error);
    if (error || !status.is_object()) throw Failure("the admin endpoint's /status is not a JSON object");
    return ctl::render_status_table(status);
}

int status(const ctl::AdminClient& client, bool raw) {
    const ctl::AdminResponse response = client.get("/status");
    if (!ok(response)) return refused(client, response);
    std::cout << (raw ? with_newline(response.body) : table_from(response.body));
    return 0;
}

int certificates(const ctl::AdminClient& client) {
    const ctl::AdminResponse response = client.get("/status");
    if (!ok(response)) return refused(client, response);
    boost::system::error_code error;
    const json::value status = json::parse(response.body, error);
    if (error || !status.is_object()) throw Failure("the admin endpoint's /status is not a JSON object");
    std::cout << ctl::render_certificates_table(status, static_cast<double>(std::time(nullptr)));
    return 0;
}

std::string clock_time() {
    const std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    char text[16];
    std::strftime(text, sizeof text, "%H:%M:%S", &local);
    return text;
}

// Redraws until Ctrl-C (which ends the process) or `iterations`. An unreachable vhostd is
// shown in place and polled again: `top` is what one watches across a restart.
int top(const ctl::AdminClient& client, std::optional<unsigned> iterations) {
    const bool terminal = isatty(STDOUT_FILENO) == 1;
    auto next = std::chrono::steady_clock::now();
    bool failed = false;
    for (unsigned drawn = 0; !iterations || drawn < *iterations; ++drawn) {
        std::this_thread::sleep_until(next);
        next = std::chrono::steady_clock::now() + 1s;
        std::string screen;
        failed = false;
        try {
            const ctl::AdminResponse response = client.get("/status");
            if (response.status == 401) return refused(client, response);
            if (ok(response)) {
                screen = table_from(response.body);
            } else {
                screen = "the admin endpoint answered " + std::to_string(response.status) + "\n" + with_newline(response.body);
                failed = true;
            }
        } catch (const std::exception& e) {
            screen = std::string("vhostctl: ") + e.what() + "\n";
            failed = true;
        }
        // Off a terminal (a test, a log) escape codes would be noise; a blank line separates.
        std::cout << (terminal ? "\x1b[H\x1b[2J" : drawn > 0 ? "\n" : "") << "vhostctl top  " << client.address().to_string()
                  << "  " << clock_time() << "  (Ctrl-C quits)\n\n"
                  << screen << std::flush;
    }
    return failed ? 1 : 0;
}

int reload(const ctl::AdminClient& client) {
    const ctl::AdminResponse response = client.post("/reload");
    if (!ok(response)) {
        refused(client, response);
        if (response.status == 400) std::cerr << "vhostctl: reload refused; vhostd keeps its running configuration\n";
        return 1;
    }
    const auto answer = json_object(response.body);
    const auto* summary = answer ? answer->if_contains("summary") : nullptr;
    std::cout << (summary && summary->is_string() ? with_newline(std::string(summary->get_string()))
                                                  : with_newline(response.body.empty() ? "reloaded" : response.body));
    return 0;
}

// Site names are letters, digits, '-' and '_' today; encoding keeps the path sound anyway.
std::string path_segment(std::string_view text) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : text) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += {'%', hex[c >> 4], hex[c & 15]};
        }
    }
    return out;
}

int site_action(const ctl::AdminClient& client, const std::string& action, const std::string& site) {
    const ctl::AdminResponse response = client.post("/sites/" + path_segment(site) + "/" + action);
    if (!ok(response)) return refused(client, response);
    std::cout << site << ": " << action << " requested\n";
    return 0;
}

// Liveness for a container's HEALTHCHECK: the process answers on its admin endpoint.
int health(const ctl::AdminClient& client) {
    const ctl::AdminResponse response = client.get("/healthz");
    if (!ok(response)) return refused(client, response);
    std::cout << with_newline(response.body);
    return 0;
}

std::optional<json::object> server_status(const ctl::AdminClient& client) {
    try {
        const ctl::AdminResponse response = client.get("/status");
        const auto status = ok(response) ? json_object(response.body) : std::nullopt;
        const auto* server = status ? status->if_contains("server") : nullptr;
        if (server != nullptr && server->is_object()) return server->get_object();
    } catch (const std::exception&) {  // between the two processes: ask again
    }
    return std::nullopt;
}

// Asks for the upgrade, then watches /status until the new process answers there (the old
// one stops answering once it hands over) or the old one reports that the upgrade failed.
int upgrade(const ctl::AdminClient& client) {
    const ctl::AdminResponse response = client.post("/upgrade");
    if (!ok(response)) return refused(client, response);
    const auto answer = json_object(response.body);
    const auto* pid = answer ? answer->if_contains("pid") : nullptr;
    if (pid == nullptr || !pid->is_int64()) throw Failure("the admin endpoint's answer to /upgrade has no pid: " + response.body);
    const std::int64_t new_pid = pid->get_int64();
    std::cout << "new vhostd started as pid " << new_pid << "\n" << std::flush;
    const auto deadline = std::chrono::steady_clock::now() + 120s;  // beyond vhostd's own 90 s for the new one to be ready
    while (std::chrono::steady_clock::now() < deadline) {
        if (const auto server = server_status(client)) {
            const auto* serving = server->if_contains("pid");
            if (serving != nullptr && serving->is_int64() && serving->get_int64() == new_pid) {
                std::cout << "upgraded: pid " << new_pid << " serves; the old vhostd drains and exits\n";
                return 0;
            }
            const auto* state = server->if_contains("upgrade");
            if (state != nullptr && state->is_string() && state->get_string().starts_with("failed")) {
                std::cerr << "vhostctl: upgrade " << std::string_view(state->get_string()) << "\n";
                return 1;
            }
        }
        std::this_thread::sleep_for(100ms);
    }
    std::cerr << "vhostctl: pid " << new_pid << " did not take over within 120 s; see vhostd's log\n";
    return 1;
}

int run(const Options& options) {
    const ctl::AdminClient client = make_client(options);
    const std::string& command = options.words[0];
    if (command == "status") return status(client, options.json);
    if (command == "certs") return certificates(client);
    if (command == "top") return top(client, options.iterations);
    if (command == "reload") return reload(client);
    if (command == "upgrade") return upgrade(client);
    if (command == "health") return health(client);
    return site_action(client, command, options.words[1]);
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const Options options = parse_options(argc, argv);
        if (options.help) {
            std::cout << usage_text;
            return 0;
        }
        if (options.version) {
            std::cout << vhostd::apps::build_info("vhostctl");
            return 0;
        }
        return run(options);
    } catch (const UsageError& e) {
        std::cerr << "vhostctl: " << e.what() << "\n" << usage_text;
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "vhostctl: " << e.what() << "\n";
        return 1;
    }
}
