# find_package(MicroML) entry point. Point CMake here with
#   -DMicroML_DIR="$(microml cmake-dir)"
# (or add that directory to CMAKE_PREFIX_PATH). Defines microml_add_model();
# see MicroML.cmake for the arguments and how inputs are tracked.

include("${CMAKE_CURRENT_LIST_DIR}/MicroML.cmake")

set(MicroML_FOUND TRUE)
