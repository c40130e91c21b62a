# The content of each model as a build input: digest files that change exactly when a model's
# bytes do, whatever its time stamps say.
#
# Included by MLFLibrary.cmake for _mlf_model_digest() and _mlf_write_if_changed(), and run by
# the project's one mlf_check_models target before every build:
#
#   cmake -DMODELS=<list file> [-DREGENERATE=<binary dir> -DREGENERATE_SOURCE=<source dir>]
#         -P mlf_model_check.cmake
#
# The list file (written at configure time) gives, per library, the model, its two digest files,
# its output folder and its configure-time facts (<target>.info.cmake). When a model's digest
# changed (a model replaced by an older file with cp -p, mv of a download, tar x, rsync -a, or a
# re-pointed symlink), both digest files are rewritten; otherwise neither is touched, so a merely
# touched model runs nothing.
#
# - <t>.model-digest is a configure dependency of the project and a byproduct of mlf_check_models:
#   Ninja brings build.ninja up to date before it loads it, so it runs this check first and, when
#   a digest changed, re-runs CMake (the model may have other files and sizes), in the same
#   `ninja`. Nothing else depends on the target, so an unchanged model costs this one command.
# - <t>.model-digest.build is what the generation depends on (a plain file to Ninja, so that the
#   build proper does not run the check a second time).
# - Make checks configure dependencies before it runs anything, so with the Makefile generators
#   (REGENERATE) every model library depends on mlf_check_models, which re-runs that check itself
#   when a digest changed; the targets built afterwards read the regenerated makefiles.
# - A generated file deleted by hand removes <t>.stamp, so that Make (which cannot see a missing
#   byproduct) regenerates it.

include_guard(GLOBAL)

# SHA-256 of a model: of the file, or of an MLF folder's file names and contents. Symbolic links
# are followed, so a link re-pointed at another file gives that file's digest. A file name that a
# CMake list splits (one holding ';') is left out: the generator ignores such a file or refuses
# the model (mlf_build/validate.py), so it never changes what is generated.
function(_mlf_model_digest out model)
  if(IS_DIRECTORY "${model}")
    # The folder's own path is a glob pattern too: '[2]' in it would match '2' and the folder
    # would look empty (its digest constant, never rebuilt). Each of [ ] * ? becomes a
    # one-character class that matches itself.
    string(REGEX REPLACE "([][*?])" "[\\1]" pattern "${model}")
    file(GLOB_RECURSE files LIST_DIRECTORIES false RELATIVE "${model}" "${pattern}/*")
    list(SORT files)
    set(text "")
    foreach(f IN LISTS files)
      if(NOT EXISTS "${model}/${f}" OR IS_DIRECTORY "${model}/${f}")
        continue()
      endif()
      file(SHA256 "${model}/${f}" h)
      string(APPEND text "${h}  ${f}\n")
    endforeach()
    string(SHA256 digest "${text}")
    set(digest "dir:${digest}")
  else()
    file(SHA256 "${model}" digest)
  endif()
  set(${out} "${digest}" PARENT_SCOPE)
endfunction()

# Writes <file> with <content> unless it holds exactly that already (keeps its time stamp).
# file(CONFIGURE) would do the same but expands @VAR@ and ${VAR} in the content.
function(_mlf_write_if_changed file content)
  if(EXISTS "${file}")
    file(READ "${file}" old)
    if(old STREQUAL content)
      return()
    endif()
  endif()
  file(WRITE "${file}" "${content}")
endfunction()

# Both digest files of a library, rewritten unless both already hold <digest> (a run killed
# between the two writes leaves them different, and the next run writes both again); sets
# <changed> in the caller.
function(_mlf_update_digest changed digest_file digest)
  set(${changed} FALSE PARENT_SCOPE)
  set(same TRUE)
  foreach(f "${digest_file}" "${digest_file}.build")
    set(old "")
    if(EXISTS "${f}")
      file(READ "${f}" old)
    endif()
    if(NOT old STREQUAL "${digest}\n")
      set(same FALSE)
    endif()
  endforeach()
  if(same)
    return()
  endif()
  file(WRITE "${digest_file}" "${digest}\n")
  file(WRITE "${digest_file}.build" "${digest}\n")
  set(${changed} TRUE PARENT_SCOPE)
endfunction()

if(CMAKE_SCRIPT_MODE_FILE STREQUAL CMAKE_CURRENT_LIST_FILE)
  include("${MODELS}")  # sets MLF_CHECK_LIBRARIES and MLF_CHECK_<n>_{MODEL,DIGEST,OUT,INFO}
  set(any_changed FALSE)
  foreach(i IN LISTS MLF_CHECK_LIBRARIES)
    set(model "${MLF_CHECK_${i}_MODEL}")
    if(NOT EXISTS "${model}")
      message(FATAL_ERROR "mlf_build: the model ${model} does not exist (any more)")
    endif()
    _mlf_model_digest(digest "${model}")
    _mlf_update_digest(changed "${MLF_CHECK_${i}_DIGEST}" "${digest}")
    if(changed)
      set(any_changed TRUE)
    endif()
    if(EXISTS "${MLF_CHECK_${i}_INFO}")
      include("${MLF_CHECK_${i}_INFO}")
      foreach(f IN LISTS MLF_INFO_OUTPUTS)
        if(NOT EXISTS "${MLF_CHECK_${i}_OUT}/${f}")
          file(REMOVE "${MLF_CHECK_${i}_OUT}/${MLF_INFO_NAME}.stamp")
          break()
        endif()
      endforeach()
    endif()
  endforeach()
  if(any_changed AND REGENERATE)
    execute_process(
      COMMAND "${CMAKE_COMMAND}" -S "${REGENERATE_SOURCE}" -B "${REGENERATE}"
        --check-build-system CMakeFiles/Makefile.cmake 0
      WORKING_DIRECTORY "${REGENERATE}" RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "mlf_build: re-running CMake for the changed models failed")
    endif()
  endif()
endif()
