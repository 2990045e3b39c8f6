# Warnings live in an INTERFACE target linked PRIVATE, so consumers of the installed library
# never inherit our flags.
add_library(procspec_warnings INTERFACE)
target_compile_options(procspec_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wold-style-cast
  $<$<BOOL:${PROCSPEC_WERROR}>:-Werror>)
