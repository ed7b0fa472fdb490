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

or with a plain ``include("<dir>/MicroML.cmake")``. Needs CMake 3.19 or newer.

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
  ``<python> -m microml_build build <yaml> --output <header> [--depfile <header>.d | --touch <stamp>]``
  (train, convert, verify, write atomically only if an input changed; see
  below for the depfile and the stamp), makes ``<target>`` compile after it,
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
    Write to the yaml's own ``output:`` path instead (for projects that
    commit the header; it may lie outside the yaml's folder). Like any
    generated file, a ``clean`` deletes it and the next build writes it again.
  ``PYTHON``
    The host Python that has ``microml_build`` (see below).
  ``SCOPE``
    Scope of the include directory; default ``PRIVATE`` (``INTERFACE`` for
    interface libraries).
  ``VERBOSE``
    Pass ``-v`` to the generator.
  ``OUT_HEADER`` / ``OUT_TARGET``
    Set ``<var>`` to the header's absolute path / the name of the custom
    target that generates it (``microml_<name>``). Both depend on the yaml,
    so a call that asks for them reads its yaml at once (see below).

  Calling it again with the same yaml and output (another target sharing the
  model) reuses the first call's custom command and target: one command per
  output file, kept in a global property keyed by the output path. Two
  different yamls writing one output path are an error.

One Python run per configure
^^^^^^^^^^^^^^^^^^^^^^^^^^^^

The yaml says the model's name, the header's file name and the inputs; only
the generator reads it (``microml deps``). ``microml_add_model`` records its
arguments, and at the end of the top-level ``CMakeLists.txt``
(``cmake_language(DEFER)``) one ``<python> -m microml_build deps --json
<yaml>...`` describes every model of the project, after which the build
steps are added. A call with ``OUT_HEADER`` or ``OUT_TARGET`` needs the
answer at once and resolves the models recorded so far right there (one
more Python run). 100 models configure in seconds, not minutes
(``benchmarks/cmake_configure.py``).

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

How changes to the inputs reach the build
^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^

Inputs are the yaml, the dataset, the training script, ``train.inputs`` and
the project's Python modules the training imports, as ``microml deps``
lists them. Measured with CMake 3.25, Ninja and Unix Makefiles:

- **Ninja:** the custom command's ``OUTPUT`` is the header, its ``DEPENDS``
  the files the yaml names, and the generator writes ``<header>.d``, a
  depfile of every input it read (imported modules included). The generator
  keeps the header's bytes and mtime when the model did not change (a
  comment in ``train.py``, a touched CSV); Ninja restats the output, so
  nothing recompiles. An edit of the yaml re-runs CMake
  (``CMAKE_CONFIGURE_DEPENDS``), which picks up a new dataset or script path.
- **Makefiles** (and other generators): Make has no restat, and the
  Makefile generator never forgets a depfile's old entries. So the command's
  ``OUTPUT`` is a stamp file in ``CMakeFiles/`` whose mtime the generator
  renews after every successful run (``--touch``), the header is a
  ``BYPRODUCT`` whose mtime only moves when its bytes do, and ``DEPENDS``
  lists every input plus the header's folder (a deleted header changes the
  folder, so it is written again). The script and the imported modules are
  ``CMAKE_CONFIGURE_DEPENDS`` as well: an edit of the script may import
  other modules, and the next configure lists them.

Being real ``DEPENDS``, the files the yaml names also order a dataset that
another custom command produces before training. The custom command also
``DEPENDS`` on ``microml_build/__init__.py`` of the chosen Python (where the
version lives), so upgrading the generator reruns it; the generator's own
stamp then decides whether the header changes.
#]=======================================================================]

if(CMAKE_VERSION VERSION_LESS 3.19)
  message(FATAL_ERROR "MicroML.cmake needs CMake 3.19 or newer (this is ${CMAKE_VERSION}).")
endif()
include_guard(GLOBAL)

# Functions record the policies in force where they are defined, so this
# only affects this file, not the including project.
cmake_policy(VERSION 3.19...3.30)

set(MICROML_PYTHON "" CACHE FILEPATH
  "Host Python that has microml_build installed; runs the model generator")

# A path a user typed (MICROML_PYTHON=C:\Python312\python.exe) as CMake
# writes paths: with / on Windows. Elsewhere a backslash is part of a name.
# (_MICROML_TEST_WINDOWS lets the tests take the Windows branch on Linux.)
function(_microml_host_path path out)
  if(CMAKE_HOST_WIN32 OR _MICROML_TEST_WINDOWS)
    string(REPLACE "\\" "/" path "${path}")
  endif()
  set(${out} "${path}" PARENT_SCOPE)
endfunction()

# Fails configure with the fix when <python> cannot import microml_build.
function(_microml_check_python python)
  execute_process(
    COMMAND "${python}" -c [=[
import sys
try:
    import yaml, microml_build
except ImportError as e:
    sys.exit(f"{type(e).__name__}: {e}")
]=]
    RESULT_VARIABLE rc
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
    _microml_host_path("${python}" python)
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
    set(MICROML_PYTHON "${python}" CACHE FILEPATH
      "Host Python that has microml_build installed; runs the model generator" FORCE)
  endif()
  set(${out_python} "${python}" PARENT_SCOPE)
endfunction()

# Ninja (see "How changes to the inputs reach the build" above).
function(_microml_use_ninja out)
  if(CMAKE_GENERATOR MATCHES "Ninja")
    set(${out} TRUE PARENT_SCOPE)
  else()
    set(${out} FALSE PARENT_SCOPE)
  endif()
endfunction()

# The strings of JSON array <member...> of <json> as a CMake list (a `;` in a
# path is escaped so the path stays one element).
function(_microml_json_list out json)
  string(JSON n LENGTH "${json}" ${ARGN})
  set(items "")
  if(n GREATER 0)
    math(EXPR last "${n} - 1")
    foreach(i RANGE ${last})
      string(JSON item GET "${json}" ${ARGN} ${i})
      string(REPLACE ";" "\\;" item "${item}")
      list(APPEND items "${item}")
    endforeach()
  endif()
  set(${out} "${items}" PARENT_SCOPE)
endfunction()

# Stores what `microml deps --json <yamls>` says about each yaml (in the order
# given) in global properties _MICROML_DESC_<md5 of python and yaml>_{NAME,
# OUTPUT,INPUTS,NAMED,MODULES,SCRIPT} and the generator's __init__.py in
# _MICROML_INIT_<md5 of python>.
function(_microml_store_description python json yamls)
  string(MD5 pkey "${python}")
  string(JSON init GET "${json}" microml_build module)
  set_property(GLOBAL PROPERTY "_MICROML_INIT_${pkey}" "${init}")
  string(JSON n LENGTH "${json}" configs)
  if(n EQUAL 0)
    return()
  endif()
  math(EXPR last "${n} - 1")
  foreach(k RANGE ${last})
    string(JSON entry GET "${json}" configs ${k})
    list(GET yamls ${k} yaml)
    string(JSON name GET "${entry}" name)
    string(JSON output GET "${entry}" output)
    _microml_json_list(inputs "${entry}" inputs)
    _microml_json_list(modules "${entry}" modules)
    _microml_json_list(named "${entry}" named)
    string(JSON script GET "${entry}" script)
    if(script STREQUAL "null" OR script STREQUAL "")
      set(script "")
    endif()
    string(MD5 key "${python}|${yaml}")
    set_property(GLOBAL PROPERTY "_MICROML_DESC_${key}_NAME" "${name}")
    set_property(GLOBAL PROPERTY "_MICROML_DESC_${key}_OUTPUT" "${output}")
    set_property(GLOBAL PROPERTY "_MICROML_DESC_${key}_INPUTS" "${inputs}")
    set_property(GLOBAL PROPERTY "_MICROML_DESC_${key}_MODULES" "${modules}")
    set_property(GLOBAL PROPERTY "_MICROML_DESC_${key}_NAMED" "${named}")
    set_property(GLOBAL PROPERTY "_MICROML_DESC_${key}_SCRIPT" "${script}")
    set_property(GLOBAL PROPERTY "_MICROML_DESC_${key}" TRUE)
  endforeach()
endfunction()

# One `deps --json` run per Python for every recorded model not yet described.
function(_microml_describe_pending first last)
  set(pythons "")
  foreach(i RANGE ${first} ${last})
    get_property(python GLOBAL PROPERTY "_MICROML_REQ_${i}_PYTHON")
    get_property(yaml GLOBAL PROPERTY "_MICROML_REQ_${i}_YAML")
    string(MD5 key "${python}|${yaml}")
    get_property(known GLOBAL PROPERTY "_MICROML_DESC_${key}")
    string(MD5 pkey "${python}")
    if(NOT known AND NOT yaml IN_LIST _yamls_${pkey})
      list(APPEND _yamls_${pkey} "${yaml}")
      if(NOT python IN_LIST pythons)
        list(APPEND pythons "${python}")
      endif()
    endif()
  endforeach()
  foreach(python IN LISTS pythons)
    string(MD5 pkey "${python}")
    execute_process(
      COMMAND "${python}" -m microml_build deps --json ${_yamls_${pkey}}
      RESULT_VARIABLE rc
      OUTPUT_VARIABLE json
      ERROR_VARIABLE err)
    if(NOT rc EQUAL 0)
      _microml_check_python("${python}")   # not installed there: say so, with the fix
      string(STRIP "${err}" err)
      message(FATAL_ERROR "MicroML: '${python} -m microml_build deps' failed:\n${err}")
    endif()
    _microml_store_description("${python}" "${json}" "${_yamls_${pkey}}")
  endforeach()
endfunction()

# Adds the build step of request <i> (or reuses the one for its header).
function(_microml_apply i)
  foreach(field TARGET YAML PYTHON OUTPUT_DIR IN_SOURCE VERBOSE SCOPE)
    get_property(${field} GLOBAL PROPERTY "_MICROML_REQ_${i}_${field}")
  endforeach()
  set(target "${TARGET}")
  set(yaml "${YAML}")
  set(python "${PYTHON}")
  string(MD5 key "${python}|${yaml}")
  string(MD5 pkey "${python}")
  get_property(model GLOBAL PROPERTY "_MICROML_DESC_${key}_NAME")
  get_property(yaml_output GLOBAL PROPERTY "_MICROML_DESC_${key}_OUTPUT")
  get_property(inputs GLOBAL PROPERTY "_MICROML_DESC_${key}_INPUTS")
  get_property(modules GLOBAL PROPERTY "_MICROML_DESC_${key}_MODULES")
  get_property(named GLOBAL PROPERTY "_MICROML_DESC_${key}_NAMED")
  get_property(generator_init GLOBAL PROPERTY "_MICROML_INIT_${pkey}")
  get_filename_component(header_name "${yaml_output}" NAME)
  get_filename_component(yaml_dir "${yaml}" DIRECTORY)

  if(IN_SOURCE)
    set(header "${yaml_output}")
  elseif(OUTPUT_DIR)
    set(header "${OUTPUT_DIR}/${header_name}")
  else()
    set(header "${CMAKE_BINARY_DIR}/microml/${model}/${header_name}")
  endif()
  get_filename_component(header_dir "${header}" DIRECTORY)

  # One custom command per output file, whichever target asks first.
  string(MD5 hkey "${header}")
  get_property(known GLOBAL PROPERTY "_MICROML_OUTPUT_${hkey}")
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
      string(SUBSTRING "${hkey}" 0 8 short)
      set(gen_target "microml_${model}_${short}")
    endif()
    set(state_dir "${CMAKE_CURRENT_BINARY_DIR}/CMakeFiles/${gen_target}.dir")

    set(command "${python}" -m microml_build build "${yaml}" --output "${header}")
    if(VERBOSE)
      list(APPEND command -v)
    endif()
    _microml_use_ninja(ninja)
    if(ninja)
      if(IN_SOURCE)
        set(depfile "${state_dir}/${header_name}.d")   # keep build state out of the source tree
      else()
        set(depfile "${header}.d")
      endif()
      set(outputs OUTPUT "${header}")
      set(depends ${named} "${generator_init}")
      list(APPEND command --depfile "${depfile}")
      set(extra DEPFILE "${depfile}")
    else()
      set(stamp "${state_dir}/${header_name}.stamp")
      file(MAKE_DIRECTORY "${header_dir}")
      set(outputs OUTPUT "${stamp}" BYPRODUCTS "${header}")
      set(depends ${inputs} "${header_dir}" "${generator_init}")
      list(APPEND command --touch "${stamp}")
      set(extra "")
      get_property(script GLOBAL PROPERTY "_MICROML_DESC_${key}_SCRIPT")
      set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${script} ${modules})
    endif()
    list(REMOVE_DUPLICATES depends)

    file(RELATIVE_PATH yaml_rel "${CMAKE_SOURCE_DIR}" "${yaml}")
    add_custom_command(
      ${outputs}
      COMMAND ${command}
      DEPENDS ${depends}
      ${extra}
      WORKING_DIRECTORY "${yaml_dir}"
      COMMENT "MicroML: generating ${header_name} from ${yaml_rel}"
      VERBATIM)
    if(ninja)
      add_custom_target("${gen_target}" DEPENDS "${header}")
    else()
      add_custom_target("${gen_target}" DEPENDS "${stamp}")
    endif()
    set_property(GLOBAL PROPERTY "_MICROML_OUTPUT_${hkey}" "${yaml};${gen_target}")
  endif()

  target_include_directories("${target}" ${SCOPE} "${header_dir}")
  add_dependencies("${target}" "${gen_target}")
  set_property(GLOBAL PROPERTY "_MICROML_REQ_${i}_HEADER" "${header}")
  set_property(GLOBAL PROPERTY "_MICROML_REQ_${i}_GEN_TARGET" "${gen_target}")
endfunction()

# Describes and applies every request recorded since the last call: at the end
# of the top-level directory, or at once for a call that needs its results.
function(_microml_resolve_pending)
  get_property(count GLOBAL PROPERTY _MICROML_REQUESTS)
  get_property(done GLOBAL PROPERTY _MICROML_APPLIED)
  if(NOT count OR NOT done LESS count)
    return()
  endif()
  math(EXPR last "${count} - 1")
  _microml_describe_pending(${done} ${last})
  set_property(GLOBAL PROPERTY _MICROML_APPLIED ${count})
  foreach(i RANGE ${done} ${last})
    _microml_apply(${i})
  endforeach()
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

  _microml_host_path("${ARG_CONFIG}" config)
  get_filename_component(yaml "${config}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  if(NOT EXISTS "${yaml}" OR IS_DIRECTORY "${yaml}")
    message(FATAL_ERROR "microml_add_model(${target}): CONFIG file not found: ${yaml}")
  endif()
  set(out_dir "")
  if(ARG_OUTPUT_DIR)
    _microml_host_path("${ARG_OUTPUT_DIR}" out_dir)
    get_filename_component(out_dir "${out_dir}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_BINARY_DIR}")
  endif()
  _microml_find_python("${ARG_PYTHON}" python)

  # Edits of the yaml may rename the header or point at other inputs:
  # re-run CMake on them.
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${yaml}")

  get_property(i GLOBAL PROPERTY _MICROML_REQUESTS)
  if(NOT i)
    set(i 0)
    set_property(GLOBAL PROPERTY _MICROML_APPLIED 0)
  endif()
  math(EXPR next "${i} + 1")
  set_property(GLOBAL PROPERTY _MICROML_REQUESTS ${next})
  set_property(GLOBAL PROPERTY "_MICROML_REQ_${i}_TARGET" "${target}")
  set_property(GLOBAL PROPERTY "_MICROML_REQ_${i}_YAML" "${yaml}")
  set_property(GLOBAL PROPERTY "_MICROML_REQ_${i}_PYTHON" "${python}")
  set_property(GLOBAL PROPERTY "_MICROML_REQ_${i}_OUTPUT_DIR" "${out_dir}")
  set_property(GLOBAL PROPERTY "_MICROML_REQ_${i}_IN_SOURCE" "${ARG_IN_SOURCE}")
  set_property(GLOBAL PROPERTY "_MICROML_REQ_${i}_VERBOSE" "${ARG_VERBOSE}")
  set_property(GLOBAL PROPERTY "_MICROML_REQ_${i}_SCOPE" "${scope}")

  if(ARG_OUT_HEADER OR ARG_OUT_TARGET)
    _microml_resolve_pending()
    get_property(header GLOBAL PROPERTY "_MICROML_REQ_${i}_HEADER")
    get_property(gen_target GLOBAL PROPERTY "_MICROML_REQ_${i}_GEN_TARGET")
    if(ARG_OUT_HEADER)
      set(${ARG_OUT_HEADER} "${header}" PARENT_SCOPE)
    endif()
    if(ARG_OUT_TARGET)
      set(${ARG_OUT_TARGET} "${gen_target}" PARENT_SCOPE)
    endif()
  else()
    get_property(deferred GLOBAL PROPERTY _MICROML_DEFERRED)
    if(NOT deferred)
      set_property(GLOBAL PROPERTY _MICROML_DEFERRED TRUE)
      cmake_language(DEFER DIRECTORY "${CMAKE_SOURCE_DIR}" CALL _microml_resolve_pending)
    endif()
  endif()
endfunction()
