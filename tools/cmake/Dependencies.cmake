# SPDX-License-Identifier: Apache-2.0
# Third-party dependencies, all from Debian packages (tools/setup/install-deps.sh installs them).
find_package(Threads REQUIRED)
find_package(OpenSSL 3 REQUIRED)
find_package(Boost 1.81 REQUIRED)
find_package(yaml-cpp REQUIRED)
# prometheus-cpp::core and ::pull (its config also finds civetweb, whose CivetCallbacks the
# metrics server uses for /healthz and /readyz).
find_package(prometheus-cpp CONFIG REQUIRED)
if(TRAVERSE_BUILD_TESTS)
  find_package(doctest REQUIRED)
  include(doctest)  # doctest_discover_tests
endif()
