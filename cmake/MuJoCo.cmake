# mujoco::mujoco: the MuJoCo 3 C library that scripts/install_mujoco.sh
# unpacks from the official wheel, at the version scripts/mujoco.version pins.
# ROBOFLEET_MUJOCO_DIR points elsewhere (a MuJoCo built from source, say, with
# lib/ and include/ below it). Debian's MuJoCo 2.2.2 is never taken: only
# bench/mujoco_versions links it, to compare the two.
file(STRINGS "${PROJECT_SOURCE_DIR}/scripts/mujoco.version" version_line REGEX "^version ")
string(REPLACE "version " "" ROBOFLEET_MUJOCO_VERSION "${version_line}")
set(ROBOFLEET_MUJOCO_DIR "/opt/mujoco-${ROBOFLEET_MUJOCO_VERSION}" CACHE PATH
  "the MuJoCo 3 install (lib/, include/) RoboFleet builds against")

find_path(ROBOFLEET_MUJOCO_INCLUDE_DIR mujoco/mujoco.h
  PATHS "${ROBOFLEET_MUJOCO_DIR}/include" NO_DEFAULT_PATH NO_CACHE)
find_library(ROBOFLEET_MUJOCO_LIBRARY NAMES "libmujoco.so.${ROBOFLEET_MUJOCO_VERSION}" mujoco
  PATHS "${ROBOFLEET_MUJOCO_DIR}/lib" NO_DEFAULT_PATH NO_CACHE)
if(NOT ROBOFLEET_MUJOCO_INCLUDE_DIR OR NOT ROBOFLEET_MUJOCO_LIBRARY)
  message(FATAL_ERROR "MuJoCo ${ROBOFLEET_MUJOCO_VERSION} is not in ${ROBOFLEET_MUJOCO_DIR}: "
    "run scripts/install_mujoco.sh (scripts/setup.sh does), or set ROBOFLEET_MUJOCO_DIR")
endif()

# the header's version, 3017000 for 3.17.0: anything older than 3 is refused here
file(STRINGS "${ROBOFLEET_MUJOCO_INCLUDE_DIR}/mujoco/mujoco.h" header_line
  REGEX "^#define mjVERSION_HEADER [0-9]+")
string(REGEX REPLACE ".* ([0-9]+)$" "\\1" mujoco_header_version "${header_line}")
if(NOT mujoco_header_version OR mujoco_header_version LESS 3000000)
  message(FATAL_ERROR "${ROBOFLEET_MUJOCO_INCLUDE_DIR}/mujoco/mujoco.h is not MuJoCo 3 "
    "(mjVERSION_HEADER ${mujoco_header_version}); run scripts/install_mujoco.sh")
endif()
message(STATUS "MuJoCo: ${ROBOFLEET_MUJOCO_LIBRARY} (header ${mujoco_header_version})")

add_library(mujoco::mujoco SHARED IMPORTED)
set_target_properties(mujoco::mujoco PROPERTIES
  IMPORTED_LOCATION "${ROBOFLEET_MUJOCO_LIBRARY}"
  IMPORTED_SONAME "libmujoco.so.${ROBOFLEET_MUJOCO_VERSION}"
  INTERFACE_INCLUDE_DIRECTORIES "${ROBOFLEET_MUJOCO_INCLUDE_DIR}")
