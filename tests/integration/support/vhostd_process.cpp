#include "tests/integration/support/vhostd_process.hpp"

#include "tests/integration/support/http_client.hpp"
#include "tests/integration/test_paths.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace vhostd::test {

namespace {

constexpr auto poll_interval = 20ms;

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream content;
    content << in.rdbuf();
    return content.str();
}

// `launch.listen_fds` land at 3, 4, ...; `launch.environment` is added to ours.
pid_t spawn(const std::vector<std::string>& argv, const std::string& output_path, const Launch& launch = {}) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, output_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    for (std::size_t i = 0; i < launch.listen_fds.size(); ++i) {
        if (launch.listen_fds[i] < 3 + static_cast<int>(launch.listen_fds.size())) throw std::logic_error("listen fds must sit above their targets");
        posix_spawn_file_actions_adddup2(&actions, launch.listen_fds[i], 3 + static_cast<int>(i));
    }
    std::vector<char*> args;
    for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    std::vector<char*> environment;
    for (char** variable = environ; *variable != nullptr; ++variable) environment.push_back(*variable);
    for (const std::string& variable : launch.environment) environment.push_back(const_cast<char*>(variable.c_str()));
    environment.push_back(nullptr);
    pid_t pid = -1;
    const int error = ::posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environment.data());
    posix_spawn_file_actions_destroy(&actions);
    if (error != 0) throw std::runtime_error("cannot start " + argv[0]);
    return pid;
}

std::optional<int> wait_for_exit(pid_t pid, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        int status = 0;
        const pid_t done = ::waitpid(pid, &status, WNOHANG);
        if (done == pid) return status;
        if (done < 0) return std::nullopt;
        if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(5ms);
    }
}

}  // namespace

VhostdProcess::VhostdProcess(const TempDir& dir, const std::string& config_text, const std::vector<std::string>& extra_args)
    : log_path_((dir.path() / "vhostd.log").string()) {
    config_path_ = dir.write("vhostd.toml", config_text).string();
    std::vector<std::string> argv{vhostd_binary, "-c", config_path_, "--log-level", "debug"};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    pid_ = spawn(argv, log_path_);
}

VhostdProcess::VhostdProcess(const TempDir& dir, const std::string& config_text, const Launch& launch,
                             const std::vector<std::string>& extra_args)
    : log_path_((dir.path() / "vhostd.log").string()) {
    config_path_ = dir.write("vhostd.toml", config_text).string();
    std::vector<std::string> argv{launch.binary.empty() ? vhostd_binary : launch.binary, "-c", config_path_, "--log-level", "debug"};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    Launch with_count = launch;
    if (!launch.listen_fds.empty()) {
        // systemd sets LISTEN_PID to the pid it execs; a shell that execs vhostd keeps its own.
        argv.insert(argv.begin(), {"/bin/sh", "-c", "export LISTEN_PID=$$; exec \"$0\" \"$@\""});
        with_count.environment.push_back("LISTEN_FDS=" + std::to_string(launch.listen_fds.size()));
    }
    pid_ = spawn(argv, log_path_, with_count);
}

std::optional<int> VhostdProcess::follow_upgrade(pid_t successor, std::chrono::milliseconds timeout) {
    workers();
    const auto status = wait_for_exit(pid_, timeout);
    if (status) pid_ = successor;
    return status;
}

VhostdProcess::~VhostdProcess() {
    if (pid_ > 0) {
        workers();  // remember the last workers before they go
        if (!stop(SIGTERM, 10s)) stop(SIGKILL, 5s);
    }
    for (pid_t worker : seen_workers_) {
        if (process_alive(worker)) ::kill(worker, SIGKILL);
    }
}

std::string VhostdProcess::log() const { return read_file(log_path_); }

BackgroundProcess::BackgroundProcess(const std::vector<std::string>& argv, const std::string& output_path)
    : pid_(spawn(argv, output_path)) {}

BackgroundProcess::~BackgroundProcess() {
    ::kill(pid_, SIGTERM);
    if (!wait_for_exit(pid_, 5s)) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
}

std::vector<pid_t> VhostdProcess::workers() const {
    std::vector<pid_t> current = children_of(pid_);
    for (pid_t worker : current) {
        if (std::find(seen_workers_.begin(), seen_workers_.end(), worker) == seen_workers_.end()) seen_workers_.push_back(worker);
    }
    return current;
}

bool VhostdProcess::wait_until_serving(std::uint16_t port, const std::string& host, std::size_t count,
                                       std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::set<int> answered_by;
    while (std::chrono::steady_clock::now() < deadline) {
        try {
            const Exchange answer = get(port, host);
            if (answer.status() == 200) {
                if (auto pid = pid_in(answer.body())) answered_by.insert(*pid);
                if (answered_by.size() >= count) return true;
                continue;
            }
        } catch (const std::exception&) {
            // not listening yet
        }
        std::this_thread::sleep_for(poll_interval);
    }
    return false;
}

bool VhostdProcess::wait_for_log(const std::string& needle, std::chrono::milliseconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (log().find(needle) != std::string::npos) return true;
        std::this_thread::sleep_for(poll_interval);
    }
    return false;
}

std::size_t VhostdProcess::count_in_log(const std::string& needle) const {
    const std::string text = log();
    std::size_t count = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++count;
    return count;
}

bool VhostdProcess::reload(const std::string& config_text, std::chrono::milliseconds timeout) {
    const std::size_t before = count_in_log("reload: ");
    std::ofstream(config_path_) << config_text;
    ::kill(pid_, SIGHUP);
    return wait_until([&] { return count_in_log("reload: ") > before; }, timeout);
}

std::optional<int> VhostdProcess::stop(int signal, std::chrono::milliseconds timeout) {
    if (pid_ <= 0) return std::nullopt;
    ::kill(pid_, signal);
    auto status = wait_for_exit(pid_, timeout);
    if (status) pid_ = -1;
    return status;
}

std::pair<int, std::string> run_command(const std::vector<std::string>& argv) {
    TempDir dir;
    const std::string output = (dir.path() / "output").string();
    const pid_t pid = spawn(argv, output);
    const auto status = wait_for_exit(pid, 30s);
    if (!status) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        return {-1, read_file(output)};
    }
    return {WIFEXITED(*status) ? WEXITSTATUS(*status) : -1, read_file(output)};
}

bool process_alive(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text;
    if (!std::getline(stat, text)) return false;
    const auto close_paren = text.rfind(')');
    return close_paren != std::string::npos && close_paren + 2 < text.size() && text[close_paren + 2] != 'Z';
}

bool wait_until_gone(pid_t pid, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (process_alive(pid)) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

std::size_t open_fd_count(pid_t pid) {
    std::error_code ec;
    std::size_t count = 0;
    for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec); !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) ++count;
    return count;
}

namespace {

struct ProcessEntry {
    pid_t pid;
    char state;
};

// Every process whose parent is `parent`, with its state letter from /proc/PID/stat.
std::vector<ProcessEntry> processes_with_parent(pid_t parent) {
    std::vector<ProcessEntry> found;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
        const std::string name = entry.path().filename().string();
        if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
        std::ifstream stat(entry.path() / "stat");
        std::string text;
        if (!std::getline(stat, text)) continue;
        const auto close_paren = text.rfind(')');  // the command name may contain anything
        if (close_paren == std::string::npos) continue;
        std::istringstream fields(text.substr(close_paren + 2));
        char state;
        pid_t ppid;
        if (fields >> state >> ppid && ppid == parent) found.push_back({std::stoi(name), state});
    }
    return found;
}

}  // namespace

std::size_t zombie_children_of(pid_t parent) {
    const auto children = processes_with_parent(parent);
    return static_cast<std::size_t>(std::count_if(children.begin(), children.end(), [](const auto& p) { return p.state == 'Z'; }));
}

std::vector<pid_t> children_of(pid_t parent) {
    std::vector<pid_t> alive;
    for (const ProcessEntry& child : processes_with_parent(parent)) {
        if (child.state != 'Z') alive.push_back(child.pid);
    }
    return alive;
}

}  // namespace vhostd::test
