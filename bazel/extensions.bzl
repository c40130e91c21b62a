"""Module extension for MODULE.bazel (Bazel 7+, Bzlmod; not tested here, see docs/bazel.md).

Creates the two configure-style repositories that WORKSPACE users get from
mlf_build_dependencies(): @mlf_python and @mlf_arm_none_eabi. rules_cc, rules_python and
platforms come from the Bazel Central Registry, so no stubs are needed.
"""

load(":repositories.bzl", "mlf_arm_none_eabi_configure", "mlf_python_configure")

def _mlf_build_impl(_module_ctx):
    mlf_python_configure(name = "mlf_python")
    mlf_arm_none_eabi_configure(name = "mlf_arm_none_eabi")

mlf_build = module_extension(
    implementation = _mlf_build_impl,
    doc = "Defines @mlf_python and @mlf_arm_none_eabi.",
)
