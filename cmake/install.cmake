include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS procspec EXPORT procspecTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY reference/include/procspec DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT procspecTargets NAMESPACE procspec::
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/procspec)

configure_package_config_file(cmake/procspecConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/procspecConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/procspec)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/procspecConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/procspecConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/procspecConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/procspec)

configure_file(cmake/procspec.pc.in ${CMAKE_CURRENT_BINARY_DIR}/procspec.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/procspec.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
