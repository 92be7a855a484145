#include "workers/upstream/app_command.hpp"

#include <gtest/gtest.h>

using vhostd::upstream::expand_placeholders;

TEST(AppCommand, PlaceholdersAreReplacedWhereverTheyStand) {
    const auto expanded = expand_placeholders({"php", "-S", "127.0.0.1:$PORT", "--port=${PORT}", "$PORTS", "${PORT", "$", "$$PORT"},
                                              {{"PORT", "8123"}});
    const std::vector<std::string> expected = {"php", "-S", "127.0.0.1:8123", "--port=8123", "$PORTS", "${PORT", "$", "$8123"};
    EXPECT_EQ(expanded, expected);
}

TEST(AppCommand, UnknownNamesAreLeftAlone) {
    const auto expanded = expand_placeholders({"echo", "$HOME", "$SOCKET"}, {{"SOCKET", "/tmp/a.sock"}});
    const std::vector<std::string> expected = {"echo", "$HOME", "/tmp/a.sock"};
    EXPECT_EQ(expanded, expected);
}
