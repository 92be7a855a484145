// The state directory's files and lock, in a temporary directory of the test's own.
#include "acme/state_directory.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

namespace vhostd::acme {
namespace {

namespace fs = std::filesystem;

class StateDirectoryTest : public ::testing::Test {
protected:
    fs::path directory = fs::temp_directory_path() / ("vhostd-acme-test-" + std::to_string(::getpid()) + "-" +
                                                      std::to_string(std::random_device{}()));
    void SetUp() override { fs::create_directories(directory); }
    void TearDown() override { fs::remove_all(directory); }
};

TEST_F(StateDirectoryTest, APrivateFileIsWrittenWholeWithMode0600AndNothingBeside) {
    const fs::path path = directory / "account.key";
    write_private_file(path, "first");
    write_private_file(path, "second, longer");
    EXPECT_EQ(read_private_file(path), "second, longer");
    struct stat status {};
    ASSERT_EQ(::stat(path.c_str(), &status), 0);
    EXPECT_EQ(status.st_mode & 0777, 0600u);
    EXPECT_EQ(std::distance(fs::directory_iterator(directory), fs::directory_iterator()), 1) << "no temporary file left";
}

TEST_F(StateDirectoryTest, AMissingFileIsNoneAndAnUnwritableDirectoryNamesThePath) {
    EXPECT_EQ(read_private_file(directory / "missing.pem"), std::nullopt);
    try {
        write_private_file(directory / "no-such-dir" / "cert.pem", "secret bytes");
        FAIL() << "wrote into a directory that does not exist";
    } catch (const std::system_error& e) {
        EXPECT_NE(std::string(e.what()).find("cert.pem"), std::string::npos) << e.what();
        EXPECT_EQ(std::string(e.what()).find("secret"), std::string::npos) << "an error never shows the contents";
    }
}

TEST_F(StateDirectoryTest, OnlyOneHolderOfTheLockAtATime) {
    std::string problem;
    const fs::path state = directory / "acme";
    {
        auto first = StateLock::acquire(state, problem);
        ASSERT_TRUE(first) << problem;
        EXPECT_FALSE(StateLock::acquire(state, problem));
        EXPECT_EQ(problem, "the ACME state directory " + state.string() + " is in use by another vhostd (pid " +
                               std::to_string(::getpid()) + ")");
        struct stat status {};
        ASSERT_EQ(::stat(state.c_str(), &status), 0);
        EXPECT_EQ(status.st_mode & 0777, 0700u);
    }
    EXPECT_TRUE(StateLock::acquire(state, problem)) << "released with its holder: " << problem;
}

}  // namespace
}  // namespace vhostd::acme
