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
  `python3` on PATH and PlatformIO's own Python that can `import microml_build`. It never
  installs anything; with no match the build stops and says what to install where;
- learns each yaml's inputs from `python -m microml_build deps` (PlatformIO's Python has no
  PyYAML) and caches them in a Make-style depfile in `$BUILD_DIR/microml/`, which
  `python -m microml_build build --depfile` keeps current;
- registers `env.Command(header, [yaml, dataset, script], build)`, so SCons's content-hash
  decider reruns the generator only when an input changed;
- puts the header's folder on CPPPATH (the include scanner then orders generation before the
  compiles that include it, also with -j) and adds a build middleware making every project
  source depend on the header, for includes the scanner cannot follow (`#include MACRO`).

A failing generator stops `pio run` with its message. The header is `Precious` (SCons does not
delete it first) and written atomically by the generator, so the last good header stays. It is
a source file: `NoClean`, and `pio run -t clean` keeps it.

Also usable from `lib_deps` through platformio_hook/library.json (see README.md there).
Canonical copy: `platformio_hook/microml_pio.py` in the MicroML repository, shipped inside the
`microml_build` package, from where `init_platformio` copies it. Do not edit the copies.
"""

import hashlib
import os
import shutil
import subprocess
import sys

PREFIX = "[microml] "
PACKAGE = "microml_build"
PIP_NAME = "microml-build"
DEFAULT_CONFIG = "microml.yaml"

# Run in each candidate interpreter: success means it can generate headers.
CHECK_CODE = "import sys, microml_build; sys.stdout.write(getattr(microml_build, '__version__', '?'))"

# The `deps` subcommand lists inputs only; the header path comes from the yaml's `output:`
# (required, relative to the yaml). PyYAML is a dependency of microml_build, so any interpreter
# that passed CHECK_CODE has it.
OUTPUT_CODE = """\
import pathlib, sys, yaml
path = pathlib.Path(sys.argv[1]).absolute()
data = yaml.safe_load(path.read_text(encoding="utf-8"))
output = data.get("output") if isinstance(data, dict) else None
if not isinstance(output, str) or not output.strip():
    sys.exit("%s: key 'output' is missing\\n  fix: add `output: include/model.h`" % path.name)
sys.stdout.write(str((path.parent / output.strip()).resolve()))
"""

CHECK_TIMEOUT = 60
DEPS_TIMEOUT = 300


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


def config_paths(env, project_dir):
    """Absolute yaml paths from `custom_microml_config` (default microml.yaml), in order."""
    raw = project_option(env, "custom_microml_config", None)
    names = split_option(raw) or [DEFAULT_CONFIG]
    paths = []
    for name in names:
        path = os.path.normpath(os.path.join(project_dir, os.path.expanduser(name)))
        if not os.path.isfile(path):
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
    value = os.path.expanduser(value.strip())
    if os.sep in value or (os.altsep and os.altsep in value):
        return os.path.normpath(os.path.join(project_dir, value))
    return shutil.which(value) or value


def interpreter_candidates(env, project_dir):
    """(label, executable or None, why it is missing) in discovery order."""
    option = project_option(env, "custom_microml_python", None)
    yield ("custom_microml_python",
           _resolve_executable(option, project_dir) if option else None, "not set")
    from_env = os.environ.get("MICROML_PYTHON", "").strip()
    yield ("MICROML_PYTHON", _resolve_executable(from_env, project_dir) if from_env else None, "not set")
    yield ("python3 on PATH", shutil.which("python3"), "no python3 on PATH")
    pio_python = env.subst("$PYTHONEXE") if "PYTHONEXE" in env else ""
    yield ("PlatformIO's Python", pio_python or sys.executable, "unknown")


def _child_env():
    """The generator's environment: ours, with UTF-8 pipes (paths may be non-ASCII)."""
    env = dict(os.environ)
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def check_interpreter(executable, cwd):
    """(version, None) if `executable` can import microml_build, else (None, reason)."""
    if not os.path.isfile(executable):
        return None, "not found"
    try:
        done = subprocess.run([executable, "-c", CHECK_CODE], cwd=cwd, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_child_env(),
                              encoding="utf-8", errors="replace", timeout=CHECK_TIMEOUT)
    except OSError as exc:
        return None, "cannot run it (%s)" % exc.strerror
    except subprocess.TimeoutExpired:
        return None, "no answer within %d s" % CHECK_TIMEOUT
    if done.returncode == 0:
        return done.stdout.strip() or "?", None
    lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
    return None, lines[-1] if lines else "exit code %d" % done.returncode


def find_interpreter(env, project_dir):
    """(executable, microml_build version) of the first candidate that works, else HookError."""
    tried = []
    seen = set()
    for label, executable, missing in interpreter_candidates(env, project_dir):
        if not executable:
            tried.append((label, None, missing))
            continue
        key = os.path.normcase(os.path.abspath(executable))
        if key in seen:
            tried.append((label, executable, "same as above"))
            continue
        seen.add(key)
        version, reason = check_interpreter(executable, project_dir)
        if version:
            for skipped_label, skipped, why in tried:
                if skipped and skipped_label in ("custom_microml_python", "MICROML_PYTHON"):
                    log("warning: %s = %s cannot import %s (%s); using %s"
                        % (skipped_label, skipped, PACKAGE, why, executable), sys.stderr)
            return executable, version
        tried.append((label, executable, reason))
    raise HookError(no_interpreter_message(tried, env.subst("$PIOENV")))


def no_interpreter_message(tried, pioenv):
    lines = ["error: no Python interpreter can import %s, which generates the model headers." % PACKAGE,
             "Tried, in this order:"]
    for label, executable, reason in tried:
        lines.append("  %-22s %s" % (label + ":", "%s (%s)" % (executable, reason) if executable else reason))
    existing = [exe for _, exe, reason in tried if exe and reason not in ("not found", "same as above")]
    target = existing[0] if existing else "python3"
    lines += [
        "fix: install it into a Python that has (or may get) scikit-learn:",
        '       "%s" -m pip install %s' % (target, PIP_NAME),
        "     or point the build at an interpreter that already has it, in [env:%s] of platformio.ini:" % pioenv,
        "       custom_microml_python = /path/to/python",
        "     or in the environment: MICROML_PYTHON=/path/to/python",
        "     (the build never installs packages itself)",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Make-style depfiles, "<output>: <yaml> <dataset> <script>", escaped as microml_build writes them
# (microml_build/stamp.py write_depfile): "\\" -> "\\\\", " " -> "\\ ", "#" -> "\\#", "$" -> "$$".


def escape_make(path):
    return path.replace("\\", "\\\\").replace(" ", "\\ ").replace("#", "\\#").replace("$", "$$")


def split_make_words(text):
    """Unescaped words of a Make rule; backslash-newline continues the line."""
    text = text.replace("\\\r\n", " ").replace("\\\n", " ")
    words, word, index = [], [], 0
    while index < len(text):
        pair = text[index:index + 2]
        if pair in ("\\\\", "\\ ", "\\#", "$$"):
            word.append(pair[1])
            index += 2
            continue
        char = text[index]
        if char.isspace():
            if word:
                words.append("".join(word))
                word = []
        else:
            word.append(char)
        index += 1
    if word:
        words.append("".join(word))
    return words


def parse_depfile(text):
    """(output, [inputs]) of the first rule, or None if there is none."""
    words = split_make_words(text)
    for index, word in enumerate(words):
        if word.endswith(":"):  # "C:\\x" on Windows has its colon inside the word, not at the end
            targets = [item for item in words[:index] + [word[:-1]] if item]
            return (targets[0], words[index + 1:]) if targets else None
    return None


def write_depfile(path, output, inputs):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write("%s: %s\n" % (escape_make(output), " ".join(escape_make(p) for p in inputs)))
    os.replace(tmp, path)


def depfile_path(build_dir, config):
    stem = os.path.splitext(os.path.basename(config))[0]
    digest = hashlib.sha1(os.path.normcase(config).encode("utf-8")).hexdigest()[:8]
    return os.path.join(build_dir, "microml", "%s-%s.d" % (stem, digest))


def read_fresh_depfile(path, config):
    """The cached (output, inputs) if the depfile is newer than the yaml and still true."""
    try:
        if os.path.getmtime(path) < os.path.getmtime(config):
            return None
        with open(path, encoding="utf-8") as handle:
            parsed = parse_depfile(handle.read())
    except (OSError, UnicodeDecodeError):
        return None
    if not parsed:
        return None
    output, inputs = parsed
    same = os.path.normcase(os.path.abspath(config))
    if not inputs or same not in [os.path.normcase(os.path.abspath(p)) for p in inputs]:
        return None
    if not all(os.path.isfile(p) for p in inputs):
        return None
    return output, inputs


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


def resolve_config(python, config, depfile, cwd):
    """(header, inputs) of one yaml: from a fresh depfile, else from the generator (then cached)."""
    cached = read_fresh_depfile(depfile, config)
    if cached:
        return cached
    listed = _run([python, "-m", PACKAGE, "deps", config], cwd, "`%s deps`" % PACKAGE)
    inputs = [line.rstrip("\r\n") for line in listed.splitlines() if line.strip()]
    if not inputs:
        inputs = [config]
    output = _run([python, "-c", OUTPUT_CODE, config], cwd, "reading output: of %s" % config).strip()
    write_depfile(depfile, output, inputs)
    return output, inputs


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
    args = [env["MICROML_PYTHON"], "-m", PACKAGE, "build", env["MICROML_CONFIG"],
            "--depfile", env["MICROML_DEPFILE"]]
    if env.get("MICROML_BOARD"):
        args += ["--board", env["MICROML_BOARD"]]
    if env.get("MICROML_VERBOSE"):
        args.append("-v")
    return args


def generate_header(target, source, env):
    """SCons action: run `microml_build build`; its exit code fails the build, its stderr says why."""
    created = not os.path.exists(target[0].get_abspath())
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
    return os.path.join(env.subst("$PROJECT_BUILD_DIR"), "project.checksum")


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
    try:
        rel = os.path.relpath(path, start)
    except ValueError:  # another drive on Windows
        return path
    return path if rel.startswith("..") else rel.replace(os.sep, "/")


def _inside(path, folder):
    if not folder:
        return False
    folder = os.path.normcase(os.path.abspath(folder))
    path = os.path.normcase(os.path.abspath(path))
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


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
    build_dir = env.subst("$BUILD_DIR")
    configs = config_paths(env, project_dir)
    python, version = find_interpreter(env, project_dir)
    verbose = _verbose()
    if verbose:
        log("Using %s (%s %s)" % (python, PACKAGE, version))

    headers = []
    owners = {}
    for config in configs:
        depfile = depfile_path(build_dir, config)
        output, inputs = resolve_config(python, config, depfile, project_dir)
        key = os.path.normcase(output)
        if key in owners:
            raise HookError("error: %s and %s both write %s\nfix: give each yaml its own output:"
                            % (owners[key], config, output))
        owners[key] = config
        action = env.Action(generate_header, describe_action, varlist=["MICROML_VERSION", "MICROML_BOARD"])
        node = env.Command(
            env.File(output), [env.File(path) for path in inputs], action,
            MICROML_PYTHON=python, MICROML_VERSION=version, MICROML_CONFIG=config,
            MICROML_DEPFILE=depfile, MICROML_CWD=project_dir, MICROML_VERBOSE=verbose,
            MICROML_BOARD=project_option(env, "custom_microml_board", "") or "",
            MICROML_SHOWN=_relative(output, project_dir),
            MICROML_CONFIG_SHOWN=_relative(config, project_dir))
        env.Precious(node)   # SCons would delete the old header before running the generator
        env.NoClean(node)    # a source-tree file, not a build product
        env.NoCache(node)    # the generator decides freshness (its stamp includes its version)
        env.AppendUnique(CPPPATH=[os.path.dirname(output)])
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
