# Run at every build (cmake -P): writes OUTPUT with the commit the tree is at, touching it only
# when that changes, so that --version names the commit without rebuilding anything else.
execute_process(COMMAND git -C "${SOURCE_DIR}" describe --always --dirty --abbrev=12
                OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE failed)
if(failed OR commit STREQUAL "")
  set(commit "unknown")  # a source tarball: no git history
endif()
file(CONFIGURE OUTPUT "${OUTPUT}" CONTENT "#pragma once\n#define VHOSTD_GIT_COMMIT \"${commit}\"\n")
