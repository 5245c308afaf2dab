# Install rules (SHMIO_INSTALL, on when shmio is the top-level project): the public headers, the
# libraries with a CMake package (find_package(shmio) -> shmio::shm, shmio::engineio,
# shmio::socketio, shmio::cluster, shmio::app), a pkg-config file (shmio.pc), and the tools.
include(CMakePackageConfigHelpers)

set(_shmio_libs shmio_shm shmio_engineio shmio_socketio shmio_cluster shmio_app)
set(_shmio_include_dirs shm/include/shmio server/engineio/include/shmio
    server/socketio/include/shmio server/cluster/include/shmio server/app/include/shmio)
if(SHMIO_WITH_HIREDIS)  # the fleet bridge (shmio::redis), linked by shmio::app
  list(APPEND _shmio_libs shmio_redis)
  list(APPEND _shmio_include_dirs server/redis/include/shmio)
endif()
# A shared build (-DBUILD_SHARED_LIBS=ON): the installed libraries and tools find shmio's own
# libraries where they are installed, wherever the tree is moved (CMake takes the build tree's
# RPATH out at install: the tools did not start without LD_LIBRARY_PATH).
if(BUILD_SHARED_LIBS)
  set_target_properties(${_shmio_libs} PROPERTIES INSTALL_RPATH "$ORIGIN")
endif()
install(TARGETS ${_shmio_libs}
        EXPORT shmioTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
foreach(dir ${_shmio_include_dirs})
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${dir}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/shmio
          FILES_MATCHING PATTERN "*.hpp")
endforeach()

set(SHMIO_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/shmio)
install(EXPORT shmioTargets NAMESPACE shmio:: DESTINATION ${SHMIO_CMAKE_DIR})
# (Exactly the Boost found, when its version is known: a Boost of a superproject's may say none.)
if(Boost_VERSION)
  set(SHMIO_BOOST_REQUIREMENT "${Boost_VERSION} EXACT")
else()
  set(SHMIO_BOOST_REQUIREMENT "1.81.0")
endif()
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/shmioConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/shmioConfig.cmake
                              INSTALL_DESTINATION ${SHMIO_CMAKE_DIR})
# 0.x: a newer minor version may change the API, so only the same minor version matches.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/shmioConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/shmioConfig.cmake ${PROJECT_BINARY_DIR}/shmioConfigVersion.cmake
        DESTINATION ${SHMIO_CMAKE_DIR})

# pkg-config: every library (static: the linker takes what is used) and their dependencies.
if(SHMIO_WITH_LIBURING)
  set(SHMIO_PC_REQUIRES_PRIVATE "liburing")
  set(SHMIO_PC_URING "-luring")
else()
  set(SHMIO_PC_REQUIRES_PRIVATE "")
  set(SHMIO_PC_URING "")
endif()
if(SHMIO_WITH_HIREDIS)
  set(SHMIO_PC_REDIS "-lshmio_redis")
  set(SHMIO_PC_HIREDIS "-lhiredis")
  string(APPEND SHMIO_PC_REQUIRES_PRIVATE " hiredis")
else()
  set(SHMIO_PC_REDIS "")
  set(SHMIO_PC_HIREDIS "")
endif()
# Boost where the compiler does not look by itself (a Boost of one's own build, not the
# system's): its include and library directories in Cflags and Libs (before 2026-12-05 the file
# named neither, and a consumer of such a build failed to find <boost/...>).
set(SHMIO_PC_BOOST_CFLAGS "")
set(SHMIO_PC_BOOST_LIBS "")
get_target_property(_shmio_boost_inc Boost::headers INTERFACE_INCLUDE_DIRECTORIES)
foreach(_d IN LISTS _shmio_boost_inc)
  if(_d AND NOT _d IN_LIST CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES)
    string(APPEND SHMIO_PC_BOOST_CFLAGS " -I${_d}")
  endif()
endforeach()
foreach(_cfg IMPORTED_LOCATION_RELEASE IMPORTED_LOCATION_NOCONFIG IMPORTED_LOCATION)
  get_target_property(_shmio_boost_json Boost::json ${_cfg})
  if(_shmio_boost_json)
    get_filename_component(_d "${_shmio_boost_json}" DIRECTORY)
    if(NOT _d IN_LIST CMAKE_CXX_IMPLICIT_LINK_DIRECTORIES)
      set(SHMIO_PC_BOOST_LIBS "-L${_d} ")
    endif()
    break()
  endif()
endforeach()
# The prefix relative to the .pc file, so that the installed tree can move (cmake --install
# --prefix, a staging directory).
file(RELATIVE_PATH SHMIO_PC_UP /root/${CMAKE_INSTALL_LIBDIR}/pkgconfig /root)
configure_file(${PROJECT_SOURCE_DIR}/cmake/shmio.pc.in ${PROJECT_BINARY_DIR}/shmio.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/shmio.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

if(SHMIO_BUILD_TOOLS)
  if(BUILD_SHARED_LIBS)
    set_target_properties(shmio shmio-chat shmio-bench-app shmio-conformance shm-inspect shmio-emit
                          PROPERTIES INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}")
  endif()
  install(TARGETS shmio shmio-chat shmio-bench-app shmio-conformance shm-inspect shmio-emit
          RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  # The chat demo's page, and the socket.io-client bundle when scripts/setup.sh has fetched it.
  install(FILES ${PROJECT_SOURCE_DIR}/server/apps/chat/index.html
          DESTINATION ${CMAKE_INSTALL_DATADIR}/shmio/chat)
  # (The package's package.json and dist/: what serve_client reads, its version the ETag.)
  install(FILES ${PROJECT_SOURCE_DIR}/server/apps/chat/node_modules/socket.io-client/package.json
          DESTINATION ${CMAKE_INSTALL_DATADIR}/shmio/chat/node_modules/socket.io-client
          OPTIONAL)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/server/apps/chat/node_modules/socket.io-client/dist/
          DESTINATION ${CMAKE_INSTALL_DATADIR}/shmio/chat/node_modules/socket.io-client/dist
          OPTIONAL)
endif()
