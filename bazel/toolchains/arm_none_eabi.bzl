"""C toolchains for bare-metal Arm Cortex-M with the GNU Arm toolchain (arm-none-eabi-gcc).

The Bazel counterpart of cmake/toolchains/arm-none-eabi.cmake: the CPU flags (-mcpu, -mthumb,
-mfpu, -mfloat-abi) on every compile and link, -ffunction-sections -fdata-sections so that
--gc-sections can drop unused model code, and no board support (startup code, linker script,
--specs=rdimon.specs come with the firmware, e.g. @mlf_build//bazel/qemu:support).

Where the tools are comes from @mlf_arm_none_eabi (bazel/repositories.bzl:
MLF_ARM_TOOLCHAIN_PREFIX, PATH, /usr/bin). Features (on by default unless noted):
  mcu               the CPU flags of the toolchain
  default_compile_flags  -Os -ffunction-sections -fdata-sections (-c dbg: -Og -g; -c opt: -DNDEBUG)
  newlib_nano       --specs=nano.specs on compile and link (newlib-nano, as cmake/qemu does);
                    turn off with --features=-newlib_nano for full newlib
  unfiltered_compile_flags  reproducible builds: no __DATE__/__TIME__, relative paths

arm_none_eabi_toolchain(name, cpu_flags, target_compatible_with) declares one toolchain; the
Cortex-M3 and Cortex-M4F ones are in bazel/toolchains/BUILD.bazel, use the macro for other CPUs.
"""

load("@bazel_tools//tools/build_defs/cc:action_names.bzl", "ACTION_NAMES")
load(
    "@bazel_tools//tools/cpp:cc_toolchain_config_lib.bzl",
    "feature",
    "flag_group",
    "flag_set",
    "tool_path",
    "with_feature_set",
)
load(
    "@mlf_arm_none_eabi//:config.bzl",
    "ARM_NONE_EABI_INCLUDE_DIRS",
    "ARM_NONE_EABI_PREFIX",
    "ARM_NONE_EABI_VERSION",
)
load("@rules_cc//cc/common:cc_common.bzl", "cc_common")
load("@rules_cc//cc/toolchains:cc_toolchain.bzl", "cc_toolchain")

_COMPILE = [
    ACTION_NAMES.assemble,
    ACTION_NAMES.preprocess_assemble,
    ACTION_NAMES.c_compile,
    ACTION_NAMES.cpp_compile,
    ACTION_NAMES.cpp_header_parsing,
    ACTION_NAMES.cpp_module_compile,
    ACTION_NAMES.linkstamp_compile,
]
_LINK = [
    ACTION_NAMES.cpp_link_executable,
    ACTION_NAMES.cpp_link_dynamic_library,
    ACTION_NAMES.cpp_link_nodeps_dynamic_library,
]

def _flags(actions, flags, features = None):
    return flag_set(
        actions = actions,
        flag_groups = [flag_group(flags = flags)],
        with_features = [with_feature_set(features = features)] if features else [],
    )

def _config_impl(ctx):
    tools = ["gcc", "ld", "ar", "cpp", "nm", "objdump", "objcopy", "strip"]
    tool_paths = [tool_path(name = t, path = ARM_NONE_EABI_PREFIX + t) for t in tools]
    tool_paths += [tool_path(name = "gcov", path = "/bin/false"), tool_path(name = "dwp", path = "/bin/false")]
    features = [
        feature(name = "dbg"),
        feature(name = "opt"),
        feature(name = "fastbuild"),
        feature(
            name = "mcu",
            enabled = True,
            flag_sets = [_flags(_COMPILE + _LINK, ctx.attr.cpu_flags)],
        ),
        feature(
            name = "default_compile_flags",
            enabled = True,
            flag_sets = [
                _flags(_COMPILE, ["-Os", "-ffunction-sections", "-fdata-sections"]),
                _flags(_COMPILE, ["-Og", "-g"], ["dbg"]),
                _flags(_COMPILE, ["-DNDEBUG"], ["opt"]),
            ],
        ),
        feature(
            name = "newlib_nano",
            enabled = True,
            flag_sets = [_flags(_COMPILE + _LINK, ["--specs=nano.specs"])],
        ),
        feature(
            name = "unfiltered_compile_flags",
            enabled = True,
            flag_sets = [_flags(_COMPILE, [
                "-no-canonical-prefixes",
                "-fno-canonical-system-headers",
                "-Wno-builtin-macro-redefined",
                "-D__DATE__=\"redacted\"",
                "-D__TIMESTAMP__=\"redacted\"",
                "-D__TIME__=\"redacted\"",
            ])],
        ),
    ]
    return cc_common.create_cc_toolchain_config_info(
        ctx = ctx,
        features = features,
        toolchain_identifier = "arm-none-eabi-" + ctx.attr.cpu,
        host_system_name = "local",
        target_system_name = "arm-none-eabi",
        target_cpu = ctx.attr.cpu,
        target_libc = "newlib",
        compiler = "gcc",
        abi_version = "eabi",
        abi_libc_version = "newlib",
        tool_paths = tool_paths,
        cxx_builtin_include_directories = ARM_NONE_EABI_INCLUDE_DIRS,
    )

arm_none_eabi_config = rule(
    implementation = _config_impl,
    doc = "CcToolchainConfigInfo for arm-none-eabi-gcc " + ARM_NONE_EABI_VERSION + ".",
    attrs = {
        "cpu": attr.string(mandatory = True, doc = "name of the CPU (the toolchain's target_cpu)"),
        "cpu_flags": attr.string_list(mandatory = True, doc = "-mcpu=... -mthumb [-mfpu=...] -mfloat-abi=..."),
    },
)

def arm_none_eabi_toolchain(name, cpu_flags, target_compatible_with, visibility = None):
    """A cc toolchain for one Cortex-M CPU, registered as toolchain `name`.

    Args:
      name: the toolchain() target (register it with register_toolchains()).
      cpu_flags: CPU flags for every compile and link, as in cmake/toolchains/arm-none-eabi.cmake.
      target_compatible_with: constraints of the platforms it builds for (cpu:arm, os:none and a
        value of @mlf_build//bazel/platforms:mcu, or your own).
      visibility: of the generated targets.
    """
    arm_none_eabi_config(name = name + "_config", cpu = name, cpu_flags = cpu_flags)
    empty = Label("//bazel/toolchains:empty")
    cc_toolchain(
        name = name + "_cc_toolchain",
        all_files = empty,
        ar_files = empty,
        as_files = empty,
        compiler_files = empty,
        dwp_files = empty,
        linker_files = empty,
        objcopy_files = empty,
        strip_files = empty,
        supports_param_files = 1,
        toolchain_config = ":" + name + "_config",
        visibility = visibility,
    )
    native.toolchain(
        name = name,
        exec_compatible_with = ["@platforms//os:linux"],
        target_compatible_with = target_compatible_with,
        toolchain = ":" + name + "_cc_toolchain",
        toolchain_type = "@bazel_tools//tools/cpp:toolchain_type",
        visibility = visibility,
    )
