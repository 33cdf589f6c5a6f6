# SPDX-License-Identifier: Apache-2.0
# traverse_warnings: the warning set every target compiles with.
add_library(traverse_warnings INTERFACE)
target_compile_options(traverse_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow
                                                   -Wnon-virtual-dtor -Wold-style-cast)
if(TRAVERSE_WARNINGS_AS_ERRORS)
  target_compile_options(traverse_warnings INTERFACE -Werror)
endif()
