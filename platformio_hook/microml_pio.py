"""MicroML's PlatformIO hook: each model header is a real SCons target built from its microml.yaml.

In platformio.ini (`python -m microml_build.commands.init_platformio` writes the first two lines):

    [env:uno]
    extra_scripts = pre:microml_pio.py
    custom_microml_config = microml.yaml     ; several: one per line, or comma separated
    custom_microml_python = /path/to/python  ; optional: the interpreter, see below
    custom_microml_board = uno               ; optional: also check the model against this board

Once per environment, before anything compiles, and cheaply (PlatformIO also reads extra
scripts just for IDE metadata, where problems are only warnings):
- finds the Python to run the generator: the first of `custom_microml_python`, `$MICROML_PYTHON`,
  `python3` and `python` on PATH, the Windows launcher `py -3`, and PlatformIO's own Python that
  can `import microml_build`. It never installs anything; with no match the build stops and says
  what to install where;
- asks it once, `python -m microml_build deps --json <yaml>...`, for each yaml's header and inputs
  (the yaml, the dataset, the script, the project modules the training imports, `train.inputs`):
  the generator is the only reader of the yaml (PlatformIO's Python has no PyYAML anyway);
- registers `env.Command(header, inputs, build)`, so SCons's content-hash decider reruns the
  generator only when an input changed (and the generator keeps the header's bytes when the model
  did not change, so nothing recompiles);
- puts the header's folder on CPPPATH (the include scanner then orders generation before the
  compiles that include it, also with -j) and adds a build middleware making every project
  source depend on the header, for includes the scanner cannot follow (`#include MACRO`).

A failing generator stops `pio run` with its message. The header is `Precious` (SCons does not
delete it first) and written atomically by the generator, so the last good header stays. It is
a source file: `NoClean`, and `pio run -t clean` keeps it.

Paths are handled with os.path (Windows drive letters, backslashes, spaces) and commands are
argument lists, never shell strings. Also usable from `lib_deps` through
platformio_hook/library.json (see README.md there).
Canonical copy: `platformio_hook/microml_pio.py` in the MicroML repository, shipped inside the
`microml_build` package, from where `init_platformio` copies it. Do not edit the copies.
"""

import json
import os
import os.path as ospath  # one name, so tests can check Windows path handling with ntpath
import shutil
import subprocess
import sys

PREFIX = "[microml] "
PACKAGE = "microml_build"
PIP_NAME = "microml-build"
DEFAULT_CONFIG = "microml.yaml"

# Run in each candidate interpreter: success means it can generate headers. Prints the version and
# the interpreter's own path (what the `py -3` launcher stands for).
CHECK_CODE = ("import sys, microml_build; "
              "sys.stdout.write(getattr(microml_build, '__version__', '?') + '\\n' + sys.executable)")

CHECK_TIMEOUT = 60
DEPS_TIMEOUT = 120


class HookError(Exception):
    """A problem the user must fix; the message is printed as is, each line prefixed."""


def log(message, stream=None):
    stream = stream or sys.stdout
    for line in str(message).splitlines() or [""]:
        stream.write(PREFIX + line + "\n")
    stream.flush()


# ---------------------------------------------------------------------------------------------
# platformio.ini options


def split_option(raw):
    """Values of a list option: one per line and/or comma separated, blanks dropped."""
    if raw is None:
        return []
    if isinstance(raw, (list, tuple)):
        raw = "\n".join(str(item) for item in raw)
    items = []
    for line in str(raw).splitlines():
        items.extend(part.strip() for part in line.split(","))
    return [item for item in items if item]


def project_option(env, name, default=None):
    value = env.GetProjectOption(name, default)
    if isinstance(value, str):
        value = value.strip()
    return value if value not in ("", None) else default


def project_path(project_dir, name):
    """A path from platformio.ini: `~` expanded, relative to the project, normalised (`/` or `\\` on Windows)."""
    return ospath.normpath(ospath.join(project_dir, ospath.expanduser(name)))


def config_paths(env, project_dir):
    """Absolute yaml paths from `custom_microml_config` (default microml.yaml), in order."""
    raw = project_option(env, "custom_microml_config", None)
    names = split_option(raw) or [DEFAULT_CONFIG]
    paths = []
    for name in names:
        path = project_path(project_dir, name)
        if not ospath.isfile(path):
            where = "custom_microml_config = %s" % name if raw else "the default %s" % DEFAULT_CONFIG
            raise HookError(
                "%s: file not found (%s)\n"
                "fix: create it (python -m microml_build.commands.init_platformio writes a starter), or set\n"
                "     custom_microml_config = path/to/microml.yaml in [env:%s] of platformio.ini"
                % (where, path, env.subst("$PIOENV")))
        if path not in paths:
            paths.append(path)
    return paths


# ---------------------------------------------------------------------------------------------
# Interpreter discovery


def _resolve_executable(value, project_dir):
    """A configured interpreter: a path (relative to the project) or a command name on PATH."""
    value = value.strip()
    if ospath.sep in value or (ospath.altsep and ospath.altsep in value) or value.startswith("~"):
        return project_path(project_dir, value)
    return shutil.which(value) or value


def interpreter_candidates(env, project_dir):
    """(label, command or None, why it is missing) in discovery order. A command is a list: the
    Windows launcher needs `py -3`."""
    option = project_option(env, "custom_microml_python", None)
    yield ("custom_microml_python",
           [_resolve_executable(option, project_dir)] if option else None, "not set")
    from_env = os.environ.get("MICROML_PYTHON", "").strip()
    yield ("MICROML_PYTHON", [_resolve_executable(from_env, project_dir)] if from_env else None, "not set")
    for name in ("python3", "python"):            # Windows installs `python`, not `python3`
        found = shutil.which(name)
        yield ("%s on PATH" % name, [found] if found else None, "no %s on PATH" % name)
    launcher = shutil.which("py")                 # the Windows launcher; PEP 397
    yield ("py -3 (launcher)", [launcher, "-3"] if launcher else None, "no py launcher")
    pio_python = env.subst("$PYTHONEXE") if "PYTHONEXE" in env else ""
    yield ("PlatformIO's Python", [pio_python or sys.executable], "unknown")


def _child_env():
    """The generator's environment: ours, with UTF-8 pipes (paths may be non-ASCII)."""
    env = dict(os.environ)
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def check_interpreter(command, cwd):
    """(version, interpreter path, None) if `command` can import microml_build, else (None, None, reason)."""
    if not ospath.isfile(command[0]):
        return None, None, "not found"
    try:
        done = subprocess.run(command + ["-c", CHECK_CODE], cwd=cwd, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_child_env(),
                              encoding="utf-8", errors="replace", timeout=CHECK_TIMEOUT)
    except OSError as exc:
        return None, None, "cannot run it (%s)" % exc.strerror
    except subprocess.TimeoutExpired:
        return None, None, "no answer within %d s" % CHECK_TIMEOUT
    if done.returncode == 0:
        version, _, executable = done.stdout.strip().partition("\n")
        # A plain interpreter is used as named (a venv's python may be a symlink or wrapper);
        # the launcher is replaced by the interpreter it starts.
        return version.strip() or "?", command[0] if len(command) == 1 else executable.strip(), None
    lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
    return None, None, lines[-1] if lines else "exit code %d" % done.returncode


def find_interpreter(env, project_dir):
    """(executable, microml_build version) of the first candidate that works, else HookError."""
    tried = []
    seen = set()
    for label, command, missing in interpreter_candidates(env, project_dir):
        if not command:
            tried.append((label, None, missing))
            continue
        shown = " ".join(command)
        key = ospath.normcase(ospath.abspath(command[0])) + " ".join(command[1:])
        if key in seen:
            tried.append((label, shown, "same as above"))
            continue
        seen.add(key)
        version, executable, reason = check_interpreter(command, project_dir)
        if version:
            for skipped_label, skipped, why in tried:
                if skipped and skipped_label in ("custom_microml_python", "MICROML_PYTHON"):
                    log("warning: %s = %s cannot import %s (%s); using %s"
                        % (skipped_label, skipped, PACKAGE, why, executable), sys.stderr)
            return executable, version
        tried.append((label, shown, reason))
    raise HookError(no_interpreter_message(tried, env.subst("$PIOENV")))


def no_interpreter_message(tried, pioenv):
    lines = ["error: no Python interpreter can import %s, which generates the model headers." % PACKAGE,
             "Tried, in this order:"]
    for label, executable, reason in tried:
        lines.append("  %-22s %s" % (label + ":", "%s (%s)" % (executable, reason) if executable else reason))
    existing = [(label, exe) for label, exe, reason in tried if exe and reason not in ("not found", "same as above")]
    label, target = existing[0] if existing else ("", "python3")
    command = target if label.startswith("py -3") else '"%s"' % target
    lines += [
        "fix: install it into a Python that has (or may get) scikit-learn:",
        "       %s -m pip install %s" % (command, PIP_NAME),
        "     or point the build at an interpreter that already has it, in [env:%s] of platformio.ini:" % pioenv,
        "       custom_microml_python = /path/to/python",
        "     or in the environment: MICROML_PYTHON=/path/to/python",
        "     (the build never installs packages itself)",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Asking the generator


def _run(args, cwd, what):
    try:
        done = subprocess.run(args, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=_child_env(), encoding="utf-8",
                              errors="replace", timeout=DEPS_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise HookError("error: %s took more than %d s" % (what, DEPS_TIMEOUT)) from None
    except OSError as exc:
        raise HookError("error: cannot run %s: %s" % (args[0], exc.strerror)) from None
    if done.returncode != 0:
        message = done.stderr.strip() or done.stdout.strip() or "exit code %d" % done.returncode
        # The generator already prefixes its lines; keep them readable, not double-prefixed.
        message = "\n".join(line[len(PREFIX):] if line.startswith(PREFIX) else line
                            for line in message.splitlines())
        raise HookError(message)
    return done.stdout


def resolve_configs(python, configs, cwd):
    """{yaml: (header, inputs)} for every yaml, from one `microml_build deps --json` run."""
    listed = _run([python, "-m", PACKAGE, "deps", "--json"] + list(configs), cwd, "`%s deps`" % PACKAGE)
    try:
        described = json.loads(listed)["configs"]
    except (ValueError, KeyError, TypeError):
        raise HookError("error: `%s deps --json` printed no description of the yaml files:\n%s"
                        % (PACKAGE, listed.strip()[:2000])) from None
    resolved = {}
    for config, entry in zip(configs, described):
        inputs = [path for path in entry["inputs"]] or [config]
        resolved[config] = (entry["output"], inputs)
    return resolved


# ---------------------------------------------------------------------------------------------
# SCons wiring


def _verbose():
    try:
        from SCons.Script import ARGUMENTS  # pylint: disable=import-outside-toplevel
    except ImportError:
        return False
    return str(ARGUMENTS.get("PIOVERBOSE", "0")) == "1"


def build_command(env):
    """The generator's argument list for one header (an argument list: paths may hold spaces)."""
    args = [env["MICROML_PYTHON"], "-m", PACKAGE, "build", env["MICROML_CONFIG"]]
    if env.get("MICROML_BOARD"):
        args += ["--board", env["MICROML_BOARD"]]
    if env.get("MICROML_VERBOSE"):
        args.append("-v")
    return args


def generate_header(target, source, env):
    """SCons action: run `microml_build build`; its exit code fails the build, its stderr says why."""
    created = not ospath.exists(target[0].get_abspath())
    before = project_checksum(env) if created else None
    sys.stdout.flush()
    code = subprocess.call(build_command(env), cwd=env["MICROML_CWD"], stdin=subprocess.DEVNULL)
    if code != 0:
        log("error: generating %s failed (exit code %d); the previous header, if any, is unchanged"
            % (env["MICROML_SHOWN"], code), sys.stderr)
    elif created and before:
        refresh_project_checksum(env, before)
    return code


# PlatformIO deletes the whole build folder when the set of files in include/, src/ or lib/
# changes (platformio/run/helpers.py clean_build_dir, compared once per `pio run` before any
# build). A header that this build just created would therefore make the next, unchanged
# `pio run` rebuild everything. If nothing else changed since the run started, record the
# structure with the new header. If something did, leave it: PlatformIO cleans, as it would.

def _checksum_file(env):
    return ospath.join(env.subst("$PROJECT_BUILD_DIR"), "project.checksum")


def project_checksum(env):
    try:
        from platformio.project.helpers import compute_project_checksum  # pylint: disable=import-outside-toplevel
        return compute_project_checksum(env.GetProjectConfig())
    except Exception:  # pylint: disable=broad-except -- another PlatformIO: keep its behaviour
        return None


def refresh_project_checksum(env, before):
    path = _checksum_file(env)
    try:
        with open(path, encoding="utf8") as handle:
            if handle.read() != before:
                return
        after = project_checksum(env)
        if after:
            with open(path, "w", encoding="utf8") as handle:
                handle.write(after)
    except OSError:
        pass


def describe_action(target, source, env):
    return PREFIX + "Building %s from %s" % (env["MICROML_SHOWN"], env["MICROML_CONFIG_SHOWN"])


def _relative(path, start):
    """`path` for log lines: relative to the project with `/`, or as is outside it (or on another drive)."""
    try:
        rel = ospath.relpath(path, start)
    except ValueError:  # another drive on Windows
        return path
    return path if rel.startswith("..") else rel.replace(ospath.sep, "/")


def _inside(path, folder):
    if not folder:
        return False
    folder = ospath.normcase(ospath.normpath(folder))
    path = ospath.normcase(ospath.normpath(path))
    return path == folder or path.startswith(folder.rstrip(ospath.sep) + ospath.sep)


def make_middleware(headers, project_dir, excluded):
    """Build middleware: each project source compiles after, and is rebuilt with, the headers."""

    def depend_on_headers(env, node):
        source = node.srcnode().get_abspath()
        if not _inside(source, project_dir) or any(_inside(source, folder) for folder in excluded):
            return node  # frameworks and downloaded libraries cannot include a project's model
        objects = env.Object(node)
        env.Depends(objects, headers)
        return objects

    return depend_on_headers


def register(env):
    """Everything the hook does in one environment; HookError for problems the user must fix."""
    project_dir = env.subst("$PROJECT_DIR")
    configs = config_paths(env, project_dir)
    python, version = find_interpreter(env, project_dir)
    verbose = _verbose()
    if verbose:
        log("Using %s (%s %s)" % (python, PACKAGE, version))

    headers = []
    owners = {}
    resolved = resolve_configs(python, configs, project_dir)
    for config in configs:
        output, inputs = resolved[config]
        key = ospath.normcase(output)
        if key in owners:
            raise HookError("error: %s and %s both write %s\nfix: give each yaml its own output:"
                            % (owners[key], config, output))
        owners[key] = config
        action = env.Action(generate_header, describe_action, varlist=["MICROML_VERSION", "MICROML_BOARD"])
        node = env.Command(
            env.File(output), [env.File(path) for path in inputs], action,
            MICROML_PYTHON=python, MICROML_VERSION=version, MICROML_CONFIG=config,
            MICROML_CWD=project_dir, MICROML_VERBOSE=verbose,
            MICROML_BOARD=project_option(env, "custom_microml_board", "") or "",
            MICROML_SHOWN=_relative(output, project_dir),
            MICROML_CONFIG_SHOWN=_relative(config, project_dir))
        env.Precious(node)   # SCons would delete the old header before running the generator
        env.NoClean(node)    # a source-tree file, not a build product
        env.NoCache(node)    # the generator decides freshness (its stamp includes its version)
        env.AppendUnique(CPPPATH=[ospath.dirname(output)])
        headers.extend(node)
        if verbose:
            log("%s <- %s" % (_relative(output, project_dir),
                              ", ".join(_relative(path, project_dir) for path in inputs)))

    excluded = [env.subst(name) for name in ("$PROJECT_BUILD_DIR", "$PROJECT_LIBDEPS_DIR",
                                             "$PROJECT_PACKAGES_DIR", "$PROJECT_CORE_DIR")]
    env.AddBuildMiddleware(make_middleware(headers, project_dir, excluded))
    return headers


def _is(env, method):
    return hasattr(env, method) and bool(getattr(env, method)())


def main(env):
    if _is(env, "IsCleanTarget"):
        return  # `pio run -t clean` removes the build folder; the header stays
    dump_only = _is(env, "IsIntegrationDump")
    try:
        register(env)
    except HookError as exc:
        if dump_only:  # IDE metadata: warn, never break the IDE
            message = str(exc)
            log("warning: %s" % (message[len("error: "):] if message.startswith("error: ") else message),
                sys.stderr)
            return
        log(exc, sys.stderr)
        env.Exit(1)


try:
    Import("env")  # noqa: F821 -- SCons defines Import() in SConscript files
except NameError:  # imported or run as a plain module (tests, tools): define, do not register
    pass
else:
    main(env)  # noqa: F821
