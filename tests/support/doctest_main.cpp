// SPDX-License-Identifier: Apache-2.0
// The one doctest main every unit-test binary links.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
