// Scenario: a site served by vhostd-static from a directory, checked with curl and raw bytes:
// types and validators, conditional requests, ranges, index files, large files, and paths
// that try to leave the root.
#include "tests/integration/support/configs.hpp"
#include "tests/integration/support/http_client.hpp"
#include "tests/integration/support/vhostd_process.hpp"

#include <gtest/gtest.h>

#include <sys/socket.h>

#include <filesystem>
#include <fstream>
#include <regex>

using namespace vhostd::test;
namespace fs = std::filesystem;

namespace {

void write_file(const fs::path& path, const std::string& content) {
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << content;
}

// A site root with an index, a subdirectory, a large file, a dot file, and beside the root a
// secret that no request may reach, with a symbolic link inside the root that points at it.
struct StaticSite {
    TempDir dir;
    std::uint16_t port = free_port();
    fs::path root = dir.path() / "public";
    std::string large;

    StaticSite() {
        write_file(root / "index.html", "<h1>home</h1>\n");
        write_file(root / "docs" / "index.html", "<h1>docs</h1>\n");
        write_file(root / "100% a" / "index.html", "<h1>percent</h1>\n");
        write_file(root / "style.css", "body { color: red }\n");
        write_file(root / "a b.txt", "spaced\n");
        write_file(root / ".env", "DOT_FILE_CONTENT\n");
        write_file(dir.path() / "secret.txt", "TOP_SECRET_CONTENT\n");
        fs::create_symlink(dir.path() / "secret.txt", root / "link-out.txt");
        fs::create_symlink("style.css", root / "link-in.css");
        large.reserve(8 << 20);
        for (int i = 0; large.size() < (8u << 20); ++i) large += "line " + std::to_string(i) + " of a large file\n";
        write_file(root / "large.bin", large);
    }

    std::string config(const std::string& program) const {
        return listen_on(port) + "[sites.files]\nhosts = [\"files.example\"]\n" + program + "\nworkers = 1\n";
    }

    // curl against the site; returns {exit code, headers and body as curl printed them}.
    std::pair<int, std::string> curl(const std::string& path, std::vector<std::string> extra = {}) const {
        std::vector<std::string> argv{"/usr/bin/curl", "-sS", "-i", "--max-time", "10", "-H", "Host: files.example"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        argv.push_back("http://127.0.0.1:" + std::to_string(port) + path);
        return run_command(argv);
    }
};

std::string header_value(const std::string& response, const std::string& name) {
    const std::regex pattern("\\r\\n" + name + ": ([^\\r]*)\\r\\n", std::regex::icase);
    std::smatch match;
    return std::regex_search(response, match, pattern) ? match[1].str() : "";
}

// A static site's answers carry no worker pid, so wait for any 200 (or 404 for a missing root
// file), not for wait_until_serving's pids.
bool serving(std::uint16_t port) {
    return wait_until([&] {
        const auto answer = try_get(port, "files.example");
        return answer && answer->status() == 200;
    });
}

std::string raw_get(std::uint16_t port, const std::string& target) {
    return round_trip(port, "GET " + target + " HTTP/1.1\r\nHost: files.example\r\nConnection: close\r\n\r\n").response;
}

}  // namespace

TEST(StaticSite, ServesFilesWithTypesValidatorsAndIndexes) {
    StaticSite site;
    VhostdProcess vhostd(site.dir, site.config("static = \"public\""));
    ASSERT_TRUE(serving(site.port)) << vhostd.log();

    auto [code, home] = site.curl("/");
    ASSERT_EQ(code, 0) << home;
    EXPECT_NE(home.find("HTTP/1.1 200"), std::string::npos) << home;
    EXPECT_NE(home.find("<h1>home</h1>"), std::string::npos);
    EXPECT_EQ(header_value(home, "Content-Type"), "text/html; charset=utf-8");
    EXPECT_EQ(header_value(home, "Accept-Ranges"), "bytes");
    EXPECT_FALSE(header_value(home, "ETag").empty());
    EXPECT_FALSE(header_value(home, "Last-Modified").empty());

    EXPECT_EQ(header_value(site.curl("/style.css").second, "Content-Type"), "text/css; charset=utf-8");
    EXPECT_NE(site.curl("/a%20b.txt").second.find("spaced"), std::string::npos);
    EXPECT_NE(site.curl("/link-in.css").second.find("color: red"), std::string::npos) << "a link inside the root is fine";
    EXPECT_NE(site.curl("/docs/").second.find("<h1>docs</h1>"), std::string::npos);
    const std::string redirect = site.curl("/docs?x=1").second;
    EXPECT_NE(redirect.find("HTTP/1.1 301"), std::string::npos) << redirect;
    EXPECT_EQ(header_value(redirect, "Location"), "/docs/?x=1");
    EXPECT_EQ(header_value(site.curl("/100%25%20a").second, "Location"), "/100%25%20a/") << "the client's encoding is kept";
    EXPECT_NE(site.curl("/100%25%20a/").second.find("<h1>percent</h1>"), std::string::npos);
    EXPECT_NE(site.curl("/missing.html").second.find("HTTP/1.1 404"), std::string::npos);
    EXPECT_NE(site.curl("/", {"-X", "POST", "--data", "x"}).second.find("HTTP/1.1 405"), std::string::npos);
    const std::string with_body = site.curl("/style.css", {"-X", "GET", "--data", "x"}).second;
    EXPECT_NE(with_body.find("color"), std::string::npos) << "a body is read and dropped: " << with_body;
    write_file(site.dir.path() / "big.bin", std::string(1024 * 1024 + 1, 'x'));
    const std::string too_large = site.curl("/", {"--data-binary", "@" + (site.dir.path() / "big.bin").string()}).second;
    EXPECT_NE(too_large.find("HTTP/1.1 413"), std::string::npos) << "past max_body";
    const std::string put = site.curl("/", {"-X", "DELETE"}).second;
    EXPECT_NE(put.find("HTTP/1.1 405"), std::string::npos) << put;
    EXPECT_EQ(header_value(put, "Allow"), "GET, HEAD");

    const std::string head = site.curl("/style.css", {"-I"}).second;
    EXPECT_EQ(header_value(head, "Content-Length"), "20");
    EXPECT_EQ(head.find("color"), std::string::npos) << "HEAD has no body";
}

TEST(StaticSite, ConditionalRequestsAndRanges) {
    StaticSite site;
    VhostdProcess vhostd(site.dir, site.config("command = [\"vhostd-static\", \"--root\", \"public\"]"));
    ASSERT_TRUE(serving(site.port)) << vhostd.log();

    const std::string first = site.curl("/style.css").second;
    const std::string tag = header_value(first, "ETag");
    const std::string modified = header_value(first, "Last-Modified");
    ASSERT_FALSE(tag.empty()) << first;
    EXPECT_NE(site.curl("/style.css", {"-H", "If-None-Match: " + tag}).second.find("HTTP/1.1 304"), std::string::npos);
    EXPECT_NE(site.curl("/style.css", {"-H", "If-None-Match: \"other\""}).second.find("HTTP/1.1 200"), std::string::npos);
    EXPECT_NE(site.curl("/style.css", {"-H", "If-Modified-Since: " + modified}).second.find("HTTP/1.1 304"), std::string::npos);
    EXPECT_NE(site.curl("/style.css", {"-H", "If-Match: \"other\""}).second.find("HTTP/1.1 412"), std::string::npos);

    const std::string partial = site.curl("/large.bin", {"-r", "100-199"}).second;
    EXPECT_NE(partial.find("HTTP/1.1 206"), std::string::npos) << partial.substr(0, 300);
    EXPECT_EQ(header_value(partial, "Content-Range"), "bytes 100-199/" + std::to_string(site.large.size()));
    EXPECT_EQ(partial.substr(partial.find("\r\n\r\n") + 4), site.large.substr(100, 100));
    const std::string tail = site.curl("/large.bin", {"-r", "-10"}).second;
    EXPECT_EQ(tail.substr(tail.find("\r\n\r\n") + 4), site.large.substr(site.large.size() - 10));
    const std::string beyond = site.curl("/style.css", {"-r", "500-"}).second;
    EXPECT_NE(beyond.find("HTTP/1.1 416"), std::string::npos);
    EXPECT_EQ(header_value(beyond, "Content-Range"), "bytes */20");
    const std::string head = site.curl("/large.bin", {"-I", "-r", "0-9"}).second;
    EXPECT_NE(head.find("HTTP/1.1 200"), std::string::npos) << "Range applies to GET only:\n" << head;
    EXPECT_EQ(header_value(head, "Content-Length"), std::to_string(site.large.size()));
    const std::string stale = site.curl("/large.bin", {"-r", "0-9", "-H", "If-Range: \"stale\""}).second;
    EXPECT_NE(stale.find("HTTP/1.1 200"), std::string::npos) << "If-Range that does not match: the whole file";
}

TEST(StaticSite, LargeFilesArriveWholeOverKeepAlive) {
    StaticSite site;
    VhostdProcess vhostd(site.dir, site.config("static = \"public\""));
    ASSERT_TRUE(serving(site.port)) << vhostd.log();
    TempDir out;
    const std::string first = (out.path() / "first").string();
    const std::string second = (out.path() / "second").string();
    const std::string url = "http://127.0.0.1:" + std::to_string(site.port) + "/large.bin";
    // Two transfers on one connection: the sendfile path leaves the connection usable.
    const auto [code, output] = run_command({"/usr/bin/curl", "-sS", "--max-time", "20", "-H", "Host: files.example", "-o", first,
                                             url, "-o", second, url, "-w", "%{num_connects} "});
    ASSERT_EQ(code, 0) << output;
    EXPECT_EQ(output, "1 0 ") << "the second transfer reused the connection";
    for (const std::string& path : {first, second}) {
        std::ifstream in(path, std::ios::binary);
        const std::string got((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        EXPECT_EQ(got.size(), site.large.size());
        EXPECT_TRUE(got == site.large);
    }
}

// A client that resets mid-download makes sendfile fail with EPIPE, which raises SIGPIPE
// unless the worker ignores it: the worker must survive and keep serving.
TEST(StaticSite, AClientThatResetsMidDownloadDoesNotKillTheWorker) {
    StaticSite site;
    VhostdProcess vhostd(site.dir, site.config("static = \"public\""));
    ASSERT_TRUE(serving(site.port)) << vhostd.log();
    const auto workers = vhostd.workers();
    ASSERT_EQ(workers.size(), 1u);
    for (int i = 0; i < 3; ++i) {
        Connection connection(site.port);
        connection.send("GET /large.bin HTTP/1.1\r\nHost: files.example\r\n\r\n");
        connection.read_until([](const std::string& received) { return received.size() > 100'000; });
        const linger reset{1, 0};  // close with RST, leaving most of the file unsent
        ::setsockopt(connection.fd(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    }
    EXPECT_EQ(get(site.port, "files.example").status(), 200);
    EXPECT_EQ(vhostd.workers(), workers) << vhostd.log();
    EXPECT_EQ(vhostd.log().find("killed by signal"), std::string::npos) << vhostd.log();
}

TEST(StaticSite, NoPathLeavesTheRoot) {
    StaticSite site;
    VhostdProcess vhostd(site.dir, site.config("static = \"public\""));
    ASSERT_TRUE(serving(site.port)) << vhostd.log();
    for (const std::string target : {"/../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E%2Fsecret.txt", "/docs/../../secret.txt",
                                     "/docs/%2e%2e/%2e%2e/secret.txt", "/./.././secret.txt", "/link-out.txt", "/.env",
                                     "/%2eenv", "/docs/..%2f..%2fsecret.txt", "/secret.txt%00.html",
                                     "http://files.example/../secret.txt"}) {
        const std::string answer = raw_get(site.port, target);
        EXPECT_EQ(answer.find("TOP_SECRET_CONTENT"), std::string::npos) << target;
        EXPECT_EQ(answer.find("DOT_FILE_CONTENT"), std::string::npos) << target;
        EXPECT_TRUE(answer.starts_with("HTTP/1.1 404") || answer.starts_with("HTTP/1.1 400")) << target << "\n" << answer;
    }
}

TEST(StaticSite, ConfigErrorsNameTheKey) {
    TempDir dir;
    const std::string config_path = (dir.path() / "vhostd.toml").string();
    std::ofstream(config_path) << listen_on(free_port())
                               << "[sites.a]\nhosts = [\"a.example\"]\nstatic = \"nowhere\"\n"
                                  "[sites.b]\nhosts = [\"b.example\"]\nstatic = \".\"\ncommand = [\"x\"]\n"
                                  "[sites.c]\nhosts = [\"c.example\"]\nruntime = \"java\"\ncommand = [\"x\"]\n";
    const auto [code, output] = run_command({vhostd_binary, "--check", "-c", config_path});
    EXPECT_NE(code, 0);
    EXPECT_NE(output.find("sites.a.static: '"), std::string::npos) << output;
    EXPECT_NE(output.find("is not a directory"), std::string::npos) << output;
    EXPECT_NE(output.find("sites.b: command, static and upstream are alternatives"), std::string::npos) << output;
    EXPECT_NE(output.find("sites.c.runtime: must be \"node\" or \"native\""), std::string::npos) << output;
}
