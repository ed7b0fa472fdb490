#[=======================================================================[.rst:
MicroML
-------

Generate a verified C model header from a ``microml.yaml`` at build time.

Use it through the package (``MicroML_DIR`` is what ``microml cmake-dir``
prints)::

  cmake -S . -B build -DMicroML_DIR="$(microml cmake-dir)"

  find_package(MicroML REQUIRED)
  add_executable(app main.c)
  microml_add_model(app CONFIG microml.yaml)

or with a plain ``include("<dir>/MicroML.cmake")``.

.. command:: microml_add_model

  ::

    microml_add_model(<target>
                      CONFIG <microml.yaml>
                      [OUTPUT_DIR <dir> | IN_SOURCE]
                      [PYTHON <python>]
                      [SCOPE PRIVATE|PUBLIC|INTERFACE]
                      [VERBOSE]
                      [OUT_HEADER <var>] [OUT_TARGET <var>])

  Adds a build step that runs
  ``<python> -m microml_build build <yaml> --output <header> [--depfile <header>.d]``
  (train, convert, verify, write atomically only if an input changed; the
  depfile with Ninja only, see below), makes ``<target>`` compile after it,
  and adds the header's directory to ``<target>``'s include path.

  ``CONFIG``
    The ``microml.yaml``; relative to ``CMAKE_CURRENT_SOURCE_DIR``.
  ``OUTPUT_DIR``
    Where the header goes (relative to ``CMAKE_CURRENT_BINARY_DIR``).
    Default: ``${CMAKE_BINARY_DIR}/microml/<name>``, ``<name>`` being the
    yaml's ``name:``. The header keeps the file name of the yaml's
    ``output:``, so ``output: include/iris_model.h`` gives
    ``build/microml/iris/iris_model.h`` and sources write
    ``#include "iris_model.h"``. The default is one directory per model for
    the whole build tree, so targets in different directories that use the
    same yaml share one header and one generator run.
  ``IN_SOURCE``
    Write to the yaml's own ``output:`` path in the source tree instead (for
    projects that commit the header). Like any custom-command output, a
    ``clean`` deletes it and the next build writes it again.
  ``PYTHON``
    The host Python that has ``microml_build`` (see below).
  ``SCOPE``
    Scope of the include directory; default ``PRIVATE`` (``INTERFACE`` for
    interface libraries).
  ``VERBOSE``
    Pass ``-v`` to the generator.
  ``OUT_HEADER`` / ``OUT_TARGET``
    Set ``<var>`` to the header's absolute path / the name of the custom
    target that generates it (``microml_<name>``).

  Calling it again with the same yaml and output (another target sharing the
  model) reuses the first call's custom command and target: one command per
  output file, kept in a global property keyed by the output path. Two
  different yamls writing one output path are an error.

Which Python runs the generator
^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^

Always the *host* Python that has ``microml_build`` and scikit-learn, never
a cross or IDF environment. First found of: the ``PYTHON`` argument, the
``MICROML_PYTHON`` CMake (cache) variable, the ``MICROML_PYTHON`` environment
variable, ``find_package(Python3 COMPONENTS Interpreter)``. The last one runs
with ``CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER`` so that a cross toolchain file
that restricts program look-ups to its sysroot still finds the host Python.
Configure fails with the fix spelled out if ``import microml_build`` fails
in that Python. A Python taken from the environment or found by
``find_package`` is stored in the ``MICROML_PYTHON`` cache variable, so
re-runs of CMake started by the build use the same one.

How changes to the dataset and the training script reach the build
^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^

The yaml names the dataset and the training script; CMake only knows the
yaml. The default, chosen as the most robust (measured with CMake 3.25,
Ninja and Unix Makefiles):

1. **Configure time, every generator and CMake version:** the module runs
   ``<python> -m microml_build deps <yaml>`` and lists the printed files in the
   custom command's ``DEPENDS``, and adds the yaml to
   ``CMAKE_CONFIGURE_DEPENDS``. An edit of the yaml therefore re-runs CMake
   (it has to anyway: the header's file name is read from the yaml at
   configure time), which picks up a new dataset or script path. Being real
   ``DEPENDS``, this also orders a dataset that another custom command
   produces before training, which a depfile cannot do.
2. **Plus a depfile with Ninja (CMake >= 3.20, policy CMP0116):** the
   generator writes ``<header>.d`` naming the inputs it read, so Ninja tracks
   exactly the inputs of the last run. Not with Makefiles, although CMake
   >= 3.20 accepts ``DEPFILE`` there: the Makefile generator never drops a
   depfile's old entries, so after the yaml switches to another dataset and
   the old file is deleted, Make reruns the generator (and, see below,
   recompiles) on *every* build. Configure-time ``DEPENDS`` already cover
   what the depfile would.

The custom command also ``DEPENDS`` on ``microml_build/__init__.py`` of the
chosen Python (where the version lives), so upgrading the generator reruns
it; the generator's own stamp then decides whether the header changes.

The generator leaves an up-to-date header untouched (mtime kept). Ninja
restats the output, so a touched but unchanged input reruns the generator
once and recompiles nothing. Make has no restat: with other generators the
header's mtime is bumped after each successful run (else Make would rerun the
generator on every build), which costs one recompile of its includers after
a touch-only change. A stamp file as the command's primary output would avoid
that recompile but then a deleted header is never regenerated.
#]=======================================================================]

if(CMAKE_VERSION VERSION_LESS 3.13)
  message(FATAL_ERROR "MicroML.cmake needs CMake 3.13 or newer (this is ${CMAKE_VERSION}).")
endif()
include_guard(GLOBAL)

# Functions record the policies in force where they are defined, so this
# only affects this file, not the including project.
cmake_policy(VERSION 3.13...3.30)

set(MICROML_PYTHON "" CACHE FILEPATH
  "Host Python that has microml_build installed; runs the model generator")

# Validates <python> once per configure: `import microml_build, yaml` must
# work. Sets <out_init> to the path of microml_build/__init__.py.
function(_microml_check_python python out_init)
  get_property(checked GLOBAL PROPERTY "_MICROML_CHECKED_${python}")
  if(checked)
    set(${out_init} "${checked}" PARENT_SCOPE)
    return()
  endif()
  execute_process(
    COMMAND "${python}" -c [=[
import sys
try:
    import yaml, microml_build
except ImportError as e:
    sys.exit(f"{type(e).__name__}: {e}")
sys.stdout.write(microml_build.__file__)
]=]
    RESULT_VARIABLE rc
    OUTPUT_VARIABLE init_file
    ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    string(STRIP "${err}" err)
    message(FATAL_ERROR
      "MicroML: the Python that runs the model generator cannot import microml_build:\n"
      "  ${python}\n"
      "  ${err}\n"
      "Fix: install it into that Python:\n"
      "  \"${python}\" -m pip install microml-build\n"
      "or name a Python that has it with -DMICROML_PYTHON=/path/to/python (or "
      "PYTHON <exe> in microml_add_model, or the MICROML_PYTHON environment variable).")
  endif()
  file(TO_CMAKE_PATH "${init_file}" init_file)
  set_property(GLOBAL PROPERTY "_MICROML_CHECKED_${python}" "${init_file}")
  set(${out_init} "${init_file}" PARENT_SCOPE)
endfunction()

# Picks the host Python (see "Which Python runs the generator" above).
function(_microml_find_python explicit out_python)
  set(python "")
  if(explicit)
    set(python "${explicit}")
    set(origin "the PYTHON argument")
  elseif(MICROML_PYTHON)
    set(python "${MICROML_PYTHON}")
    set(origin "MICROML_PYTHON")
  elseif(DEFINED ENV{MICROML_PYTHON} AND NOT "$ENV{MICROML_PYTHON}" STREQUAL "")
    set(python "$ENV{MICROML_PYTHON}")
    set(origin "the MICROML_PYTHON environment variable")
  endif()

  if(python)
    if(NOT IS_ABSOLUTE "${python}")
      # A bare name such as python3: look it up on the host, never in a
      # cross toolchain's root path.
      find_program(_microml_python_path NAMES "${python}" NO_CACHE
        NO_CMAKE_FIND_ROOT_PATH)
      if(NOT _microml_python_path)
        message(FATAL_ERROR "MicroML: ${origin} names '${python}', which is not on PATH.")
      endif()
      set(python "${_microml_python_path}")
    elseif(NOT EXISTS "${python}")
      message(FATAL_ERROR "MicroML: ${origin} names '${python}', which does not exist.")
    endif()
    _microml_check_python("${python}" init)
    if(origin MATCHES "environment")
      # Keep it for re-runs of CMake from the build (an edited yaml), which
      # may not see the same environment.
      set(MICROML_PYTHON "${python}" CACHE FILEPATH
        "Host Python that has microml_build installed; runs the model generator" FORCE)
    endif()
  else()
    # A cross toolchain file often restricts program look-ups to its root
    # path (CMAKE_FIND_ROOT_PATH_MODE_PROGRAM ONLY); the generator is a
    # host program. This setting is local to the function.
    set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
    find_package(Python3 COMPONENTS Interpreter QUIET)
    if(NOT Python3_Interpreter_FOUND)
      message(FATAL_ERROR
        "MicroML: no host Python 3 found to run the model generator.\n"
        "Fix: pass -DMICROML_PYTHON=/path/to/python (a Python where "
        "'python -m pip install microml-build' was run).")
    endif()
    set(python "${Python3_EXECUTABLE}")
    _microml_check_python("${python}" init)
    set(MICROML_PYTHON "${python}" CACHE FILEPATH
      "Host Python that has microml_build installed; runs the model generator" FORCE)
  endif()
  set(${out_python} "${python}" PARENT_SCOPE)
endfunction()

# Whether to pass a depfile (see "How changes ... reach the build" above):
# Ninja on CMake >= 3.20 only.
function(_microml_use_depfile out)
  if(CMAKE_GENERATOR MATCHES "Ninja" AND NOT CMAKE_VERSION VERSION_LESS 3.20)
    set(${out} TRUE PARENT_SCOPE)
  else()
    set(${out} FALSE PARENT_SCOPE)
  endif()
endfunction()

function(microml_add_model target)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "IN_SOURCE;VERBOSE"
    "CONFIG;OUTPUT_DIR;PYTHON;SCOPE;OUT_HEADER;OUT_TARGET" "")
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "microml_add_model: unknown arguments: ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT TARGET "${target}")
    message(FATAL_ERROR "microml_add_model: '${target}' is not a target; "
      "call it after add_executable/add_library.")
  endif()
  if(NOT ARG_CONFIG)
    message(FATAL_ERROR "microml_add_model(${target}): CONFIG <microml.yaml> is required.")
  endif()
  if(ARG_IN_SOURCE AND ARG_OUTPUT_DIR)
    message(FATAL_ERROR "microml_add_model(${target}): give OUTPUT_DIR or IN_SOURCE, not both.")
  endif()
  get_target_property(type "${target}" TYPE)
  if(ARG_SCOPE)
    if(NOT ARG_SCOPE MATCHES "^(PRIVATE|PUBLIC|INTERFACE)$")
      message(FATAL_ERROR "microml_add_model(${target}): SCOPE must be PRIVATE, PUBLIC or INTERFACE.")
    endif()
    set(scope "${ARG_SCOPE}")
  elseif(type STREQUAL "INTERFACE_LIBRARY")
    set(scope INTERFACE)
  else()
    set(scope PRIVATE)
  endif()

  get_filename_component(yaml "${ARG_CONFIG}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  if(NOT EXISTS "${yaml}" OR IS_DIRECTORY "${yaml}")
    message(FATAL_ERROR "microml_add_model(${target}): CONFIG file not found: ${yaml}")
  endif()
  get_filename_component(yaml_dir "${yaml}" DIRECTORY)

  _microml_find_python("${ARG_PYTHON}" python)
  _microml_check_python("${python}" generator_init)

  # Edits of the yaml may rename the header or point at other inputs:
  # re-run CMake on them (see the top of this file).
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${yaml}")

  # The inputs, from the generator itself (which also validates the yaml and
  # reports a mistake with its key and fix).
  execute_process(
    COMMAND "${python}" -m microml_build deps "${yaml}"
    WORKING_DIRECTORY "${yaml_dir}"
    RESULT_VARIABLE rc
    OUTPUT_VARIABLE deps
    ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    string(STRIP "${err}" err)
    message(FATAL_ERROR "microml_add_model(${target}): '${python} -m microml_build deps' failed:\n${err}")
  endif()
  string(STRIP "${deps}" deps)
  string(REPLACE "\r" "" deps "${deps}")
  string(REPLACE ";" "\\;" deps "${deps}")
  string(REPLACE "\n" ";" deps "${deps}")
  set(inputs "${yaml}")
  foreach(dep IN LISTS deps)
    if(NOT dep STREQUAL "")
      file(TO_CMAKE_PATH "${dep}" dep)
      list(APPEND inputs "${dep}")
    endif()
  endforeach()
  list(APPEND inputs "${generator_init}")
  list(REMOVE_DUPLICATES inputs)

  # The model name and the header file name, read with the generator's own
  # Python (which has PyYAML).
  execute_process(
    COMMAND "${python}" -c [=[
import sys, yaml
path = sys.argv[1]
try:
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
except (OSError, yaml.YAMLError) as e:
    sys.exit(f"{path}: cannot read: {e}")
if not isinstance(doc, dict):
    sys.exit(f"{path}: expected a mapping with name: and output:")
for key in ("name", "output"):
    if not isinstance(doc.get(key), str) or not doc[key]:
        sys.exit(f"{path}: {key}: missing; MicroML.cmake needs it to name the header")
sys.stdout.write(doc["name"] + "\n" + doc["output"].replace("\\", "/"))
]=] "${yaml}"
    RESULT_VARIABLE rc
    OUTPUT_VARIABLE meta
    ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    string(STRIP "${err}" err)
    message(FATAL_ERROR "microml_add_model(${target}): ${err}")
  endif()
  string(REPLACE "\n" ";" meta "${meta}")
  list(GET meta 0 model)
  list(GET meta 1 yaml_output)
  get_filename_component(header_name "${yaml_output}" NAME)

  if(ARG_IN_SOURCE)
    get_filename_component(header "${yaml_output}" ABSOLUTE BASE_DIR "${yaml_dir}")
  else()
    if(ARG_OUTPUT_DIR)
      get_filename_component(out_dir "${ARG_OUTPUT_DIR}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_BINARY_DIR}")
    else()
      set(out_dir "${CMAKE_BINARY_DIR}/microml/${model}")
    endif()
    set(header "${out_dir}/${header_name}")
  endif()
  get_filename_component(header_dir "${header}" DIRECTORY)

  # One custom command per output file, whichever target asks first.
  string(MD5 key "${header}")
  get_property(known GLOBAL PROPERTY "_MICROML_OUTPUT_${key}")
  if(known)
    list(GET known 0 known_yaml)
    list(GET known 1 gen_target)
    if(NOT known_yaml STREQUAL yaml)
      message(FATAL_ERROR
        "microml_add_model(${target}): ${header} is already generated from\n"
        "  ${known_yaml}\nand cannot also come from\n  ${yaml}\n"
        "Fix: give one of them another OUTPUT_DIR.")
    endif()
  else()
    set(gen_target "microml_${model}")
    if(TARGET "${gen_target}")
      string(SUBSTRING "${key}" 0 8 short)
      set(gen_target "microml_${model}_${short}")
    endif()


    if(ARG_IN_SOURCE)
      # Keep build state out of the source tree.
      set(depfile "${CMAKE_CURRENT_BINARY_DIR}/CMakeFiles/${gen_target}.dir/${header_name}.d")
    else()
      set(depfile "${header}.d")
    endif()

    set(command "${python}" -m microml_build build "${yaml}" --output "${header}")
    if(ARG_VERBOSE)
      list(APPEND command -v)
    endif()
    _microml_use_depfile(use_depfile)
    set(depfile_args "")
    if(use_depfile)
      list(APPEND command --depfile "${depfile}")
      set(depfile_args DEPFILE "${depfile}")
    endif()
    # The generator keeps an up-to-date header's mtime. Ninja restats the
    # output and is content with that; Make (and the IDE generators) would
    # then see an output older than a touched input and rerun the command on
    # every build, so there the header's mtime is bumped after each run.
    set(touch_command "")
    if(NOT CMAKE_GENERATOR MATCHES "Ninja")
      set(touch_command COMMAND "${CMAKE_COMMAND}" -E touch_nocreate "${header}")
    endif()

    file(RELATIVE_PATH yaml_rel "${CMAKE_SOURCE_DIR}" "${yaml}")
    add_custom_command(
      OUTPUT "${header}"
      COMMAND ${command}
      ${touch_command}
      DEPENDS ${inputs}
      ${depfile_args}
      WORKING_DIRECTORY "${yaml_dir}"
      COMMENT "MicroML: generating ${header_name} from ${yaml_rel}"
      VERBATIM)
    add_custom_target("${gen_target}" DEPENDS "${header}")
    set_property(GLOBAL PROPERTY "_MICROML_OUTPUT_${key}" "${yaml};${gen_target}")
  endif()

  target_include_directories("${target}" ${scope} "${header_dir}")
  add_dependencies("${target}" "${gen_target}")

  if(ARG_OUT_HEADER)
    set(${ARG_OUT_HEADER} "${header}" PARENT_SCOPE)
  endif()
  if(ARG_OUT_TARGET)
    set(${ARG_OUT_TARGET} "${gen_target}" PARENT_SCOPE)
  endif()
endfunction()
