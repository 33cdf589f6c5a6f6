# SPDX-License-Identifier: Apache-2.0
# traverse_sanitizers: instrumentation chosen with -DTRAVERSE_SANITIZE=address,undefined (or thread).
add_library(traverse_sanitizers INTERFACE)
if(TRAVERSE_SANITIZE)
  target_compile_options(traverse_sanitizers INTERFACE -fsanitize=${TRAVERSE_SANITIZE}
                                                       -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(traverse_sanitizers INTERFACE -fsanitize=${TRAVERSE_SANITIZE})
endif()
