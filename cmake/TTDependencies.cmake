# One IMPORTED target per dependency, pkg-config first, the package's own
# CMake config where Debian ships no .pc file.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

pkg_check_modules(PQ       REQUIRED IMPORTED_TARGET libpq)
pkg_check_modules(HIREDIS  REQUIRED IMPORTED_TARGET hiredis)
pkg_check_modules(RABBITMQ REQUIRED IMPORTED_TARGET librabbitmq)
pkg_check_modules(CJSON    REQUIRED IMPORTED_TARGET libcjson)
pkg_check_modules(JWT      REQUIRED IMPORTED_TARGET libjwt)
pkg_check_modules(CRYPTO   REQUIRED IMPORTED_TARGET libcrypto)
pkg_check_modules(CMOCKA   IMPORTED_TARGET cmocka)

find_package(nng CONFIG REQUIRED)

# Debian's civetweb CMake config references a /usr/bin/civetweb that the -dev
# package does not ship, so the target is made here from the header and library.
find_path(CIVETWEB_INCLUDE_DIR civetweb.h REQUIRED)
find_library(CIVETWEB_LIBRARY civetweb REQUIRED)
add_library(civetweb::civetweb UNKNOWN IMPORTED)
set_target_properties(civetweb::civetweb PROPERTIES
  IMPORTED_LOCATION ${CIVETWEB_LIBRARY}
  INTERFACE_INCLUDE_DIRECTORIES ${CIVETWEB_INCLUDE_DIR})
