"""WORKSPACE setup for users of @mlf_build (Bazel 4.2.3 and later, WORKSPACE mode).

    local_repository(name = "mlf_build", path = "...")   # or http_archive / git_repository
    load("@mlf_build//bazel:repositories.bzl", "mlf_build_dependencies")
    mlf_build_dependencies()            # stubs = True for an offline Bazel 4 (see below)

and in .bazelrc

    build --incompatible_enable_cc_toolchain_resolution

mlf_build_dependencies(register_toolchains = True, stubs = False) defines:

  @mlf_python         a Python 3.10+ toolchain for the generator (a py_binary run in the exec
                      configuration; it needs only the standard library). The interpreter is, in
                      order: --repo_env=MLF_PYTHON=/path/to/python; the virtualenv
                      tools/bootstrap.sh creates in the mlf_build checkout (.venv/bin/python);
                      python3 on PATH. A missing or older interpreter is only warned about here
                      (the generator then fails), so that builds which do not generate still work.
  @mlf_arm_none_eabi  where the GNU Arm toolchain is: MLF_ARM_TOOLCHAIN_PREFIX (as for CMake's
                      cmake/toolchains/arm-none-eabi.cmake, e.g. /opt/gcc-arm/bin/arm-none-eabi-),
                      else arm-none-eabi-gcc on PATH, else /usr/bin/arm-none-eabi-; and the
                      compiler's built-in include folders.
  rules_cc, rules_java, rules_python, remote_coverage_tools
                      only with stubs = True: tiny local stubs (bazel/third_party) of the
                      repositories Bazel 4 would otherwise download, each unless the WORKSPACE
                      defined it before this call. Off by default: the stubs forward to Bazel's
                      native rules and make coverage a no-op, so a workspace that has (or later
                      defines) the real rule sets must not get them silently. mlf_build's own
                      WORKSPACE, examples/bazel and the tests, all offline, opt in.

and registers the Python toolchain and the arm-none-eabi C toolchains of
@mlf_build//bazel/toolchains (Cortex-M3 and Cortex-M4F, selected by --platforms=
@mlf_build//bazel/platforms:cortex_m3 or :cortex_m4f). Repository rules re-run when MLF_PYTHON,
MLF_ARM_TOOLCHAIN_PREFIX or PATH change, and on `bazel sync --configure` (after installing
another Python or toolchain in the same place).
"""

_STUBS = {
    "remote_coverage_tools": ["BUILD", "noop.sh"],
    "rules_cc": [
        "BUILD",
        "cc/BUILD",
        "cc/cc_binary.bzl",
        "cc/common/BUILD",
        "cc/common/cc_common.bzl",
        "cc/common/cc_info.bzl",
        "cc/defs.bzl",
        "cc/private/BUILD",
        "cc/private/native.bzl",
        "cc/toolchains/BUILD",
        "cc/toolchains/cc_toolchain.bzl",
    ],
    "rules_java": ["BUILD", "java/BUILD", "java/defs.bzl"],
    "rules_python": ["BUILD", "python/BUILD", "python/defs.bzl"],
}

def _stub_repository_impl(rctx):
    rctx.file("WORKSPACE", 'workspace(name = "%s")\n' % rctx.name)
    for src in rctx.attr.srcs:
        rel = src.name[len(rctx.attr.stub) + 1:-len(".stub")]
        rctx.file(rel, rctx.read(src), executable = rel.endswith(".sh"))

mlf_stub_repository = repository_rule(
    implementation = _stub_repository_impl,
    doc = "A repository made of the files bazel/third_party/<stub>/**/*.stub, without the .stub suffix.",
    attrs = {
        "stub": attr.string(mandatory = True),
        "srcs": attr.label_list(allow_files = True),
    },
)

_PY_PROBE = """
import os, sys
exe = os.path.join(os.path.realpath(os.path.dirname(sys.executable)), os.path.basename(sys.executable))
print(exe + "\\n" + "%d.%d" % sys.version_info[:2] + ("" if sys.version_info >= (3, 10) else " (too old)"))
"""

def _probe_python(rctx, python):
    res = rctx.execute([python, "-c", _PY_PROBE])
    if res.return_code != 0:
        return None
    lines = res.stdout.strip().split("\n")
    version = lines[1] if len(lines) > 1 else "unknown"
    return struct(exe = lines[0], version = version, usable = not version.endswith("(too old)"))

def _python_configure_impl(rctx):
    candidates = []
    explicit = rctx.os.environ.get("MLF_PYTHON", "")
    if explicit:
        candidates.append(explicit)
    else:
        venv = rctx.path(Label("//:MODULE.bazel")).dirname.get_child(".venv").get_child("bin").get_child("python")
        if venv.exists:
            candidates.append(str(venv))
        found = rctx.which("python3")
        if found:
            candidates.append(str(found))
    chosen = None
    for python in candidates:
        probe = _probe_python(rctx, python)
        if probe and (probe.usable or explicit):
            chosen = probe
            break
        if probe and not chosen:
            chosen = probe
    if chosen == None:
        # buildifier: disable=print
        print("mlf_build: no Python 3 found (tried %s); mlf_library actions will fail. Set " % candidates +
              "--repo_env=MLF_PYTHON=/path/to/python (Python 3.10 or newer).")
        chosen = struct(exe = "/usr/bin/python3", version = "unknown", usable = False)
    elif not chosen.usable:
        # buildifier: disable=print
        print(("mlf_build: %s is Python %s, so mlf_library actions will fail. Use " % (chosen.exe, chosen.version)) +
              "--repo_env=MLF_PYTHON=/path/to/python (Python 3.10 or newer).")
    rctx.file("WORKSPACE", 'workspace(name = "%s")\n' % rctx.name)
    rctx.file("BUILD", """# Generated by mlf_python_configure (@mlf_build//bazel:repositories.bzl).
# Interpreter: {exe} (Python {version})
load("@bazel_tools//tools/python:toolchain.bzl", "py_runtime_pair")

package(default_visibility = ["//visibility:public"])

py_runtime(
    name = "py3_runtime",
    interpreter_path = "{exe}",
    python_version = "PY3",
    stub_shebang = "#!{exe}",
)

py_runtime_pair(
    name = "py_runtime_pair",
    py3_runtime = ":py3_runtime",
)

toolchain(
    name = "toolchain",
    toolchain = ":py_runtime_pair",
    toolchain_type = "@bazel_tools//tools/python:toolchain_type",
)
""".format(exe = chosen.exe, version = chosen.version))

mlf_python_configure = repository_rule(
    implementation = _python_configure_impl,
    environ = ["MLF_PYTHON", "PATH"],
    configure = True,
    doc = "A py_runtime + toolchain for a local Python 3.10+.",
)

def _include_dirs(rctx, gcc, extra):
    res = rctx.execute([gcc] + extra + ["-E", "-xc", "-v", "/dev/null"])
    dirs, inside = [], False
    for line in res.stderr.split("\n"):
        if line.startswith("#include <...> search starts here:"):
            inside = True
        elif line.startswith("End of search list."):
            inside = False
        elif inside and line.strip():
            dirs.append(line.strip())
    return dirs

def _arm_configure_impl(rctx):
    prefix = rctx.os.environ.get("MLF_ARM_TOOLCHAIN_PREFIX", "arm-none-eabi-")
    if "/" not in prefix:
        found = rctx.which(prefix + "gcc")
        prefix = (str(found.dirname) + "/" + prefix) if found else "/usr/bin/" + prefix
    gcc = rctx.path(prefix + "gcc")
    dirs, version = [], "not found"
    if gcc.exists:
        version = rctx.execute([gcc, "-dumpversion"]).stdout.strip()
        for extra in ([], ["--specs=nano.specs"]):
            for d in _include_dirs(rctx, gcc, extra):
                # Normalized as written (symlinks kept), and with symlinks resolved.
                for how in (["-s"], []):
                    p = rctx.execute(["realpath", "-m"] + how + [d]).stdout.strip()
                    if p and p not in dirs:
                        dirs.append(p)
    else:
        # Debian's gcc-arm-none-eabi + libnewlib-arm-none-eabi, for when it gets installed later.
        dirs = ["/usr/lib/gcc/arm-none-eabi", "/usr/lib/arm-none-eabi/include", "/usr/include/newlib"]
    rctx.file("WORKSPACE", 'workspace(name = "%s")\n' % rctx.name)
    rctx.file("BUILD", "exports_files(['config.bzl'])\n")
    rctx.file("config.bzl", """# Generated by mlf_arm_none_eabi_configure (@mlf_build//bazel:repositories.bzl).
ARM_NONE_EABI_PREFIX = {prefix}
ARM_NONE_EABI_VERSION = {version}
ARM_NONE_EABI_INCLUDE_DIRS = {dirs}
""".format(prefix = repr(prefix), version = repr(version), dirs = repr(dirs)))

mlf_arm_none_eabi_configure = repository_rule(
    implementation = _arm_configure_impl,
    environ = ["MLF_ARM_TOOLCHAIN_PREFIX", "PATH"],
    configure = True,
    doc = "Finds the GNU Arm toolchain (arm-none-eabi-gcc) and its built-in include folders.",
)

# buildifier: disable=unnamed-macro
def mlf_build_dependencies(register_toolchains = True, stubs = False):
    """Defines @mlf_python, @mlf_arm_none_eabi and the stubs; registers mlf_build's toolchains.

    Args:
      register_toolchains: register the Python toolchain and the arm-none-eabi toolchains.
      stubs: define the stub repositories of rules_cc, rules_java, rules_python and
        remote_coverage_tools (each only if the WORKSPACE has not defined it), for offline Bazel 4
        workspaces without the real ones.
    """
    if stubs:
        for stub, files in _STUBS.items():
            if not native.existing_rule(stub):
                mlf_stub_repository(
                    name = stub,
                    stub = stub,
                    srcs = [Label("//bazel/third_party:%s/%s.stub" % (stub, f)) for f in files],
                )
    if not native.existing_rule("mlf_python"):
        mlf_python_configure(name = "mlf_python")
    if not native.existing_rule("mlf_arm_none_eabi"):
        mlf_arm_none_eabi_configure(name = "mlf_arm_none_eabi")
    if register_toolchains:
        native.register_toolchains(
            "@mlf_python//:toolchain",
            str(Label("//bazel/toolchains:all")),
        )
